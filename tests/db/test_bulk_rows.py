"""The bulk row writers (PostgreSQL: COPY with ids drawn from the sequence; SQLite: executemany) against what a plain
INSERT stores: the same rows, ids in the order given, and errors raised as SQLAlchemy raises them for a statement."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy import select

from fanbase.db.engine import Database
from fanbase.db.engine import IntegrityError
from fanbase.db.repositories.activity import insert_events
from fanbase.db.repositories.fans import fan_ids_by_email
from fanbase.db.repositories.fans import insert_fans
from fanbase.db.repositories.sql import id_conditions
from fanbase.db.repositories.sql import insert_rows
from fanbase.db.tables import events
from fanbase.db.tables import fans
from fanbase.db.tables import segment_membership_log


def _fan(email: str, now: datetime) -> dict[str, object]:
    return {
        "email": email,
        "custom_fields": {"tier": "gold", "nested": {"n": [1, 2]}},
        "created_at": now,
        "updated_at": now,
    }


def test_rows_come_back_as_given_with_ids_in_order(database: Database, workspace_id: int, now: datetime) -> None:
    elsewhere = now.astimezone(timezone(timedelta(hours=-5)))  # stored as the same UTC instant
    with database.transaction(workspace_id=None) as connection:
        fan_ids = insert_fans(connection, workspace_id, [_fan(f"bulk{index}@example.com", now) for index in range(3)])
        rows = [
            {
                "fan_id": fan_ids[index % 3],
                "type": f"type {index}",
                "properties": {"venue": 'Bowery "Ballroom"\t\\', "seats": index, "none": None},
                "occurred_at": elsewhere - timedelta(minutes=index),
                "created_at": now,
            }
            for index in range(5)
        ]
        event_ids = insert_events(connection, workspace_id, rows)
    assert event_ids == sorted(event_ids) and len(set(event_ids)) == 5
    with database.transaction(workspace_id=None, write=False) as connection:
        stored = {row.id: row for row in connection.execute(select(events).where(events.c.id.in_(event_ids)))}
        stored_fans = connection.execute(select(fans.c.id, fans.c.custom_fields).where(fans.c.id.in_(fan_ids))).all()
    for event_id, row in zip(event_ids, rows, strict=True):
        assert stored[event_id].fan_id == row["fan_id"]
        assert stored[event_id].type == row["type"]
        assert stored[event_id].properties == row["properties"]
        assert stored[event_id].occurred_at == row["occurred_at"]
        assert stored[event_id].occurred_at.tzinfo == UTC
    assert sorted(stored_fans) == [(fan_id, {"tier": "gold", "nested": {"n": [1, 2]}}) for fan_id in fan_ids]


def test_a_duplicate_is_an_integrity_error_and_nothing_is_written(
    database: Database, workspace_id: int, now: datetime
) -> None:
    with database.transaction(workspace_id=None) as connection:
        insert_fans(connection, workspace_id, [_fan("taken@example.com", now)])
    with pytest.raises(IntegrityError), database.transaction(workspace_id=None) as connection:
        insert_fans(connection, workspace_id, [_fan("new@example.com", now), _fan("taken@example.com", now)])
    with database.transaction(workspace_id=None, write=False) as connection:
        emails = connection.execute(select(fans.c.email).where(fans.c.workspace_id == workspace_id)).scalars().all()
    assert "new@example.com" not in emails


def test_insert_rows_and_id_conditions(database: Database, workspace_id: int, now: datetime) -> None:
    with database.transaction(workspace_id=None) as connection:
        fan_ids = insert_fans(connection, workspace_id, [_fan(f"ids{index}@example.com", now) for index in range(7)])
        insert_rows(connection, segment_membership_log, [])  # nothing to write is no statement
        found: set[int] = set()
        for condition in id_conditions(connection, fans.c.id, [*fan_ids[:4], 10**12]):
            found.update(connection.execute(select(fans.c.id).where(condition)).scalars())
        assert list(id_conditions(connection, fans.c.id, [])) == []  # no ids: no statement to run
    assert found == set(fan_ids[:4])


def test_fans_are_found_by_email_through_an_index_inside_a_workspace(
    database: Database, workspace_id: int, now: datetime
) -> None:
    """Emails are looked up by an index, or every batch by email and every import reads every fan of the workspace;
    and inside the workspace's own transaction, where PostgreSQL's row-level security applies (migration 0018:
    ``lower()`` is not leakproof, so the unique index on ``lower(email)`` could not serve there)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        captured.append((statement, parameters))

    with database.transaction(workspace_id=None) as connection:
        insert_fans(connection, workspace_id, [_fan(f"look{index}@example.com", now) for index in range(3000)])
        connection.exec_driver_sql("ANALYZE fans")  # planned as a real workspace is, not as an empty table
    with database.transaction(workspace_id=workspace_id) as connection:
        event.listen(connection, "before_cursor_execute", capture)
        try:
            found = fan_ids_by_email(connection, workspace_id, ["look3@example.com", "nobody@example.com"])
        finally:
            event.remove(connection, "before_cursor_execute", capture)
        statement, parameters = captured[-1]
        explain = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(explain + statement, parameters))
    assert list(found) == ["look3@example.com"]
    assert "ix_fans_workspace_email" in plan, plan
