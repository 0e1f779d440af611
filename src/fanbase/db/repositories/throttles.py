"""Throttle state: a fixed-window request count and a failure count with its back-off, per key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta

from sqlalchemy import Connection
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fanbase.db.tables import throttles


def _insert(connection: Connection):  # type: ignore[no-untyped-def]
    return postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert


def _count(connection: Connection, key: str, column: str, *, now: datetime, window: timedelta) -> tuple[int, datetime]:
    """Add one to ``key``'s ``column`` (hits or failures) in its current window, starting a new window (and count)
    once the last is ``window`` old; the count so far and when its window started."""
    statement = _insert(connection)(throttles).values(
        key=key, window_start=now, **{"hits": 0, "failures": 0, column: 1}
    )
    expired = throttles.c.window_start <= now - window
    statement = statement.on_conflict_do_update(
        index_elements=[throttles.c.key],
        set_={
            column: case((expired, 1), else_=throttles.c[column] + 1),
            "window_start": case((expired, statement.excluded.window_start), else_=throttles.c.window_start),
        },
    ).returning(throttles.c[column], throttles.c.window_start)
    count, window_start = connection.execute(statement).one()
    return int(count), window_start


def count_hit(connection: Connection, key: str, *, now: datetime, window: timedelta) -> tuple[int, datetime]:
    """Count one request against ``key``'s current window; the count so far in it and when it started."""
    return _count(connection, key, "hits", now=now, window=window)


def blocked_until(connection: Connection, keys: Sequence[str], *, now: datetime) -> datetime | None:
    """The latest back-off among ``keys`` still running at ``now``, if any."""
    latest: datetime | None = connection.execute(
        select(func.max(throttles.c.blocked_until)).where(
            throttles.c.key.in_(list(keys)), throttles.c.blocked_until > now
        )
    ).scalar_one_or_none()
    return latest


def count_failure(connection: Connection, key: str, *, now: datetime, memory: timedelta) -> int:
    """Count one failure against ``key``; the failures in the current run (a run ends ``memory`` after it began:
    old failures are forgotten then, and by ``clear``)."""
    return _count(connection, key, "failures", now=now, window=memory)[0]


def block(connection: Connection, key: str, *, until: datetime) -> None:
    connection.execute(update(throttles).where(throttles.c.key == key).values(blocked_until=until))


def clear(connection: Connection, key: str) -> None:
    connection.execute(delete(throttles).where(throttles.c.key == key))


def prune(connection: Connection, *, before: datetime, now: datetime) -> int:
    """Forget keys whose window started before ``before`` and whose back-off (if any) has ended."""
    result = connection.execute(
        delete(throttles).where(
            throttles.c.window_start < before,
            (throttles.c.blocked_until.is_(None)) | (throttles.c.blocked_until <= now),
        )
    )
    return int(result.rowcount or 0)
