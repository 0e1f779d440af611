"""History read from the ledgers: who entered and left and why, members as of a date, sizes over time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from typing import Annotated
from typing import Any

from fastapi import APIRouter
from fastapi import Query

from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import PagingDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.endpoints import build_endpoint
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
from fanbase.services import previews

router = APIRouter(tags=["history"])

Start = Annotated[datetime | None, Query(description="Start (ISO 8601 with timezone); default 30 days before end.")]
End = Annotated[datetime | None, Query(description="End (ISO 8601 with timezone); default now.")]
BucketQuery = Annotated[Bucket, Query(description="hour or day")]


def _instant(value: datetime | None, *, field: str) -> datetime | None:
    try:
        return require_utc(value) if value else None
    except ValueError as error:
        raise InvalidInput(str(error), field=field) from error


def _period(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    try:
        until = require_utc(end) if end else now
        since = require_utc(start) if start else until - timedelta(days=30)
    except ValueError as error:
        raise InvalidInput(str(error), field="start" if start else "end") from error
    return since, until


def _add_sizes_route(noun: str, id_type: Any, sizes: Callable[..., list[SizePoint]], *, doc: str | None = None) -> None:
    """GET /<noun>s/{<noun>_id}/sizes, the endpoint <noun>_sizes: ``sizes`` over a period (default: the last 30
    days), by hour or day."""
    group_id = f"{noun}_id"

    def run(
        database: Any,
        workspace_id: int,
        now: datetime,
        start: datetime | None,
        end: datetime | None,
        bucket: Bucket,
        **path: int,
    ) -> list[SizePoint]:
        since, until = _period(start, end, now)
        return sizes(database, workspace_id, path[group_id], start=since, end=until, bucket=bucket)

    router.get(f"/{noun}s/{{{group_id}}}/sizes")(
        build_endpoint(
            f"{noun}_sizes",
            doc=doc,
            parameters={
                group_id: id_type,
                "database": DatabaseDep,
                "workspace_id": WorkspaceDep,
                "now": NowDep,
                "start": Start,
                "end": End,
                "bucket": BucketQuery,
            },
            returns=list[SizePoint],
            run=run,
            defaults={"start": None, "end": None, "bucket": "day"},
        )
    )


@router.get("/segments/{segment_id}/history")
def segment_history(
    segment_id: SegmentId,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    paging: PagingDep,
    start: Annotated[
        datetime | None, Query(description="Only entries and exits at or after this instant (ISO 8601 with timezone).")
    ] = None,
    end: Annotated[
        datetime | None, Query(description="Only entries and exits before this instant (ISO 8601 with timezone).")
    ] = None,
) -> Page[MembershipEvent]:
    """Every entry and exit, newest first, with its cause (write, time, manual, import, rule_edit, build,
    refresh) and the rule version that decided it; ``start`` and ``end`` narrow it to a period (one day's)."""
    since = _instant(start, field="start")
    until = _instant(end, field="end")
    return history.segment_history(
        database, workspace_id, segment_id, page=paging.page, page_size=paging.page_size, start=since, end=until
    )


_add_sizes_route("segment", SegmentId, history.segment_sizes)


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
    return previews.impact(database, workspace_id, segment_id, body, now=now)


@router.get("/fans/{fan_id}/segments")
def fan_segments(fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep) -> list[FanSegmentMembership]:
    """The segments this fan is in: since when, and why."""
    return history.fan_segments(database, workspace_id, fan_id)


@router.get("/fans/{fan_id}/history")
def fan_history(
    fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep
) -> Page[MembershipEvent]:
    return history.fan_history(database, workspace_id, fan_id, page=paging.page, page_size=paging.page_size)


_add_sizes_route("tag", TagId, history.tag_sizes)
_add_sizes_route("list", ListId, history.list_sizes, doc="Subscribed fans over time.")
