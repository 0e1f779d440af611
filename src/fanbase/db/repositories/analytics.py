"""Analytics over segments' current members: revenue, orders and activity per time bucket, set-based in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from typing import Literal

from sqlalchemy import Column
from sqlalchemy import Connection
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from fanbase.db.tables import events
from fanbase.db.tables import orders
from fanbase.db.tables import segment_members

Bucket = Literal["hour", "day"]


def bucket_key(column: Any, *, bucket: Bucket, dialect: str) -> ColumnElement[str]:
    """The bucket a time falls in, as text ("2026-05-31" or "2026-05-31 14"): the same keys on both backends.

    SQLite stores UTC instants as "YYYY-MM-DD HH:MM:SS…" text (see ``UTCDateTime``), so a prefix is the bucket;
    PostgreSQL formats its timestamptz in UTC.
    """
    if dialect == "postgresql":
        pattern = "YYYY-MM-DD HH24" if bucket == "hour" else "YYYY-MM-DD"
        return func.to_char(func.timezone("UTC", column), pattern)
    return func.substr(column, 1, 13 if bucket == "hour" else 10)


def orders_per_bucket(
    connection: Connection,
    workspace_id: int,
    segment_ids: Sequence[int],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
) -> list[tuple[int, str, int, int]]:
    """(segment_id, bucket, revenue in cents, completed orders) of each segment's current members."""
    return _per_bucket(
        connection,
        workspace_id,
        segment_ids,
        orders.c.placed_at,
        measures=(func.sum(orders.c.amount_cents), func.count()),
        where=(orders.c.status == "completed",),
        start=start,
        end=end,
        bucket=bucket,
    )


def events_per_bucket(
    connection: Connection,
    workspace_id: int,
    segment_ids: Sequence[int],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
) -> list[tuple[int, str, int, int]]:
    """(segment_id, bucket, events, distinct active fans) of each segment's current members."""
    return _per_bucket(
        connection,
        workspace_id,
        segment_ids,
        events.c.occurred_at,
        measures=(func.count(), func.count(func.distinct(events.c.fan_id))),
        where=(),
        start=start,
        end=end,
        bucket=bucket,
    )


def _per_bucket(
    connection: Connection,
    workspace_id: int,
    segment_ids: Sequence[int],
    at: Column[datetime],
    *,
    measures: tuple[ColumnElement[Any], ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]],
    start: datetime,
    end: datetime,
    bucket: Bucket,
) -> list[tuple[int, str, int, int]]:
    """(segment_id, bucket, the two measures) over the rows of ``at``'s table (orders or events) of each segment's
    current members that fall between ``start`` and ``end``; an empty sum counts as 0."""
    table = at.table
    key = bucket_key(at, bucket=bucket, dialect=connection.dialect.name).label("bucket")
    query = (
        select(segment_members.c.segment_id, key, *measures)
        .select_from(
            segment_members.join(
                table,
                (table.c.workspace_id == segment_members.c.workspace_id) & (table.c.fan_id == segment_members.c.fan_id),
            )
        )
        .where(
            segment_members.c.workspace_id == workspace_id,
            segment_members.c.segment_id.in_(list(segment_ids)),
            *where,
            at >= start,
            at < end,
        )
        .group_by(segment_members.c.segment_id, key)
    )
    return [(int(row[0]), str(row[1]), int(row[2] or 0), int(row[3])) for row in connection.execute(query)]
