"""Webhooks: subscriptions to membership, tag and list events, and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from typing import Literal
from typing import get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator
from pydantic import Field
from pydantic import field_validator

from fanbase.schemas.common import Input
from fanbase.schemas.common import Record

WebhookEvent = Literal[
    "segment.entered",
    "segment.exited",
    "tag.added",
    "tag.removed",
    "list.subscribed",
    "list.unsubscribed",
    "fan.erased",
]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = get_args(WebhookEvent)
DeliveryStatus = Literal["pending", "retrying", "delivered", "skipped", "gave_up"]


def webhook_url(value: str) -> str:
    """The syntax half of target validation (http/https, a host, no credentials); which addresses the host may
    resolve to is checked by the service, which can resolve names."""
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials (user:password@); verify requests with the signature")
    if not parts.hostname:
        raise ValueError("must name a host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if any(character.isspace() for character in value):
        raise ValueError("must not contain whitespace")
    return value


class WebhookIn(Input):
    url: Annotated[
        str,
        Field(
            min_length=1,
            max_length=2000,
            description="Where to POST events: http(s), no credentials; private addresses are refused by default.",
        ),
        AfterValidator(webhook_url),
    ]
    events: tuple[WebhookEvent, ...] = Field(min_length=1, max_length=len(WEBHOOK_EVENTS))

    @field_validator("events")
    @classmethod
    def _canonical_events(cls, value: tuple[WebhookEvent, ...]) -> tuple[WebhookEvent, ...]:
        return tuple(event for event in WEBHOOK_EVENTS if event in value)


class Webhook(Record):
    id: int
    url: str
    events: list[WebhookEvent]
    created_at: datetime
    disabled_at: datetime | None = Field(description="Set when disabled; a disabled webhook receives nothing.")


class WebhookCreated(Webhook):
    secret: str = Field(
        description="The signing secret. Shown once: verify `Fanbase-Webhook-Signature` = "
        "v1=hex(HMAC-SHA256(secret, timestamp + '.' + body))."
    )


class Delivery(Record):
    id: int = Field(description="The delivery's own id (one per webhook and event).")
    event_id: str = Field(description="The event's id, sent as `Fanbase-Webhook-Id`; the same on every retry.")
    type: WebhookEvent
    status: DeliveryStatus = Field(
        description="pending (not tried yet), retrying (failed, will retry), delivered, skipped (its source was "
        "erased before delivery: nothing sent), gave_up (failed too many times: no more retries)."
    )
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When it will be tried next; null once finished.")
    last_error: str | None
