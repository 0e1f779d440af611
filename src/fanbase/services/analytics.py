"""Compare segments over a period: size, revenue, orders and activity per time bucket.

Revenue, orders and activity are those of each segment's *current* members (set-based SQL in
``fanbase.db.repositories.analytics``). Size over time comes from the membership history
(``fanbase.services.history.segment_sizes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from fanbase.db.engine import Database
from fanbase.db.repositories import analytics as analytics_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.analytics import OverlapPair
from fanbase.schemas.analytics import OverlapRegion
from fanbase.schemas.analytics import OverlapSegment
from fanbase.schemas.analytics import SegmentComparison
from fanbase.schemas.analytics import SegmentOverlap
from fanbase.schemas.analytics import SegmentSeries
from fanbase.services import history

Bucket = Literal["hour", "day"]
MAX_BUCKETS = 24 * 90


def _bucket_keys(start: datetime, end: datetime, bucket: Bucket) -> list[str]:
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    pattern = "%Y-%m-%d %H" if bucket == "hour" else "%Y-%m-%d"
    keys: list[str] = []
    # Buckets start on the hour or at midnight UTC, as the history's do; the first one holds ``start``.
    at = start.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        at = at.replace(hour=0)
    while at < end:
        keys.append(at.strftime(pattern))
        at += step
    return list(dict.fromkeys(keys))


def _history_sizes(
    database: Database, workspace_id: int, segment_id: int, *, start: datetime, end: datetime, bucket: Bucket
) -> dict[str, int]:
    pattern = "%Y-%m-%d %H" if bucket == "hour" else "%Y-%m-%d"
    points = history.segment_sizes(database, workspace_id, segment_id, start=start, end=end, bucket=bucket)
    return {point.at.strftime(pattern): point.size for point in points}


def compare_segments(
    database: Database,
    workspace_id: int,
    segment_ids: Sequence[int],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket = "day",
) -> SegmentComparison:
    if not segment_ids:
        raise InvalidInput("choose at least one segment", field="segment_ids")
    if end <= start:
        raise InvalidInput("the period is empty", field="start")
    buckets = _bucket_keys(start, end, bucket)
    if len(buckets) > MAX_BUCKETS:
        raise InvalidInput(f"at most {MAX_BUCKETS} buckets; use a shorter period or day buckets", field="bucket")
    ids = list(dict.fromkeys(segment_ids))
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        rows = {row.id: row for row in segments_repo.list_segments(connection, workspace_id, with_size=True)}
        missing = [segment_id for segment_id in ids if segment_id not in rows]
        if missing:
            raise NotFound(f"segment {missing[0]} not found", field="segment_ids")
        order_rows = analytics_repo.orders_per_bucket(
            connection, workspace_id, ids, start=start, end=end, bucket=bucket
        )
        event_rows = analytics_repo.events_per_bucket(
            connection, workspace_id, ids, start=start, end=end, bucket=bucket
        )
    revenue = {(s, b): Decimal(cents) / 100 for s, b, cents, _ in order_rows}
    order_counts = {(s, b): n for s, b, _, n in order_rows}
    event_counts = {(s, b): n for s, b, n, _ in event_rows}
    active = {(s, b): n for s, b, _, n in event_rows}
    series = []
    for segment_id in ids:
        sizes_known = _history_sizes(database, workspace_id, segment_id, start=start, end=end, bucket=bucket)
        size_now = int(rows[segment_id].size)
        # No size before the segment existed (a run of zeros, then a spike, would say it was empty then).
        born = rows[segment_id].created_at.strftime("%Y-%m-%d %H" if bucket == "hour" else "%Y-%m-%d")
        sizes: list[int | None] = [None if key < born else sizes_known.get(key) for key in buckets]
        series.append(
            SegmentSeries(
                segment_id=segment_id,
                segment_name=rows[segment_id].name,
                size_now=size_now,
                sizes=sizes,
                revenue=[revenue.get((segment_id, key), Decimal(0)) for key in buckets],
                orders=[order_counts.get((segment_id, key), 0) for key in buckets],
                events=[event_counts.get((segment_id, key), 0) for key in buckets],
                active_fans=[active.get((segment_id, key), 0) for key in buckets],
            )
        )
    return SegmentComparison(buckets=buckets, series=series)


# Overlap compares two or three segments: a Venn diagram's regions stay readable up to three.
OVERLAP_SEGMENTS = (2, 3)


def overlap(database: Database, workspace_id: int, segment_ids: Sequence[int]) -> SegmentOverlap:
    """How two or three segments' current members overlap: every region of their Venn diagram (exclusive counts),
    each pair's shared fans, and the fans in all and in any."""
    ids = list(dict.fromkeys(segment_ids))
    if len(ids) not in OVERLAP_SEGMENTS:
        raise InvalidInput("choose two or three different segments", field="segment_ids")
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        rows = {row.id: row for row in segments_repo.list_segments(connection, workspace_id, with_size=True)}
        missing = [segment_id for segment_id in ids if segment_id not in rows]
        if missing:
            raise NotFound(f"segment {missing[0]} not found", field="segment_ids")
        combinations = analytics_repo.membership_combinations(connection, workspace_id, ids)
    everyone = (1 << len(ids)) - 1

    def members(mask: int) -> list[int]:
        return [segment_id for index, segment_id in enumerate(ids) if mask & (1 << index)]

    def fans_in(*wanted: int) -> int:
        bits = sum(1 << ids.index(segment_id) for segment_id in wanted)
        return sum(count for mask, count in combinations.items() if mask & bits == bits)

    regions = [
        OverlapRegion(
            segment_ids=members(mask),
            segments=[rows[segment_id].name for segment_id in members(mask)],
            fans=combinations.get(mask, 0),
        )
        for mask in sorted(range(1, everyone + 1), key=lambda mask: (bin(mask).count("1"), mask))
    ]
    pairs = []
    for index, first in enumerate(ids):
        for second in ids[index + 1 :]:
            shared = fans_in(first, second)
            sizes = int(rows[first].size), int(rows[second].size)
            pairs.append(
                OverlapPair(
                    first_id=first,
                    second_id=second,
                    shared=shared,
                    share_of_first=shared / sizes[0] if sizes[0] else 0.0,
                    share_of_second=shared / sizes[1] if sizes[1] else 0.0,
                )
            )
    return SegmentOverlap(
        segments=[OverlapSegment(id=i, name=rows[i].name, size=int(rows[i].size)) for i in ids],
        regions=regions,
        pairs=pairs,
        in_all=combinations.get(everyone, 0),
        in_any=sum(combinations.values()),
    )
