"""Segments: static and dynamic, their previews, templates, impact and drift."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import Field
from pydantic import model_validator

from fanbase.schemas.common import Email
from fanbase.schemas.common import Input
from fanbase.schemas.common import Name
from fanbase.schemas.common import Record
from fanbase.schemas.common import RuleJson
from fanbase.schemas.common import RuleText
from fanbase.schemas.fans import Fan

SegmentKind = Literal["static", "dynamic"]


class RuleIn(Input):
    """A rule given either as JSON (`rule`) or in the text form (`rule_text`)."""

    rule: RuleJson | None = None
    rule_text: RuleText | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RuleIn:
        if (self.rule is None) == (self.rule_text is None):
            raise ValueError("give exactly one of rule (JSON) or rule_text")
        return self


class SegmentIn(Input):
    name: Name
    description: Annotated[str, Field(max_length=1000)] | None = None
    kind: SegmentKind = "dynamic"
    rule: RuleJson | None = None
    rule_text: RuleText | None = None

    @model_validator(mode="after")
    def _rule_fits_kind(self) -> SegmentIn:
        has_rule = self.rule is not None or self.rule_text is not None
        if self.kind == "static" and has_rule:
            raise ValueError("a static segment has no rule: add fans to it instead")
        if self.kind == "dynamic" and (self.rule is None) == (self.rule_text is None):
            raise ValueError("a dynamic segment needs exactly one of rule (JSON) or rule_text")
        return self


class SegmentPatch(Input):
    """Rename, describe, or edit the rule (dynamic segments); a rule edit is versioned and applied at once."""

    name: Name | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    rule: RuleJson | None = None
    rule_text: RuleText | None = None

    @model_validator(mode="after")
    def _one_rule_form(self) -> SegmentPatch:
        if self.rule is not None and self.rule_text is not None:
            raise ValueError("give at most one of rule (JSON) or rule_text")
        return self


class Segment(Record):
    id: int
    name: str
    description: str | None
    kind: SegmentKind
    rule: dict[str, Any] | None = Field(description="The rule's JSON form (dynamic segments).")
    rule_text: str | None = Field(description="The rule in the text form.")
    rule_english: str | None = Field(description="The rule in plain English.")
    rule_version: int
    size: int
    created_at: datetime
    updated_at: datetime
    last_evaluated_at: datetime | None
    last_error: str | None
    next_flip_at: datetime | None = Field(
        default=None,
        description="The next moment time alone can change this segment's members (rules with relative dates).",
    )
    used_by: list[str] = Field(
        default_factory=list,
        description="The segments whose rules name this one (it cannot be deleted or renamed while any does).",
    )


class ConditionCount(Record):
    path: str = Field(description="Where the condition sits in the rule, e.g. all[1].")
    description: str
    count: int = Field(description="Fans matching this condition alone.")


class RuleHint(Record):
    path: str = Field(description="Where the hint applies in the rule, e.g. all[0].count.where.value.")
    message: str = Field(description="e.g. no event type 'gig_atended' has been recorded yet (did you mean …?)")


class Preview(Record):
    count: int
    sample: list[Fan]
    conditions: list[ConditionCount]
    rule: dict[str, Any]
    rule_text: str
    rule_english: str
    hints: list[RuleHint] = Field(
        default_factory=list,
        description="What the rule names that the workspace's data does not hold yet (event types, order "
        "categories), with the closest name it does hold. The rule is valid; a hint is likely a misspelling.",
    )


class MembershipChange(Record):
    entered: int
    exited: int
    size: int


class SegmentTemplate(Record):
    key: str
    name: str
    description: str
    rule_text: str
    requires: tuple[str, ...] = Field(default=(), description="Templates this one is built on (segments of segments).")


class EmailsIn(Input):
    emails: tuple[Email, ...] = Field(min_length=1, max_length=10_000)


class Impact(Record):
    """What saving a rule edit would do, before it is saved."""

    joining: int
    leaving: int
    size_after: int
    sample_joining: list[Fan]
    sample_leaving: list[Fan]


class SegmentDrift(Record):
    """A from-scratch recomputation compared with stored membership."""

    segment_id: int
    segment_name: str
    missing: int = Field(description="Fans the rule matches who are not stored as members.")
    extra: int = Field(description="Stored members the rule no longer matches.")
    pending_time: int = Field(
        description="Differences explained by time boundaries crossed since the last tick (applied at the next)."
    )

    @property
    def is_exact(self) -> bool:
        return self.missing == 0 and self.extra == 0
