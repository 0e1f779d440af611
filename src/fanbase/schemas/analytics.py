"""Analytics records: segments compared over a period, and how they overlap."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from fanbase.schemas.common import Record


class OverlapSegment(Record):
    id: int
    name: str
    size: int


class OverlapRegion(Record):
    """Fans in exactly these segments among the ones compared (and in none of the others)."""

    segment_ids: list[int]
    segments: list[str]
    fans: int


class OverlapPair(Record):
    """Two of the segments compared: the fans they share, and that as a share of each."""

    first_id: int
    second_id: int
    shared: int
    share_of_first: float = Field(description="shared ÷ the first segment's size (0 when it is empty).")
    share_of_second: float = Field(description="shared ÷ the second segment's size (0 when it is empty).")


class SegmentOverlap(Record):
    segments: list[OverlapSegment]
    regions: list[OverlapRegion] = Field(
        description="Every combination of the segments (a Venn diagram's regions), exclusive: a fan is counted in "
        "exactly one."
    )
    pairs: list[OverlapPair]
    in_all: int = Field(description="Fans in every one of the segments.")
    in_any: int = Field(description="Fans in at least one.")


class SegmentSeries(Record):
    """One segment's figures per bucket of the period, those of its current members."""

    segment_id: int
    segment_name: str
    size_now: int
    sizes: list[int | None] = Field(description="Size at the end of each bucket (null where no history is known).")
    revenue: list[Decimal]
    orders: list[int]
    events: list[int]
    active_fans: list[int]


class SegmentComparison(Record):
    buckets: list[str] = Field(description='The buckets\' keys: "2026-05-31" (day) or "2026-05-31 14" (hour), UTC.')
    series: list[SegmentSeries]


class SeenValue(Record):
    value: str
    count: int


class SeenValues(Record):
    """What the workspace's data holds, for the builder's pickers (the most common first)."""

    event_types: list[SeenValue] = Field(description="Event types, each with how many fans have one.")
    categories: list[SeenValue] = Field(description="Order categories, each with how many orders.")
    products: list[SeenValue] = Field(description="Products, each with how many orders.")
    event_properties: dict[str, list[SeenValue]] = Field(
        description="Properties of the latest events, each with its most common values (and how often)."
    )
