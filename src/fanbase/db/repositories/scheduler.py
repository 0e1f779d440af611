"""State of the time-driven scheduler, per workspace, and the lock that lets only one scheduler act at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.sql import Select

from fanbase.db.tables import scheduler_state
from fanbase.db.tables import segment_membership_log
from fanbase.db.tables import segments

# Advisory lock namespace for the scheduler (the first key of PostgreSQL's two-key advisory locks).
SCHEDULER_LOCK = 0x0FA7_BA5E


def try_lock_workspace(connection: Connection, workspace_id: int) -> bool:
    """Take the workspace's scheduler lock for this transaction; False if another scheduler holds it.

    PostgreSQL: a transaction-scoped advisory lock (released at commit). SQLite: the write transaction itself
    (BEGIN IMMEDIATE) already excludes every other writer, so there is nothing more to take.
    """
    if connection.dialect.name != "postgresql":
        return True
    locked = connection.execute(
        text("SELECT pg_try_advisory_xact_lock(:namespace, :workspace)"),
        {"namespace": SCHEDULER_LOCK, "workspace": workspace_id},
    ).scalar_one()
    return bool(locked)


def last_tick(connection: Connection, workspace_id: int) -> datetime | None:
    value: datetime | None = connection.execute(
        select(scheduler_state.c.last_tick_at).where(scheduler_state.c.workspace_id == workspace_id)
    ).scalar_one_or_none()
    return value


def record_tick(connection: Connection, workspace_id: int, *, at: datetime, error: str | None = None) -> None:
    updated = connection.execute(
        update(scheduler_state)
        .where(scheduler_state.c.workspace_id == workspace_id)
        .values(last_tick_at=at, last_error=error)
    ).rowcount
    if not updated:
        connection.execute(insert(scheduler_state).values(workspace_id=workspace_id, last_tick_at=at, last_error=error))


def workspaces_with_time_rules(connection: Connection) -> list[int]:
    """Workspaces that have any dynamic segment (the scheduler looks closer at their rules)."""
    rows = connection.execute(select(segments.c.workspace_id).where(segments.c.kind == "dynamic").distinct())
    return sorted(rows.scalars())


def earliest(connection: Connection, queries: Sequence[tuple[Select[Any], timedelta]]) -> datetime | None:
    """The least ``t + offset`` over the boundary queries (see ``compiler.next_boundary_queries``)."""
    best: datetime | None = None
    for query, offset in queries:
        value = connection.execute(query).scalar_one_or_none()
        if value is None:
            continue
        instant = datetime.fromisoformat(value) if isinstance(value, str) else value
        candidate = instant + offset
        best = candidate if best is None or candidate < best else best
    return best


def set_next_flip(connection: Connection, workspace_id: int, segment_id: int, at: datetime | None) -> None:
    connection.execute(
        update(segments)
        .where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id)
        .values(next_flip_at=at)
    )


def fans_moved_at(connection: Connection, workspace_id: int, segment_ids: Sequence[int], *, at: datetime) -> list[int]:
    """Fans that time moved into or out of these segments at this instant (to carry the change to dependents).

    Only cause "time": a write at the same instant has already carried its own changes to the dependents.
    """
    if not segment_ids:
        return []
    rows = connection.execute(
        select(segment_membership_log.c.fan_id)
        .where(
            segment_membership_log.c.workspace_id == workspace_id,
            segment_membership_log.c.segment_id.in_(segment_ids),
            segment_membership_log.c.at == at,
            segment_membership_log.c.cause == "time",
        )
        .distinct()
    )
    return sorted(rows.scalars())
