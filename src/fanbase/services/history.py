"""History from the ledgers: who entered and left a segment and why, a fan's memberships "since when and why",
members as of any past date, and sizes over time (per hour or day) for segments, tags and lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import fan_selections
from fanbase.db.repositories import history as history_repo
from fanbase.db.repositories import lists as lists_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.repositories import tags as tags_repo
from fanbase.db.repositories.fan_selections import FanSelection
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.common import Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.history import Bucket
from fanbase.schemas.history import FanSegmentMembership
from fanbase.schemas.history import MembershipEvent
from fanbase.schemas.history import SizePoint
from fanbase.services import fans as fans_service

MAX_BUCKETS = 24 * 366  # a year of hours, or 24 years of days


def _require_segment(connection: Connection, workspace_id: int, segment_id: int) -> None:
    if segments_repo.get_segment(connection, workspace_id, segment_id) is None:
        raise NotFound(f"segment {segment_id} not found")


def segment_history(
    database: Database,
    workspace_id: int,
    segment_id: int,
    *,
    page: int,
    page_size: int,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Page[MembershipEvent]:
    """Every entry and exit of a segment, newest first; with ``start`` / ``end``, those in that period (from
    ``start`` included to ``end`` excluded: one day's, say)."""
    if start is not None and end is not None and end <= start:
        raise InvalidInput("must be after start", field="end")
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        _require_segment(connection, workspace_id, segment_id)
        rows, total = history_repo.segment_log(
            connection,
            workspace_id,
            segment_id=segment_id,
            start=start,
            end=end,
            limit=page_size,
            offset=(page - 1) * page_size,
        )
    return Page[MembershipEvent](items=rows, total=total, page=page, page_size=page_size)


def fan_history(
    database: Database, workspace_id: int, fan_id: int, *, page: int, page_size: int
) -> Page[MembershipEvent]:
    """Every segment a fan entered or left, newest first."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        fans_service.load_fan(connection, workspace_id, fan_id)
        rows, total = history_repo.segment_log(
            connection, workspace_id, fan_id=fan_id, limit=page_size, offset=(page - 1) * page_size
        )
    return Page[MembershipEvent](items=rows, total=total, page=page, page_size=page_size)


def fan_segments(database: Database, workspace_id: int, fan_id: int) -> list[FanSegmentMembership]:
    """Why is this fan in each of its segments, and since when."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        fans_service.load_fan(connection, workspace_id, fan_id)
        return history_repo.current_memberships(connection, workspace_id, fan_id)


def members_as_of(
    database: Database, workspace_id: int, segment_id: int, *, at: datetime, page: int, page_size: int
) -> Page[Fan]:
    """The members a segment had at a past instant, rebuilt from the ledger (fans erased since are gone)."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        _require_segment(connection, workspace_id, segment_id)
        selection = FanSelection(segment_id=segment_id, member_at=at)
        items, total = fan_selections.page_fans(connection, workspace_id, selection, page=page, page_size=page_size)
        return Page[Fan](
            items=fans_service.present(connection, workspace_id, items), total=total, page=page, page_size=page_size
        )


def _series(
    connection: Connection,
    changes: history_repo.ChangesQuery,
    workspace_id: int,
    object_id: int,
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
) -> list[SizePoint]:
    """Every bucket from the one holding ``start`` to ``end`` (empty ones included), with the size at its end."""
    if end <= start:
        raise InvalidInput("must be after start", field="end")
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        first = first.replace(hour=0)
    if (end - first) / step > MAX_BUCKETS:
        raise InvalidInput(f"the period holds more than {MAX_BUCKETS} {bucket}s; use a larger bucket", field="bucket")
    size, counted = changes(connection, workspace_id, object_id, start=first, end=end, bucket=bucket)
    by_key = {key: (entered, exited) for key, entered, exited in counted}
    points = []
    moment = first
    while moment < end:
        key = moment.strftime("%Y-%m-%d" if bucket == "day" else "%Y-%m-%d %H")
        entered, exited = by_key.get(key, (0, 0))
        size += entered - exited
        points.append(SizePoint(at=moment, size=size, entered=entered, exited=exited))
        moment += step
    return points


@dataclass(frozen=True)
class _Sized:
    """Something whose size over time a ledger records: its noun for messages, how to find it, its ledger's changes."""

    noun: str
    get: Callable[[Connection, int, int], object | None]
    changes: history_repo.ChangesQuery

    def sizes(
        self, database: Database, workspace_id: int, object_id: int, *, start: datetime, end: datetime, bucket: Bucket
    ) -> list[SizePoint]:
        with database.transaction(workspace_id=workspace_id, write=False) as connection:
            if self.get(connection, workspace_id, object_id) is None:
                raise NotFound(f"{self.noun} {object_id} not found")
            return _series(connection, self.changes, workspace_id, object_id, start=start, end=end, bucket=bucket)


segment_sizes = _Sized("segment", segments_repo.get_segment, history_repo.segment_changes).sizes
tag_sizes = _Sized("tag", tags_repo.get_tag, history_repo.tag_changes).sizes
list_sizes = _Sized("list", lists_repo.get_list, history_repo.list_changes).sizes  # subscribed fans over time
