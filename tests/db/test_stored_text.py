"""Event types, order categories and emails are stored folded, country codes upper-case (migration 0004), so rules
may compare them as stored.

The database refuses any other writer's unfolded value, on both backends, and the migration folds rows that were
stored before it (rules folded them when comparing, so every rule keeps its meaning).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.db.repositories import activity
from fanbase.db.repositories import fans
from fanbase.db.repositories import workspaces
from fanbase.db.tables import events
from fanbase.db.tables import fan_latest_events
from fanbase.db.tables import fans as fans_table
from fanbase.db.tables import orders
from fanbase.db.tables import workspaces as workspaces_table
from tests_support import throwaway_postgres


def _fan(database: Database, now: datetime) -> tuple[int, int]:
    with database.transaction(workspace_id=None) as connection:
        workspace_id = workspaces.insert_workspace(connection, name="folded", currency="USD", now=now).id
        (fan_id,) = fans.insert_fans(
            connection,
            workspace_id,
            [{"email": f"{uuid.uuid4().hex[:8]}@example.com", "created_at": now, "updated_at": now}],
        )
    return workspace_id, fan_id


def _order(fan_id: int, category: str, now: datetime) -> dict[str, object]:
    return {
        "fan_id": fan_id,
        "amount_cents": 100,
        "currency": "USD",
        "original_amount_cents": 100,
        "original_currency": "USD",
        "exchange_rate": "1",
        "original_refunded_cents": 0,
        "category": category,
        "placed_at": now,
        "created_at": now,
    }


def _event(fan_id: int, kind: str, now: datetime) -> dict[str, object]:
    return {"fan_id": fan_id, "type": kind, "properties": {}, "occurred_at": now, "created_at": now}


def test_unfolded_types_and_categories_are_refused(database: Database, now: datetime) -> None:
    workspace_id, fan_id = _fan(database, now)
    for insert_row in (
        lambda connection: activity.insert_orders(connection, workspace_id, [_order(fan_id, "Merch", now)]),
        lambda connection: activity.insert_events(connection, workspace_id, [_event(fan_id, "Gig_attended", now)]),
    ):
        with pytest.raises(IntegrityError), database.transaction(workspace_id=None) as connection:
            insert_row(connection)
    with pytest.raises(IntegrityError), database.transaction(workspace_id=None) as connection:
        fans.insert_fans(connection, workspace_id, [{"email": "Bo@example.com", "created_at": now, "updated_at": now}])
    with database.transaction(workspace_id=None) as connection:
        connection.execute(update(fans_table).where(fans_table.c.id == fan_id).values(country="FR"))
        (order_id,) = activity.insert_orders(connection, workspace_id, [_order(fan_id, "merch ü É", now)])
        (event_id,) = activity.insert_events(connection, workspace_id, [_event(fan_id, "gig_attended", now)])
    for statement in (
        update(orders).where(orders.c.id == order_id).values(category="MERCH"),
        update(events).where(events.c.id == event_id).values(type="GIG"),
        update(fans_table).where(fans_table.c.id == fan_id).values(email="Ada@example.com"),
        update(fans_table).where(fans_table.c.id == fan_id).values(country="fr"),
    ):
        with pytest.raises(IntegrityError), database.transaction(workspace_id=None) as connection:
            connection.execute(statement)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of its own: the migration is run on it step by step."""
    if request.param == "sqlite":
        database = Database.from_url(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        yield database
        database.dispose()
        return
    request.getfixturevalue("postgres_url")  # skips (or fails in CI) when there is no server
    with throwaway_postgres() as url:
        database = Database.from_url(url)
        yield database
        database.dispose()


def test_the_migration_folds_rows_stored_before_it(fresh_database: Database, now: datetime) -> None:
    upgrade(fresh_database.engine, "0003")
    with fresh_database.transaction(workspace_id=None) as connection:
        # Written with the columns of that schema only.
        workspace_id = connection.execute(
            insert(workspaces_table)
            .values(name="folded", currency="USD", created_at=now)
            .returning(workspaces_table.c.id)
        ).scalar_one()
        fan_id = connection.execute(
            insert(fans_table)
            .values(workspace_id=workspace_id, email="x@example.com", created_at=now, updated_at=now)
            .returning(fans_table.c.id)
        ).scalar_one()
        old_order = {k: v for k, v in _order(fan_id, "Merch É", now).items() if not k.startswith(("original", "exch"))}
        connection.execute(insert(orders), [{**old_order, "workspace_id": workspace_id}])
        # Written as a writer of that schema did: it had no table of latest event times (migration 0007).
        connection.execute(insert(events), [{**_event(fan_id, "GIG_attended", now), "workspace_id": workspace_id}])
        connection.execute(update(fans_table).values(email="Ada@Example.com", country="fr"))
    upgrade(fresh_database.engine)
    with fresh_database.transaction(workspace_id=None, write=False) as connection:
        assert connection.execute(select(orders.c.category)).scalars().all() == ["merch É"]
        assert connection.execute(select(events.c.type)).scalars().all() == ["gig_attended"]
        # Migration 0007 filled the latest times from the events already stored (folded by then).
        latest = select(fan_latest_events.c.fan_id, fan_latest_events.c.type, fan_latest_events.c.t1)
        assert connection.execute(latest).all() == [(fan_id, "gig_attended", now)]
        assert connection.execute(select(fans_table.c.email, fans_table.c.country)).all() == [("ada@example.com", "FR")]
