"""A subject access export: everything fanbase holds about one fan."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from fanbase.schemas.common import Record
from fanbase.schemas.fans import Fan
from fanbase.schemas.history import FanSegmentMembership
from fanbase.schemas.history import MembershipEvent
from fanbase.schemas.lists import ListMembership
from fanbase.schemas.messages import RecipientState
from fanbase.schemas.orders_events import Event
from fanbase.schemas.orders_events import Order


class MailReceived(Record):
    message_id: int
    message_name: str
    subject: str
    email: str = Field(description="The address it went to.")
    state: RecipientState
    sent_at: datetime | None


class FanExport(Record):
    exported_at: datetime
    fan: Fan = Field(description="The profile: email, name, stage, source, figures, location, custom fields, tags.")
    lists: list[ListMembership] = Field(description="Each list with its subscription status and consent.")
    segments: list[FanSegmentMembership] = Field(description="The segments the fan is in now, since when and why.")
    segment_history: list[MembershipEvent] = Field(description="Every entry and exit, newest first.")
    orders: list[Order] = Field(description="Every order, newest first.")
    events: list[Event] = Field(description="Every activity event, newest first.")
    mail: list[MailReceived] = Field(
        default_factory=list, description="Every message sent (or to be sent) to the fan, newest first."
    )
