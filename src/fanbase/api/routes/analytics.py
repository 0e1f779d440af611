"""Analytics: segments compared over a period, and how segments overlap (the dashboard's Analytics page, as data)."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter
from fastapi import Query

from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.schemas import error_responses
from fanbase.errors import InvalidInput
from fanbase.schemas.analytics import SegmentComparison
from fanbase.schemas.analytics import SegmentOverlap
from fanbase.schemas.common import MAX_ID
from fanbase.schemas.common import require_utc
from fanbase.schemas.history import Bucket
from fanbase.services import analytics

router = APIRouter(prefix="/analytics", tags=["analytics"], responses=error_responses(401, 404, 422))

# At most a handful: each is a series in every chart (comparison) or a circle of the Venn diagram (overlap).
MAX_COMPARED = 10
SegmentIds = Annotated[
    list[Annotated[int, Query(ge=1, le=MAX_ID)]],
    Query(alias="segment_id", max_length=MAX_COMPARED, description="A segment; repeat the parameter for each."),
]


@router.get("/overlap")
def overlap(segment_ids: SegmentIds, database: DatabaseDep, workspace_id: WorkspaceDep) -> SegmentOverlap:
    """How two or three segments' current members overlap: every region of their Venn diagram (exclusive counts),
    each pair's shared fans (and that as a share of each), and the fans in all and in any of them."""
    return analytics.overlap(database, workspace_id, segment_ids)


@router.get("/compare")
def compare(
    segment_ids: SegmentIds,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
    days: Annotated[int, Query(ge=1, le=90, description="The period: this many days up to now.")] = 30,
    end: Annotated[
        datetime | None, Query(description="End of the period (ISO 8601 with timezone); default now.")
    ] = None,
    bucket: Annotated[Bucket, Query(description="hour or day")] = "day",
) -> SegmentComparison:
    """Segments side by side per bucket: size (from the ledger), revenue, orders, events and active fans of their
    current members."""
    try:
        until = require_utc(end) if end else now
    except ValueError as error:
        raise InvalidInput(str(error), field="end") from error
    return analytics.compare_segments(
        database, workspace_id, segment_ids, start=until - timedelta(days=days), end=until, bucket=bucket
    )
