"""Analytics over segments' current members: revenue, orders and activity per time bucket, set-based in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Literal

from sqlalchemy import Column
from sqlalchemy import Connection
from sqlalchemy import Integer
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


@dataclass(frozen=True)
class _Activity:
    """Rows of one activity table (orders or events) per segment and time bucket: the time column that places a row
    in a bucket, the two measures of a bucket's rows, and any further condition a counted row meets."""

    at: Column[datetime]
    measures: tuple[ColumnElement[Any], ColumnElement[Any]]
    where: tuple[ColumnElement[bool], ...] = ()

    def per_bucket(
        self,
        connection: Connection,
        workspace_id: int,
        segment_ids: Sequence[int],
        *,
        start: datetime,
        end: datetime,
        bucket: Bucket,
    ) -> list[tuple[int, str, int, int]]:
        """(segment_id, bucket, the two measures) of each segment's current members' rows between ``start`` and
        ``end``; an empty sum counts as 0."""
        table = self.at.table
        key = bucket_key(self.at, bucket=bucket, dialect=connection.dialect.name).label("bucket")
        query = (
            select(segment_members.c.segment_id, key, *self.measures)
            .select_from(
                segment_members.join(
                    table,
                    (table.c.workspace_id == segment_members.c.workspace_id)
                    & (table.c.fan_id == segment_members.c.fan_id),
                )
            )
            .where(
                segment_members.c.workspace_id == workspace_id,
                segment_members.c.segment_id.in_(list(segment_ids)),
                *self.where,
                self.at >= start,
                self.at < end,
            )
            .group_by(segment_members.c.segment_id, key)
        )
        return [(int(row[0]), str(row[1]), int(row[2] or 0), int(row[3])) for row in connection.execute(query)]


# (segment_id, bucket, revenue in cents, completed orders) of each segment's current members.
orders_per_bucket = _Activity(
    at=orders.c.placed_at,
    measures=(func.sum(orders.c.amount_cents), func.count()),
    where=(orders.c.status == "completed",),
).per_bucket
# (segment_id, bucket, events, distinct active fans) of each segment's current members.
events_per_bucket = _Activity(
    at=events.c.occurred_at, measures=(func.count(), func.count(func.distinct(events.c.fan_id)))
).per_bucket


def membership_combinations(connection: Connection, workspace_id: int, segment_ids: Sequence[int]) -> dict[int, int]:
    """How many fans are in exactly each combination of the segments: a bit per segment, in the order given
    (bit 0 the first), mapped to the number of fans whose memberships among them are exactly that combination.
    One grouped pass over the segments' members."""
    bits = func.sum(
        sum(
            (segment_members.c.segment_id == segment_id).cast(Integer) * (1 << index)
            for index, segment_id in enumerate(segment_ids)
        )
    ).label("mask")
    per_fan = (
        select(segment_members.c.fan_id, bits)
        .where(
            segment_members.c.workspace_id == workspace_id,
            segment_members.c.segment_id.in_(list(segment_ids)),
        )
        .group_by(segment_members.c.fan_id)
        .subquery()
    )
    rows = connection.execute(select(per_fan.c.mask, func.count()).group_by(per_fan.c.mask)).all()
    return {int(mask): int(count) for mask, count in rows}
