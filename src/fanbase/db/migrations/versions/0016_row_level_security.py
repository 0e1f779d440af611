"""Row-level security on PostgreSQL: a second line of tenant defence behind every query's workspace_id clause

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 14:00:00

A transaction opened for one workspace runs as the role ``fanbase_tenant`` with ``fanbase.workspace_id`` set to the
workspace (``SET LOCAL``, see fanbase.db.engine). Every table with a ``workspace_id`` (and ``workspaces`` itself, by
``id``) gets row-level security and a policy that lets that role read and write only the rows of the workspace set,
so a query that forgets its workspace clause sees one workspace, and with no workspace set, none. The role the app
connects as owns the tables and stays exempt: it runs the few transactions that are no one workspace's (finding an
API key's workspace, the scheduler's scan, creating a workspace).

``fanbase_tenant`` is a role of the whole server, shared by every database migrated here: created if missing (the
connecting role needs CREATEROLE once, or an administrator creates it: ``CREATE ROLE fanbase_tenant NOLOGIN`` and
``GRANT fanbase_tenant TO <app role>``), granted to the connecting role so it may ``SET ROLE`` to it, and given the
rights to read and write this schema's tables. Tables added later get those rights by default privileges; their
policies come with their own migrations (a test fails for a workspace table without one). Nothing on SQLite.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ROLE = "fanbase_tenant"
POLICY = "workspace_isolation"
SETTING = "fanbase.workspace_id"

# The tables with a workspace_id column at this revision.
WORKSPACE_TABLES = (
    "api_keys",
    "audit_log",
    "custom_fields",
    "events",
    "fan_erasures",
    "fan_latest_events",
    "fan_tags",
    "fans",
    "idempotency_keys",
    "imports",
    "list_members",
    "list_subscription_log",
    "lists",
    "orders",
    "scheduler_state",
    "segment_members",
    "segment_membership_log",
    "segment_size_changes",
    "segments",
    "suppressions",
    "tag_membership_log",
    "tags",
    "users",
    "web_sessions",
    "webhook_outbox",
    "webhook_subscriptions",
)

# The workspace set for the transaction; NULL (no row matches) when none is.
_WORKSPACE = f"nullif(current_setting('{SETTING}', true), '')::bigint"


def _create_role() -> None:
    # Concurrent migrations of two databases on one server may both try to create the role: the loser sees
    # duplicate_object or, racing on the catalogue's unique index, unique_violation.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                BEGIN
                    CREATE ROLE {ROLE} NOLOGIN;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;
                END;
            END IF;
            IF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
                EXECUTE format('GRANT {ROLE} TO %I', current_user);
            END IF;
        END
        $$
        """
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _create_role()
    op.execute(f"GRANT USAGE ON SCHEMA {_schema()} TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {_schema()} TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_schema()} TO {ROLE}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_schema()} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {ROLE}"
    )
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_schema()} GRANT USAGE, SELECT ON SEQUENCES TO {ROLE}")
    op.execute(f"REVOKE ALL ON alembic_version FROM {ROLE}")
    for table in WORKSPACE_TABLES:
        _isolate(table, "workspace_id")
    _isolate("workspaces", "id")


def _isolate(table: str, column: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON {table} TO {ROLE} USING ({column} = {_WORKSPACE})")


def _schema() -> str:
    schema = op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar_one()
    assert isinstance(schema, str)
    return schema


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in (*WORKSPACE_TABLES, "workspaces"):
        op.execute(f"DROP POLICY {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_schema()} REVOKE ALL ON TABLES FROM {ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_schema()} REVOKE ALL ON SEQUENCES FROM {ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {_schema()} FROM {ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {_schema()} FROM {ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA {_schema()} FROM {ROLE}")
