"""Data in from where artists sell: CSV imports of orders and events, signed sales webhooks and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import Literal

from pydantic import Field

from fanbase.schemas.common import Input
from fanbase.schemas.common import Record
from fanbase.schemas.fan_csv import ImportRowError

ImportKind = Literal["orders", "events"]
ImportFormat = Literal["generic", "shopify", "bandcamp", "stripe", "eventbrite"]
FormatChoice = Literal["auto", "generic", "shopify", "bandcamp", "stripe", "eventbrite"]
Vendor = Literal["shopify", "stripe", "generic"]
DeliveryOutcome = Literal["processed", "unchanged", "ignored", "rejected", "failed"]


class SalesImportReport(Record):
    kind: ImportKind
    format: ImportFormat
    rows: int = Field(description="Data rows read (blank lines aside).")
    orders_created: int
    orders_refunded: int = Field(description="Orders already recorded that this file refunded, wholly or in part.")
    events_created: int
    unchanged: int = Field(description="Rows already recorded exactly so: a re-import changes nothing.")
    skipped: int = Field(description="Rows that record no purchase: payouts, unpaid or failed payments.")
    fans_created: int
    errors: list[ImportRowError] = Field(description="Every bad row (the first 1,000), with its line and reason.")
    error_count: int


class PreviewRow(Record):
    line: int
    record: Literal["order", "event", "refund"]
    values: dict[str, Any] = Field(description="The row as fanbase will write it.")


class SalesImportPreview(Record):
    kind: ImportKind
    format: ImportFormat
    columns: list[str] = Field(description="The file's header.")
    used_columns: list[str] = Field(description="The columns this format reads.")
    rows: list[PreviewRow]
    errors: list[ImportRowError]


class SalesSourceIn(Input):
    secret: str | None = Field(
        default=None,
        min_length=8,
        max_length=200,
        description="Shopify: the app's client secret; Stripe: the endpoint's signing secret (whsec_…). Omitted for "
        "generic: fanbase makes one.",
    )


class SalesSource(Record):
    vendor: Vendor
    url: str = Field(description="Where the vendor posts (absolute when the server knows its public address).")
    created_at: datetime
    secret: str | None = Field(default=None, description="Shown when fanbase made it, in this reply only.")


class SalesDelivery(Record):
    id: int
    vendor: Vendor
    topic: str
    delivery_id: str | None
    received_at: datetime
    outcome: DeliveryOutcome
    status_code: int
    detail: str | None
    orders: int
    events: int
