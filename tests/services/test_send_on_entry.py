"""Send on entry: a message attached to a segment reaches each fan who enters it, once, after its delay, if they are
still in it and reachable then — entries by a write and entries by time alike, on both databases."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from fanbase.db.engine import Database
from fanbase.schemas.fans import FanIn
from fanbase.schemas.lists import ListIn
from fanbase.schemas.lists import SubscriptionIn
from fanbase.schemas.messages import MessageIn
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.tags import TagIn
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import mail_delivery
from fanbase.services import membership
from fanbase.services import messages
from fanbase.services import orders_events
from fanbase.services import segments
from fanbase.services import tags

BASE_URL = "https://fans.example.com"
LEASE = timedelta(minutes=2)


def _fan(
    database: Database, workspace_id: int, name: str, list_id: int, now: datetime, *, subscribed: bool = True
) -> int:
    fan_id = fans.create_fan(database, workspace_id, FanIn(email=f"{name}@example.com", first_name=name), now=now).id
    if subscribed:
        lists.set_subscription(database, workspace_id, list_id, SubscriptionIn(fan_ids=(fan_id,)), now=now)
    return fan_id


def _deliver(database: Database, workspace_id: int, now: datetime) -> list[str]:
    """One sender round for the workspace: entries enqueued, due mail claimed and stored; the addresses sent to."""
    mail_delivery.enqueue_entries(database, workspace_id, now=now)
    mails = mail_delivery.claim(database, workspace_id, now=now, limit=100, lease=LEASE, base_url=BASE_URL)
    mail_delivery.deliver_to_outbox(database, mails, now=now)
    return sorted(mail.to_address for mail in mails)


def _states(database: Database, workspace_id: int, message_id: int) -> dict[str, tuple[str, str | None]]:
    page = messages.recipients(database, workspace_id, message_id, page=1, page_size=100)
    return {recipient.email: (recipient.state, recipient.error) for recipient in page.items}


def test_a_fan_who_enters_gets_it_once_after_the_delay(database: Database, workspace_id: int, now: datetime) -> None:
    newsletter = lists.create_list(database, workspace_id, ListIn(name="Newsletter"), now=now)
    vip = tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
    segment = segments.create_segment(database, workspace_id, SegmentIn(name="VIPs", rule_text='tag "VIP"'), now=now)
    ann = _fan(database, workspace_id, "ann", newsletter.id, now)
    bo = _fan(database, workspace_id, "bo", newsletter.id, now, subscribed=False)
    cy = _fan(database, workspace_id, "cy", newsletter.id, now)
    tags.tag_fans(database, workspace_id, vip.id, [ann], now=now)  # in the segment before it was activated
    message = messages.create_message(
        database,
        workspace_id,
        MessageIn(
            name="Welcome, VIP",
            subject="Welcome {{ first_name }}",
            body="You are in.",
            on_entry_segment_id=segment.id,
            on_entry_delay_minutes=24 * 60,
            list_id=newsletter.id,
        ),
        now=now,
    )
    assert messages.audience(database, workspace_id, message.id).reachable == 1  # who is in it now
    activated = messages.send_message(database, workspace_id, message.id, at=None, now=now)
    assert (activated.status, activated.recipients) == ("sending", 0)

    later = now + timedelta(hours=1)
    tags.tag_fans(database, workspace_id, vip.id, [bo, cy], now=later)
    assert _deliver(database, workspace_id, later) == []  # not due before its delay
    states = _states(database, workspace_id, message.id)
    assert states["bo@example.com"] == ("skipped", "not sent: no consent")
    assert states["cy@example.com"][0] == "queued"
    assert "ann@example.com" not in states  # entered before the message was activated

    # cy leaves and comes back: still one mail.
    tags.untag_fans(database, workspace_id, vip.id, [cy], now=later + timedelta(minutes=1))
    tags.tag_fans(database, workspace_id, vip.id, [cy], now=later + timedelta(minutes=2))
    due = later + timedelta(days=1)
    assert _deliver(database, workspace_id, due) == ["cy@example.com"]
    assert _deliver(database, workspace_id, due + timedelta(days=1)) == []
    assert messages.get_message(database, workspace_id, message.id).status == "sending"  # still active
    assert messages.stats(database, workspace_id, message.id).sent == 1


def test_a_time_driven_entry_sends_and_one_who_left_before_the_delay_is_skipped(
    database: Database, workspace_id: int, now: datetime
) -> None:
    newsletter = lists.create_list(database, workspace_id, ListIn(name="Newsletter"), now=now)
    lapsed = segments.create_segment(
        database, workspace_id, SegmentIn(name="Lapsed", rule_text="last_active_at more_than 30 days ago"), now=now
    )
    dee = _fan(database, workspace_id, "dee", newsletter.id, now)
    eve = _fan(database, workspace_id, "eve", newsletter.id, now)
    for fan_id in (dee, eve):
        orders_events.record_event(
            database,
            workspace_id,
            EventIn(fan_id=fan_id, type="page_viewed", occurred_at=now - timedelta(days=29)),
            now=now,
        )
    message = messages.create_message(
        database,
        workspace_id,
        MessageIn(
            name="We miss you",
            subject="We miss you",
            body="Come back",
            on_entry_segment_id=lapsed.id,
            on_entry_delay_minutes=60,
            list_id=newsletter.id,
        ),
        now=now,
    )
    messages.send_message(database, workspace_id, message.id, at=None, now=now)
    crossing = now + timedelta(days=1, minutes=1)
    membership.apply_time(database, workspace_id, now=crossing)  # both have now been inactive for 30 days
    assert _deliver(database, workspace_id, crossing) == []
    # eve comes back within the hour: she has left the segment when her mail falls due.
    orders_events.record_event(
        database, workspace_id, EventIn(fan_id=eve, type="page_viewed", occurred_at=crossing), now=crossing
    )
    due = crossing + timedelta(hours=1)
    assert _deliver(database, workspace_id, due) == ["dee@example.com"]
    states = _states(database, workspace_id, message.id)
    assert states["eve@example.com"] == ("skipped", "not sent: left segment")
