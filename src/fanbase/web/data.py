"""Reads the pages share: the workspace's field catalogue and names, the history series, and the impact preview."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Literal

from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.schemas.history import FanSegmentMembership
from fanbase.schemas.history import SizePoint
from fanbase.schemas.segments import Impact
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import Segment
from fanbase.services import custom_fields
from fanbase.services import history
from fanbase.services import lists
from fanbase.services import segments
from fanbase.services import tags
from fanbase.web.state import current


def catalogue(workspace_id: int) -> Catalogue:
    fields = custom_fields.list_custom_fields(current().database, workspace_id)
    return Catalogue(
        custom_fields=tuple(
            FieldSpec(name=field.name, type=FieldType(field.type), choices=tuple(field.choices or ()))
            for field in fields
        )
    )


def tag_names(workspace_id: int) -> list[str]:
    return [tag.name for tag in tags.list_tags(current().database, workspace_id)]


def list_names(workspace_id: int) -> list[str]:
    return [item.name for item in lists.list_lists(current().database, workspace_id)]


def all_segments(workspace_id: int) -> list[Segment]:
    return segments.list_segments(current().database, workspace_id)


def size_series(
    kind: Literal["segment", "tag", "list"], workspace_id: int, item_id: int, *, days: int = 30
) -> list[SizePoint]:
    """Daily sizes (with entered/exited) of a segment, tag or list over the last ``days``, from the history."""
    state = current()
    now = state.now()
    function = {"segment": history.segment_sizes, "tag": history.tag_sizes, "list": history.list_sizes}[kind]
    return function(state.database, workspace_id, item_id, start=now - timedelta(days=days), end=now, bucket="day")


def fan_segments(workspace_id: int, fan_id: int) -> list[FanSegmentMembership]:
    return history.fan_segments(current().database, workspace_id, fan_id)


def impact(workspace_id: int, segment_id: int, rule_in: RuleIn, *, now: datetime) -> Impact:
    """Who would join or leave with an edited rule (nothing is changed)."""
    return segments.impact(current().database, workspace_id, segment_id, rule_in, now=now)
