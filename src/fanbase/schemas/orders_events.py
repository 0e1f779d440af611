"""Orders and activity events: what fans bought and did, one at a time or in batches."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import Field
from pydantic import field_validator
from pydantic import model_validator

from fanbase.schemas.common import Email
from fanbase.schemas.common import Input
from fanbase.schemas.common import Money
from fanbase.schemas.common import Properties
from fanbase.schemas.common import Record
from fanbase.schemas.common import RowId
from fanbase.schemas.common import ShortText
from fanbase.schemas.common import Slug
from fanbase.schemas.common import UtcDatetime

OrderStatus = Literal["completed", "refunded"]
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class FanReference(Input):
    """Who did it: an existing fan's id, or an email (a fan is created for an unknown email)."""

    fan_id: RowId | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> FanReference:
        if (self.fan_id is None) == (self.email is None):
            raise ValueError("give exactly one of fan_id or email")
        return self


class OrderIn(FanReference):
    amount: Money
    currency: str | None = Field(
        default=None,
        description="ISO 4217; default the workspace currency. Another currency is converted at the workspace's "
        "exchange rate valid on the order's day.",
    )
    category: Annotated[str, Field(min_length=1, max_length=64)]
    product: ShortText | None = None
    status: OrderStatus = "completed"
    placed_at: UtcDatetime | None = Field(default=None, description="Default now.")
    external_id: ShortText | None = Field(default=None, description="Your shop's order id; unique.")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not _CURRENCY.match(value.upper()):
            raise ValueError("must be a three-letter ISO 4217 code, e.g. USD")
        return value.upper() if value else value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        return value.strip().lower()


class Order(Record):
    id: int
    fan_id: int
    amount: Decimal = Field(description="In the workspace currency: what totals and rules on money use.")
    currency: str = Field(description="The workspace currency.")
    original_amount: Decimal = Field(description="What the shop charged, in `original_currency`.")
    original_currency: str
    exchange_rate: Decimal = Field(description="Workspace-currency units per unit of `original_currency`, used once.")
    refunded_amount: Decimal = Field(
        description="Refunded so far, in `original_currency`; a partial refund lowers `amount`, a whole one marks the "
        "order refunded."
    )
    category: str
    product: str | None
    status: OrderStatus
    placed_at: datetime
    refunded_at: datetime | None
    external_id: str | None
    created_at: datetime


class EventIn(FanReference):
    type: Slug
    properties: Properties = Field(default_factory=dict)
    occurred_at: UtcDatetime | None = Field(default=None, description="Default now.")
    external_id: ShortText | None = Field(default=None, description="The source's id for this event; unique.")


class Event(Record):
    id: int
    fan_id: int
    type: str
    properties: dict[str, Any]
    occurred_at: datetime
    created_at: datetime
    external_id: str | None = None


class BatchResult(Record):
    ids: list[int]
    created_fans: int = Field(description="Fans created for emails that were not known yet.")
