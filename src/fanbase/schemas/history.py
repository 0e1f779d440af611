"""The membership ledgers: who entered and left which segment, when and why; sizes over time."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from fanbase.schemas.common import Record
from fanbase.schemas.segments import SegmentKind

Bucket = Literal["hour", "day"]


class MembershipEvent(Record):
    """One line of the ledger: a fan entered or left a segment, when, and why."""

    segment_id: int
    segment_name: str
    fan_id: int
    fan_email: str
    entered: bool
    at: datetime
    cause: str = Field(description="write, time, manual, import, rule_edit, build or refresh")
    rule_version: int


class FanSegmentMembership(Record):
    """A segment a fan is in now: since when, and what put them there."""

    segment_id: int
    segment_name: str
    kind: SegmentKind
    since: datetime
    cause: str
    rule_version: int


class SizePoint(Record):
    at: datetime = Field(description="Start of the hour or day (UTC).")
    size: int = Field(description="Size at the end of the bucket.")
    entered: int
    exited: int
