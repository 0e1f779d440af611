"""History read from the ledgers: who entered and left and why, members as of a date, sizes over time."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter
from fastapi import Query

from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import PagingDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.schemas import FanId
from fanbase.api.schemas import ListId
from fanbase.api.schemas import SegmentId
from fanbase.api.schemas import TagId
from fanbase.errors import InvalidInput
from fanbase.schemas.common import Page
from fanbase.schemas.common import require_utc
from fanbase.schemas.fans import Fan
from fanbase.schemas.history import Bucket
from fanbase.schemas.history import FanSegmentMembership
from fanbase.schemas.history import MembershipEvent
from fanbase.schemas.history import SizePoint
from fanbase.schemas.segments import Impact
from fanbase.schemas.segments import RuleIn
from fanbase.services import history
from fanbase.services import segments

router = APIRouter(tags=["history"])

Start = Annotated[datetime | None, Query(description="Start (ISO 8601 with timezone); default 30 days before end.")]
End = Annotated[datetime | None, Query(description="End (ISO 8601 with timezone); default now.")]
BucketQuery = Annotated[Bucket, Query(description="hour or day")]


def _period(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    try:
        until = require_utc(end) if end else now
        since = require_utc(start) if start else until - timedelta(days=30)
    except ValueError as error:
        raise InvalidInput(str(error), field="start" if start else "end") from error
    return since, until


@router.get("/segments/{segment_id}/history")
def segment_history(
    segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep
) -> Page[MembershipEvent]:
    """Every entry and exit, newest first, with its cause (write, time, manual, import, rule_edit, build,
    refresh) and the rule version that decided it."""
    return history.segment_history(database, workspace_id, segment_id, page=paging.page, page_size=paging.page_size)


@router.get("/segments/{segment_id}/sizes")
def segment_sizes(
    segment_id: SegmentId,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
    start: Start = None,
    end: End = None,
    bucket: BucketQuery = "day",
) -> list[SizePoint]:
    since, until = _period(start, end, now)
    return history.segment_sizes(database, workspace_id, segment_id, start=since, end=until, bucket=bucket)


@router.get("/segments/{segment_id}/members/as-of")
def members_as_of(
    segment_id: SegmentId,
    at: Annotated[datetime, Query(description="The instant (ISO 8601 with timezone).")],
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    paging: PagingDep,
) -> Page[Fan]:
    """The members the segment had at that instant, from the ledger."""
    try:
        instant = require_utc(at)
    except ValueError as error:
        raise InvalidInput(str(error), field="at") from error
    return history.members_as_of(
        database, workspace_id, segment_id, at=instant, page=paging.page, page_size=paging.page_size
    )


@router.post("/segments/{segment_id}/impact")
def rule_edit_impact(
    segment_id: SegmentId, body: RuleIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> Impact:
    """Before saving a rule edit: how many fans would join and leave, with samples. Nothing is changed."""
    return segments.impact(database, workspace_id, segment_id, body, now=now)


@router.get("/fans/{fan_id}/segments")
def fan_segments(fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep) -> list[FanSegmentMembership]:
    """The segments this fan is in: since when, and why."""
    return history.fan_segments(database, workspace_id, fan_id)


@router.get("/fans/{fan_id}/history")
def fan_history(
    fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep
) -> Page[MembershipEvent]:
    return history.fan_history(database, workspace_id, fan_id, page=paging.page, page_size=paging.page_size)


@router.get("/tags/{tag_id}/sizes")
def tag_sizes(
    tag_id: TagId,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
    start: Start = None,
    end: End = None,
    bucket: BucketQuery = "day",
) -> list[SizePoint]:
    since, until = _period(start, end, now)
    return history.tag_sizes(database, workspace_id, tag_id, start=since, end=until, bucket=bucket)


@router.get("/lists/{list_id}/sizes")
def list_sizes(
    list_id: ListId,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
    start: Start = None,
    end: End = None,
    bucket: BucketQuery = "day",
) -> list[SizePoint]:
    """Subscribed fans over time."""
    since, until = _period(start, end, now)
    return history.list_sizes(database, workspace_id, list_id, start=since, end=until, bucket=bucket)
