"""Lists: broad categories with a per-fan subscription status and the consent behind it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from typing import Literal

from pydantic import Field

from fanbase.schemas.common import Input
from fanbase.schemas.common import Name
from fanbase.schemas.common import Record
from fanbase.schemas.common import RowId
from fanbase.schemas.common import ShortText
from fanbase.schemas.common import UtcDatetime

SubscriptionStatus = Literal["subscribed", "unsubscribed", "bounced"]


class ListIn(Input):
    name: Name
    description: Annotated[str, Field(max_length=1000)] | None = None


class ListPatch(Input):
    name: Name | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None


class FanList(Record):
    id: int
    name: str
    description: str | None
    created_at: datetime
    subscribed: int = 0
    unsubscribed: int = 0
    bounced: int = 0


class SubscriptionIn(Input):
    fan_ids: tuple[RowId, ...] = Field(min_length=1, max_length=10_000)
    status: SubscriptionStatus = "subscribed"
    consent_source: ShortText | None = Field(
        default=None, description="How consent was given, e.g. 'signup form', 'ticket checkout'."
    )
    consent_at: UtcDatetime | None = Field(default=None, description="When consent was given; default now.")


class ListMembership(Record):
    list_id: int
    list_name: str
    fan_id: int
    status: SubscriptionStatus
    consent_at: datetime | None
    consent_source: str | None
    status_changed_at: datetime
