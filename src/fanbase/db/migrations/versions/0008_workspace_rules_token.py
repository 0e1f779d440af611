"""workspaces.rules_token: a new random value whenever what a workspace's rules are compiled against changes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 06:40:00

Every write evaluates the segments it can affect against the workspace's rule context: its segments' rules and
versions, the ids behind the tag, list and segment names rules use, and its custom fields. Loading that context
took 4 queries and ~5 ms of a one-event write (100,000 fans, 50 segments), so the write path keeps it per process
and reads only this token to know whether it still holds. Triggers give the token a new random value on every
insert and delete of segments, tags, lists and custom fields and on every update of what rules read of them, in the
transaction of the change, whoever writes it. Random rather than counted: a database recreated at the same address
(a restore, a test's throwaway) can never present a token a process has cached for other contents.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Table → the columns of it that a rule context reads (a change to any other column leaves the token alone).
WATCHED = {
    "segments": ("name", "name_key", "kind", "rule", "rule_version"),
    "tags": ("name", "name_key"),
    "lists": ("name", "name_key"),
    "custom_fields": ("name", "type", "choices"),
}
_POSTGRESQL_RANDOM = "floor(random() * 9007199254740991)::bigint"
_SQLITE_RANDOM = "random()"


def upgrade() -> None:
    # A constant default, then a random value for each workspace: SQLite cannot add a column with a volatile one.
    op.add_column("workspaces", sa.Column("rules_token", sa.BigInteger(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def _upgrade_postgresql() -> None:
    op.execute(f"UPDATE workspaces SET rules_token = {_POSTGRESQL_RANDOM}")
    op.execute(
        "CREATE FUNCTION fanbase_new_rules_token() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_TABLE_NAME = 'workspaces' THEN "
        f"UPDATE workspaces SET rules_token = {_POSTGRESQL_RANDOM} WHERE id = NEW.id; "
        "ELSIF TG_OP = 'DELETE' THEN "
        f"UPDATE workspaces SET rules_token = {_POSTGRESQL_RANDOM} WHERE id = OLD.workspace_id; "
        "ELSE "
        f"UPDATE workspaces SET rules_token = {_POSTGRESQL_RANDOM} WHERE id = NEW.workspace_id; "
        "END IF; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER trg_workspaces_rules_token AFTER INSERT ON workspaces "
        "FOR EACH ROW EXECUTE FUNCTION fanbase_new_rules_token()"
    )
    for table, columns in WATCHED.items():
        op.execute(
            f"CREATE TRIGGER trg_{table}_rules_token AFTER INSERT OR DELETE OR UPDATE OF {', '.join(columns)} "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION fanbase_new_rules_token()"
        )


def _upgrade_sqlite() -> None:
    op.execute(f"UPDATE workspaces SET rules_token = {_SQLITE_RANDOM}")
    op.execute(
        "CREATE TRIGGER trg_workspaces_rules_token AFTER INSERT ON workspaces BEGIN "
        f"UPDATE workspaces SET rules_token = {_SQLITE_RANDOM} WHERE id = NEW.id; END"
    )
    for table, columns in WATCHED.items():
        for event, row in (("INSERT", "NEW"), ("DELETE", "OLD"), (f"UPDATE OF {', '.join(columns)}", "NEW")):
            name = f"trg_{table}_rules_token_{event.split()[0].lower()}"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN "
                f"UPDATE workspaces SET rules_token = {_SQLITE_RANDOM} WHERE id = {row}.workspace_id; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in (*WATCHED, "workspaces"):
            op.execute(f"DROP TRIGGER trg_{table}_rules_token ON {table}")
        op.execute("DROP FUNCTION fanbase_new_rules_token()")
    else:
        op.execute("DROP TRIGGER trg_workspaces_rules_token")
        for table in WATCHED:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER trg_{table}_rules_token_{event}")
    op.drop_column("workspaces", "rules_token")
