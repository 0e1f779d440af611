"""Messages: email to segments — content, audience (total and reachable, with the reasons), recipients, settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from typing import Literal

from pydantic import Field
from pydantic import model_validator

from fanbase.schemas.common import Email
from fanbase.schemas.common import Input
from fanbase.schemas.common import Name
from fanbase.schemas.common import Record
from fanbase.schemas.common import RowId
from fanbase.schemas.common import UtcDatetime

MessageStatus = Literal["draft", "scheduled", "sending", "sent", "cancelled"]
RecipientState = Literal["queued", "sending", "accepted", "sent", "failed", "bounced", "skipped"]
# Why a fan of a message's segments is not reachable, in the order they are checked: the first that applies counts.
UnreachableReason = Literal["excluded", "suppressed", "bounced", "complained", "unsubscribed", "no_consent"]
UNREACHABLE_REASONS: tuple[UnreachableReason, ...] = (
    "excluded",
    "suppressed",
    "bounced",
    "complained",
    "unsubscribed",
    "no_consent",
)

MAX_MESSAGE_SEGMENTS = 20
Subject = Annotated[str, Field(min_length=1, max_length=200)]
Preheader = Annotated[str, Field(max_length=250)]
Body = Annotated[str, Field(min_length=1, max_length=100_000)]
SegmentIds = Annotated[tuple[RowId, ...], Field(max_length=MAX_MESSAGE_SEGMENTS)]


MAX_ENTRY_DELAY_MINUTES = 365 * 24 * 60
ON_ENTRY_DESCRIPTION = (
    "Send on entry: each fan who enters this segment from the moment the message is sent (activated) gets it once,"
    " `on_entry_delay_minutes` after entering, if they are still in the segment and reachable then."
)


class _Audience(Input):
    @model_validator(mode="after")
    def _segments_once(self) -> _Audience:
        included = getattr(self, "segment_ids", None) or ()
        excluded = getattr(self, "excluded_segment_ids", None) or ()
        both = sorted(set(included) & set(excluded))
        if both:
            raise ValueError(f"segment {both[0]} is both included and excluded")
        trigger = getattr(self, "on_entry_segment_id", None)
        if trigger is not None and included:
            raise ValueError("a message sent on entry goes to those who enter its segment: leave segment_ids empty")
        if trigger is not None and trigger in excluded:
            raise ValueError(f"segment {trigger} is both the trigger and excluded")
        return self


class MessageIn(_Audience):
    name: Name
    subject: Subject
    preheader: Preheader = ""
    body: Body = Field(description='Markdown; merge fields such as {{ first_name | default("friend") }}.')
    segment_ids: SegmentIds = Field(default=(), description="The segments whose members it goes to.")
    excluded_segment_ids: SegmentIds = Field(default=(), description="Members of these never get it.")
    list_id: RowId | None = Field(
        default=None, description="The list whose subscribed members consented to mail: only they are reachable."
    )
    on_entry_segment_id: RowId | None = Field(default=None, description=ON_ENTRY_DESCRIPTION)
    on_entry_delay_minutes: int = Field(default=0, ge=0, le=MAX_ENTRY_DELAY_MINUTES)


class MessagePatch(_Audience):
    name: Name | None = None
    subject: Subject | None = None
    preheader: Preheader | None = None
    body: Body | None = None
    segment_ids: SegmentIds | None = None
    excluded_segment_ids: SegmentIds | None = None
    list_id: RowId | None = None
    on_entry_segment_id: RowId | None = None
    on_entry_delay_minutes: int | None = Field(default=None, ge=0, le=MAX_ENTRY_DELAY_MINUTES)


class Message(Record):
    id: int
    name: str
    subject: str
    preheader: str
    body: str
    segment_ids: list[int]
    excluded_segment_ids: list[int]
    list_id: int | None
    on_entry_segment_id: int | None = Field(description=ON_ENTRY_DESCRIPTION)
    on_entry_delay_minutes: int
    status: MessageStatus
    send_at: datetime | None = Field(description="When a scheduled message goes out.")
    sent_at: datetime | None = Field(description="When its recipients were frozen.")
    recipients: int = Field(description="How many fans it was sent to (frozen at sent_at).")
    created_at: datetime
    updated_at: datetime


class SendIn(Input):
    at: UtcDatetime | None = Field(default=None, description="Schedule for this time; now when absent.")


class Audience(Record):
    total: int = Field(description="Fans in the message's segments.")
    reachable: int = Field(description="Of them, those it would be sent to now.")
    unreachable: dict[UnreachableReason, int] = Field(
        description="Why the others are not, each fan counted once, under the first reason that applies."
    )
    summary: str


class Recipient(Record):
    id: int
    fan_id: int
    email: str
    state: RecipientState
    attempts: int
    sent_at: datetime | None
    error: str | None


class Rendered(Record):
    fan_id: int | None
    subject: str
    preheader: str
    html: str
    text: str


class SendTestIn(Input):
    email: Email = Field(description="Where the test goes.")
    fan_id: RowId | None = Field(default=None, description="Whose merge fields to use; the first fan when absent.")


class MailSettings(Record):
    sender_name: str
    sender_address: str
    tracking: bool = Field(description="Open pixel and click redirects in each mail.")
    send_rate: int = Field(description="At most this many messages a second for this workspace.")
    inbound_secret: str = Field(
        description="Signs a provider's JSON bounce and complaint events (POST /inbound/{workspace}/mail-events)."
    )


class MailSettingsPatch(Input):
    sender_name: Name | None = None
    sender_address: Email | None = None
    tracking: bool | None = None
    send_rate: int | None = Field(default=None, ge=1, le=1000)


class InboundResult(Record):
    bounced: int = Field(description="Recipients marked bounced (their address suppressed).")
    complained: int = Field(description="Complaints: the address suppressed, the fan unsubscribed.")
    delayed: int = Field(description="Delays reported: nothing changes.")
    unsubscribed: int = Field(description="mailto: unsubscribes done.")
    unknown: int = Field(description="About mail fanbase cannot find (another workspace's, or erased).")
    ignored: int = Field(description="Mail that is none of these.")


class OutboxMail(Record):
    id: int
    message_id: int
    message_name: str
    recipient_id: int | None = Field(description="None for a test send.")
    to_address: str
    subject: str
    stored_at: datetime


class DayCount(Record):
    day: str = Field(description="YYYY-MM-DD (UTC)")
    opened: int
    clicked: int


class MessageStats(Record):
    recipients: int
    queued: int = Field(description="Not yet sent (waiting, being sent, or to be retried).")
    sent: int = Field(description="Accepted by the mail server (or stored in the local outbox).")
    failed: int = Field(description="Gave up after retries.")
    bounced: int = Field(description="Refused for good; the address is suppressed.")
    skipped: int = Field(description="Not sent: the message was cancelled.")
    opened: int = Field(description="Recipients who opened it (at least once; needs tracking).")
    clicked: int = Field(description="Recipients who followed a link in it (needs tracking).")
    unsubscribed: int = Field(description="Recipients who unsubscribed through it.")
    by_day: list[DayCount] = Field(description="Opens and clicks per day (every one, not only the first).")


class SegmentMailCount(Record):
    segment_id: int
    received: int = Field(description="Messages sent to the segment's current members in the last 30 days.")


class SentTest(Record):
    to: str
    via: Literal["smtp", "outbox"]
    message_key: str = Field(description="The test mail's Message-ID.")
