"""Migration 0016: PostgreSQL's row-level security, the second line of tenant defence behind every query's
``workspace_id`` clause. A transaction opened for one workspace sees and writes that workspace's rows only, even
through a query that names no workspace at all."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from fanbase.db.engine import TENANT_ROLE
from fanbase.db.engine import Database
from fanbase.db.engine import as_owner
from fanbase.db.engine import refresh_statistics_in
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories.sql import insert_rows
from fanbase.db.tables import fans
from fanbase.services import demo
from fanbase.services import workspaces

pytestmark = pytest.mark.postgres


def _workspace_tables(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
                    " AND column_name = 'workspace_id' ORDER BY table_name"
                )
            ).scalars()
        )


@pytest.fixture
def two_workspaces(postgres_database: Database, now: datetime) -> tuple[Database, int, int]:
    """Two demo workspaces: fans, orders, events, tags, lists, custom fields and a key in each."""
    ids = [demo.create_demo_workspace(postgres_database, now=now, fans=40).workspace.id for _ in range(2)]
    return postgres_database, ids[0], ids[1]


def test_every_workspace_table_has_row_level_security_and_a_policy(postgres_database: Database) -> None:
    tables = _workspace_tables(postgres_database)
    assert len(tables) >= 26
    with postgres_database.engine.connect() as connection:
        secured = dict(
            connection.execute(
                text("SELECT relname, relrowsecurity FROM pg_class WHERE relname = ANY(:names)"),
                {"names": [*tables, "workspaces"]},
            ).all()
        )
        policies = dict(
            connection.execute(
                text(
                    "SELECT tablename, roles::text FROM pg_policies WHERE schemaname = current_schema()"
                    " AND policyname = 'workspace_isolation'"
                )
            ).all()
        )
    for table in [*tables, "workspaces"]:
        assert secured[table], f"{table} has no row-level security"
        assert policies.get(table) == f"{{{TENANT_ROLE}}}", f"{table} has no workspace policy"


def test_an_unscoped_query_in_a_scoped_transaction_sees_one_workspace(
    two_workspaces: tuple[Database, int, int],
) -> None:
    database, mine, theirs = two_workspaces
    tables = _workspace_tables(database)
    seen: dict[str, set[int]] = {}
    with database.transaction(workspace_id=mine, write=False) as connection:
        for table in tables:
            # Deliberately no workspace clause.
            seen[table] = set(connection.execute(text(f'SELECT DISTINCT workspace_id FROM "{table}"')).scalars())
        workspace_ids = set(connection.execute(text("SELECT id FROM workspaces")).scalars())
    assert workspace_ids == {mine}
    for table, found in seen.items():
        assert found <= {mine}, table
    # The demo wrote these for both workspaces, so the empty answer for the other one is the policy's doing.
    for table in ("fans", "orders", "events", "tags", "lists", "fan_tags", "list_members", "api_keys"):
        assert seen[table] == {mine}, table
    with database.transaction(workspace_id=None, write=False) as connection:
        everyone = set(connection.execute(text("SELECT DISTINCT workspace_id FROM fans")).scalars())
    assert {mine, theirs} <= everyone


def test_a_scoped_transaction_cannot_write_into_another_workspace(
    two_workspaces: tuple[Database, int, int], now: datetime
) -> None:
    database, mine, theirs = two_workspaces
    with database.transaction(workspace_id=mine) as connection:
        taking = text("UPDATE fans SET first_name = 'taken' WHERE workspace_id = :w")
        changed = connection.execute(taking, {"w": theirs})
        assert changed.rowcount == 0
        deleted = connection.execute(text("DELETE FROM tags WHERE workspace_id = :w"), {"w": theirs})
        assert deleted.rowcount == 0
    with pytest.raises(ProgrammingError, match="row-level security"), database.transaction(workspace_id=mine) as c:
        c.execute(
            text("INSERT INTO tags (workspace_id, name, name_key, created_at) VALUES (:w, 'x', 'x', :now)"),
            {"w": theirs, "now": now},
        )
    # COPY runs as the owner (PostgreSQL refuses it under row-level security), so it checks each row's workspace.
    with pytest.raises(ValueError, match="workspace"), database.transaction(workspace_id=mine) as connection:
        insert_rows(connection, fans, [{"workspace_id": theirs, "email": "copied@example.com", "created_at": now}])
    with database.transaction(workspace_id=None, write=False) as connection:
        untouched = connection.execute(
            text("SELECT count(*) FROM fans WHERE workspace_id = :w AND first_name = 'taken'"), {"w": theirs}
        ).scalar_one()
        copied = connection.execute(text("SELECT count(*) FROM fans WHERE email = 'copied@example.com'")).scalar_one()
    assert (untouched, copied) == (0, 0)


def test_the_tenant_role_with_no_workspace_set_sees_nothing(two_workspaces: tuple[Database, int, int]) -> None:
    database, _, _ = two_workspaces
    with database.engine.connect() as connection, connection.begin():
        connection.exec_driver_sql(f"SET LOCAL ROLE {TENANT_ROLE}")
        assert connection.execute(text("SELECT count(*) FROM fans")).scalar_one() == 0
        assert connection.execute(text("SELECT count(*) FROM workspaces")).scalar_one() == 0


def test_statistics_are_gathered_as_the_owner_inside_a_scoped_transaction(
    two_workspaces: tuple[Database, int, int], now: datetime
) -> None:
    """Only a table's owner may ANALYZE it (anyone else gets a warning and nothing done), and pg_stats hides a
    table's statistics from a role its row-level security applies to: refreshing them inside a workspace's
    transaction switches to the owner and back."""
    database, _, _ = two_workspaces
    created = workspaces.create_workspace(database, name="statistics", now=now)
    workspace_id = created.workspace.id
    rows = [{"email": f"fan{index}@example.com", "created_at": now, "updated_at": now} for index in range(2000)]
    reltuples = text("SELECT reltuples FROM pg_class WHERE relname = 'fans'")
    with database.transaction(workspace_id=workspace_id) as connection:
        before = connection.execute(reltuples).scalar_one()
        fans_repo.insert_fans(connection, workspace_id, rows)
        analysed = refresh_statistics_in(connection, {"fans": len(rows)}, workspace_id=workspace_id)
        after = connection.execute(reltuples).scalar_one()
        role = connection.execute(text("SELECT current_user")).scalar_one()
        with as_owner(connection):
            owner = connection.execute(text("SELECT current_user")).scalar_one()
        assert connection.execute(text("SELECT current_user")).scalar_one() == TENANT_ROLE
    assert "fans" in analysed
    assert after != before
    assert (role, owner) == (TENANT_ROLE, database.engine.url.username)
