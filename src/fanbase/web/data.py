"""Reads the pages share: the workspace's field catalogue and names, the history series, and the impact preview."""

from __future__ import annotations

import time
from datetime import datetime
from datetime import timedelta
from typing import Literal

from fanbase.core.fields import Catalogue
from fanbase.schemas.analytics import SeenValues
from fanbase.schemas.common import Page
from fanbase.schemas.history import FanSegmentMembership
from fanbase.schemas.history import MembershipEvent
from fanbase.schemas.history import SizePoint
from fanbase.schemas.segments import Impact
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import Segment
from fanbase.services import history
from fanbase.services import lists
from fanbase.services import previews
from fanbase.services import rule_context
from fanbase.services import seen_values as seen_values_service
from fanbase.services import segments
from fanbase.services import tags
from fanbase.web.state import current


def catalogue(workspace_id: int) -> Catalogue:
    return rule_context.catalogue(current().database, workspace_id)


def tag_names(workspace_id: int) -> list[str]:
    return [tag.name for tag in tags.list_tags(current().database, workspace_id)]


def list_names(workspace_id: int) -> list[str]:
    return [item.name for item in lists.list_lists(current().database, workspace_id)]


def all_segments(workspace_id: int) -> list[Segment]:
    return segments.list_segments(current().database, workspace_id)


def size_series(
    kind: Literal["segment", "tag", "list"],
    workspace_id: int,
    item_id: int,
    *,
    days: int | None = 30,
    created_at: datetime | None = None,
) -> list[SizePoint]:
    """Daily sizes (with entered/exited) of a segment, tag or list over the last ``days`` (None: all time), from
    the history; never from before its ``created_at``, so a chart does not open on a run of zeros."""
    state = current()
    now = state.now()
    function = {"segment": history.segment_sizes, "tag": history.tag_sizes, "list": history.list_sizes}[kind]
    starts = [moment for moment in (created_at, now - timedelta(days=days) if days else None) if moment is not None]
    start = max(starts) if starts else now - timedelta(days=30)
    return function(
        state.database, workspace_id, item_id, start=min(start, now - timedelta(hours=1)), end=now, bucket="day"
    )


def segment_moves_between(workspace_id: int, segment_id: int, start: datetime, end: datetime) -> Page[MembershipEvent]:
    """Who entered and left a segment in a period (one day of its chart), newest first."""
    return history.segment_history(
        current().database, workspace_id, segment_id, page=1, page_size=MOVES_SHOWN, start=start, end=end
    )


# Entries and exits listed for one day of a segment's chart (the API pages through all of them).
MOVES_SHOWN = 200


def fan_segments(workspace_id: int, fan_id: int) -> list[FanSegmentMembership]:
    return history.fan_segments(current().database, workspace_id, fan_id)


def impact(workspace_id: int, segment_id: int, rule_in: RuleIn, *, now: datetime) -> Impact:
    """Who would join or leave with an edited rule (nothing is changed)."""
    return previews.impact(current().database, workspace_id, segment_id, rule_in, now=now)


# What the builder's pickers offer is read at most this often per workspace (counting a big workspace's event types
# and categories takes a while; a value seen a minute late can still be typed).
SEEN_VALUES_SECONDS = 60.0
_seen: dict[int, tuple[float, SeenValues]] = {}


def seen_values(workspace_id: int) -> SeenValues:
    """The workspace's event types, categories, products and event properties, with counts (cached a minute)."""
    cached = _seen.get(workspace_id)
    if cached is not None and time.monotonic() - cached[0] < SEEN_VALUES_SECONDS:
        return cached[1]
    found = seen_values_service.seen_values(current().database, workspace_id)
    _seen[workspace_id] = (time.monotonic(), found)
    return found
