"""Fans: the contacts of a workspace, and the filters of the fan list."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from typing import Literal

from pydantic import Field

from fanbase.schemas.common import CountryCode
from fanbase.schemas.common import Email
from fanbase.schemas.common import Input
from fanbase.schemas.common import Name
from fanbase.schemas.common import Properties
from fanbase.schemas.common import Record
from fanbase.schemas.common import RuleJson
from fanbase.schemas.common import RuleText
from fanbase.schemas.common import ShortText
from fanbase.schemas.common import UtcDatetime
from fanbase.schemas.lists import SubscriptionStatus

LifecycleStage = Literal["subscriber", "lead", "customer", "advocate"]
FanSource = Literal["subscription", "direct_purchase", "import", "event", "social", "referral", "manual"]


class FanIn(Input):
    email: Email
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    lifecycle_stage: LifecycleStage = "subscriber"
    source: FanSource = "manual"
    country: CountryCode | None = None
    city: ShortText | None = None
    created_at: UtcDatetime | None = Field(default=None, description="When the fan joined; default now.")
    custom_fields: Properties = Field(default_factory=dict)
    tags: tuple[Name, ...] = Field(default=(), description="Tag names; missing tags are created.")
    lists: tuple[Name, ...] = Field(default=(), description="List names to subscribe to; created if missing.")


class FanPatch(Input):
    """Partial update: only the fields present change. A custom field set to null is removed."""

    email: Email | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    lifecycle_stage: LifecycleStage | None = None
    source: FanSource | None = None
    country: CountryCode | None = None
    city: ShortText | None = None
    custom_fields: Properties | None = None


class Fan(Record):
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    lifecycle_stage: LifecycleStage
    source: FanSource
    country: str | None
    city: str | None
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    total_spent: Decimal
    purchase_count: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    last_active_at: datetime | None
    tags: tuple[str, ...] = ()
    lists: dict[str, SubscriptionStatus] = Field(default_factory=dict)


# A custom field may not take one of these names.
CORE_FAN_FIELDS = frozenset(Fan.model_fields)


class FanFilter(Input):
    """Filters for the fan list; all given filters must hold."""

    tag: str | None = None
    list: str | None = None
    list_status: SubscriptionStatus = "subscribed"
    lifecycle_stage: LifecycleStage | None = None
    source: FanSource | None = None
    q: str | None = Field(default=None, max_length=200, description="Text search in email and names.")
    segment_id: int | None = Field(default=None, description="Members of this segment.")
    rule: RuleJson | None = Field(default=None, description="An ad-hoc rule (JSON form).")
    rule_text: RuleText | None = Field(default=None, description="An ad-hoc rule (text form).")
