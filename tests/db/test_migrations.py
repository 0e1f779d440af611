"""Upgrading a database that holds data keeps every row: each migration since the first release runs on a workspace
with fans, a segment and its stored members (SQLite rebuilds a table to alter it; dropping the old copy would
cascade to every row that references it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from fanbase.db.engine import Database
from fanbase.db.migrate import current_revision
from fanbase.db.migrate import head_revision
from fanbase.db.migrate import upgrade
from fanbase.db.tables import fans
from fanbase.db.tables import segment_members
from fanbase.db.tables import segment_membership_log
from fanbase.db.tables import segments
from fanbase.db.tables import workspaces
from tests_support import throwaway_postgres

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FIRST_RELEASE = "0005"  # the schema the landed releases run; every later migration must keep their data


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A new database at the first release's schema."""
    if request.param == "sqlite":
        database = Database.from_url(f"sqlite:///{tmp_path / 'old.sqlite3'}")
        upgrade(database.engine, FIRST_RELEASE)
        yield database
        database.dispose()
        return
    request.getfixturevalue("postgres_url")  # the suite's loud skip (or, under CI, failure) without a server
    with throwaway_postgres() as url:
        database = Database.from_url(url)
        upgrade(database.engine, FIRST_RELEASE)
        yield database
        database.dispose()


def _counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as connection:
        return {
            table.name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (workspaces, fans, segments, segment_members, segment_membership_log)
        }


def test_upgrading_a_database_with_data_keeps_every_row(old_database: Database) -> None:
    with old_database.engine.begin() as connection:
        workspace_id = connection.execute(
            insert(workspaces).values(name="old", created_at=NOW).returning(workspaces.c.id)
        ).scalar_one()
        fan_ids = [
            connection.execute(
                insert(fans)
                .values(
                    workspace_id=workspace_id,
                    email=f"fan{index}@example.com",
                    custom_fields={},
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(fans.c.id)
            ).scalar_one()
            for index in range(5)
        ]
        segment_id = connection.execute(
            insert(segments)
            .values(
                workspace_id=workspace_id,
                name="Everyone",
                name_key="everyone",
                kind="static",
                created_at=NOW,
                updated_at=NOW,
            )
            .returning(segments.c.id)
        ).scalar_one()
        for fan_id in fan_ids:
            connection.execute(
                insert(segment_members).values(
                    workspace_id=workspace_id, segment_id=segment_id, fan_id=fan_id, since=NOW
                )
            )
            connection.execute(
                insert(segment_membership_log).values(
                    workspace_id=workspace_id,
                    segment_id=segment_id,
                    fan_id=fan_id,
                    entered=True,
                    at=NOW,
                    cause="manual",
                    rule_version=0,
                )
            )
    before = _counts(old_database)
    assert before["segment_members"] == 5

    upgrade(old_database.engine)

    assert current_revision(old_database.engine) == head_revision()
    assert _counts(old_database) == before
