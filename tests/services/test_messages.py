"""Messages: the audience's arithmetic (total, reachable, each reason counted once), freezing it at send time,
scheduling and cancelling, and delivery into the local outbox — on both databases."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest

from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.fans import FanIn
from fanbase.schemas.fans import FanPatch
from fanbase.schemas.lists import ListIn
from fanbase.schemas.lists import SubscriptionIn
from fanbase.schemas.messages import MessageIn
from fanbase.schemas.messages import MessagePatch
from fanbase.schemas.segments import SegmentIn
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import mail_delivery
from fanbase.services import messages
from fanbase.services import segments
from fanbase.services import suppressions
from fanbase.services import workspaces

BASE_URL = "https://fans.example.com"


@dataclass
class Setup:
    workspace_id: int
    fan_ids: dict[str, int]
    segment_id: int
    excluded_id: int
    list_id: int


def _setup(database: Database, workspace_id: int, now: datetime) -> Setup:
    """12 fans in the segment: 5 subscribed and reachable, and one of each other case; 2 fans outside it."""
    names = [
        "ann", "bo", "cy", "di", "ed",  # subscribed, reachable
        "excluded", "suppressed", "bounced", "unsubscribed", "no_list", "list_bounced", "excluded_unsub",
        "outside1", "outside2",
    ]  # fmt: skip
    ids = {
        name: fans.create_fan(
            database, workspace_id, FanIn(email=f"{name}@example.com", first_name=name.title()), now=now
        ).id
        for name in names
    }
    segment = segments.create_segment(database, workspace_id, SegmentIn(name="Fans", kind="static"), now=now)
    excluded = segments.create_segment(database, workspace_id, SegmentIn(name="Press", kind="static"), now=now)
    inside = [fan_id for name, fan_id in ids.items() if not name.startswith("outside")]
    segments.add_fans(database, workspace_id, segment.id, inside, now=now)
    segments.add_fans(database, workspace_id, excluded.id, [ids["excluded"], ids["excluded_unsub"]], now=now)
    newsletter = lists.create_list(database, workspace_id, ListIn(name="Newsletter"), now=now)
    subscribed = [fan_id for name, fan_id in ids.items() if name not in ("no_list", "unsubscribed", "list_bounced")]
    lists.set_subscription(database, workspace_id, newsletter.id, SubscriptionIn(fan_ids=tuple(subscribed)), now=now)
    for name, status in (
        ("unsubscribed", "unsubscribed"),
        ("excluded_unsub", "unsubscribed"),
        ("list_bounced", "bounced"),
    ):
        lists.set_subscription(
            database, workspace_id, newsletter.id, SubscriptionIn(fan_ids=(ids[name],), status=status), now=now
        )
    suppressions.add_suppression(database, workspace_id, "suppressed@example.com", now=now)
    with database.transaction(workspace_id=workspace_id) as connection:
        suppressions.suppress(connection, workspace_id, "bounced@example.com", reason="bounced", now=now)
    return Setup(workspace_id, ids, segment.id, excluded.id, newsletter.id)


def _message(database: Database, setup: Setup, now: datetime, **changes: object) -> int:
    data = {
        "name": "Tour",
        "subject": "Hi {{ first_name | default('friend') }}",
        "body": "We are **on tour**: [tickets](https://tickets.example.com/tour)",
        "segment_ids": (setup.segment_id,),
        "excluded_segment_ids": (setup.excluded_id,),
        "list_id": setup.list_id,
        **changes,
    }
    return messages.create_message(database, setup.workspace_id, MessageIn.model_validate(data), now=now).id


def test_the_audience_counts_each_unreachable_fan_once_under_its_first_reason(
    database: Database, workspace_id: int, now: datetime
) -> None:
    setup = _setup(database, workspace_id, now)
    audience = messages.audience(database, workspace_id, _message(database, setup, now))
    assert audience.total == 12
    assert audience.reachable == 5
    assert audience.unreachable == {
        "excluded": 2,  # excluded_unsub is also unsubscribed: counted once, as excluded
        "suppressed": 1,
        "bounced": 2,  # a bounce suppression and a bounced list status
        "unsubscribed": 1,
        "no_consent": 1,
    }
    assert audience.summary == (
        "12 in the segments → 5 reachable: 2 excluded, 1 suppressed, 2 bounced, 1 unsubscribed, 1 no consent"
    )


def test_sending_freezes_the_reachable_fans_and_their_addresses(
    database: Database, workspace_id: int, now: datetime
) -> None:
    setup = _setup(database, workspace_id, now)
    message_id = _message(database, setup, now)
    sent = messages.send_message(database, workspace_id, message_id, at=None, now=now)
    assert (sent.status, sent.recipients, sent.sent_at) == ("sending", 5, now)
    # Later changes do not move who it went to, nor to which address.
    fans.update_fan(database, workspace_id, setup.fan_ids["ann"], FanPatch(email="ann.new@example.com"), now=now)
    segments.remove_fans(database, workspace_id, setup.segment_id, [setup.fan_ids["bo"]], now=now)
    page = messages.recipients(database, workspace_id, message_id, page=1, page_size=50)
    assert page.total == 5
    assert {recipient.email for recipient in page.items} == {
        f"{name}@example.com" for name in ("ann", "bo", "cy", "di", "ed")
    }
    assert {recipient.state for recipient in page.items} == {"queued"}
    with pytest.raises(Conflict, match="cannot be sent again"):
        messages.send_message(database, workspace_id, message_id, at=None, now=now)
    with pytest.raises(Conflict, match="can no longer be changed"):
        messages.update_message(database, workspace_id, message_id, MessagePatch(subject="Changed"), now=now)


def test_a_message_needs_segments_a_consent_list_and_valid_content(
    database: Database, workspace_id: int, now: datetime
) -> None:
    setup = _setup(database, workspace_id, now)
    with pytest.raises(InvalidInput) as refused:
        messages.send_message(database, workspace_id, _message(database, setup, now, list_id=None), at=None, now=now)
    assert refused.value.field == "list_id"
    with pytest.raises(InvalidInput) as refused:
        messages.send_message(
            database,
            workspace_id,
            _message(database, setup, now, segment_ids=(), excluded_segment_ids=()),
            at=None,
            now=now,
        )
    assert refused.value.field == "segment_ids"
    with pytest.raises(NotFound) as missing:
        _message(database, setup, now, segment_ids=(999_999,))
    assert missing.value.field == "segment_ids"
    with pytest.raises(InvalidInput) as refused:
        _message(database, setup, now, body="Hello {{ frist_name }}")
    assert refused.value.field == "body"


def test_a_scheduled_message_starts_when_due_and_a_cancelled_one_never(
    database: Database, workspace_id: int, now: datetime
) -> None:
    setup = _setup(database, workspace_id, now)
    later = now + timedelta(hours=2)
    scheduled = _message(database, setup, now)
    cancelled = _message(database, setup, now, name="Cancelled")
    assert messages.send_message(database, workspace_id, scheduled, at=later, now=now).status == "scheduled"
    messages.send_message(database, workspace_id, cancelled, at=later, now=now)
    assert messages.cancel_message(database, workspace_id, cancelled, now=now).status == "cancelled"
    assert scheduled not in messages.start_due(database, now=now + timedelta(hours=1))
    assert scheduled in messages.start_due(database, now=later)
    assert messages.get_message(database, workspace_id, scheduled).recipients == 5
    assert messages.get_message(database, workspace_id, cancelled).recipients == 0


def test_delivery_into_the_outbox_sends_each_recipient_once_and_finishes_the_message(
    database: Database, workspace_id: int, now: datetime
) -> None:
    setup = _setup(database, workspace_id, now)
    message_id = _message(database, setup, now)
    messages.send_message(database, workspace_id, message_id, at=None, now=now)
    claimed = mail_delivery.claim(
        database, workspace_id, now=now, limit=3, lease=timedelta(minutes=2), base_url=BASE_URL
    )
    assert len(claimed) == 3
    mail_delivery.deliver_to_outbox(database, claimed, now=now)
    rest = mail_delivery.claim(database, workspace_id, now=now, limit=10, lease=timedelta(minutes=2), base_url=BASE_URL)
    assert len(rest) == 2
    assert (
        mail_delivery.claim(database, workspace_id, now=now, limit=10, lease=timedelta(minutes=2), base_url=BASE_URL)
        == []
    )
    mail_delivery.deliver_to_outbox(database, rest, now=now)
    assert messages.get_message(database, workspace_id, message_id).status == "sent"
    box = messages.outbox(database, workspace_id, message_id=message_id, page=1, page_size=50)
    assert box.total == 5
    assert sorted(item.to_address for item in box.items) == [
        f"{n}@example.com" for n in ("ann", "bo", "cy", "di", "ed")
    ]
    raw = messages.outbox_raw(database, workspace_id, box.items[0].id)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"].startswith("Hi ")
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"{BASE_URL}/u/{workspace_id}." in parsed["List-Unsubscribe"]
    # Each recipient has a message_sent event, which rules can count; being sent mail is not activity.
    ann = setup.fan_ids["ann"]
    assert [(e.type, e.properties) for e in fans.fan_events(database, workspace_id, ann, page=1, page_size=10)] == [
        ("message_sent", {"message_id": message_id})
    ]
    assert fans.get_fan(database, workspace_id, ann).last_active_at is None


# sqlite_stat1 as ANALYZE left it after other tests had run (few messages, many recipients per state): with them,
# SQLite loops over the sending messages and searches each one's recipients by (workspace, state, next attempt).
_STATISTICS = (
    ("messages", "ix_messages_workspace_status_send_at", "8 2 1 1"),
    ("messages", "sqlite_autoindex_messages_1", "8 2 1"),
    ("message_recipients", "ix_message_recipients_workspace_state_next", "6 2 2 2"),
    ("message_recipients", "ix_message_recipients_workspace_message_state", "6 2 2 2"),
    ("message_recipients", "sqlite_autoindex_message_recipients_2", "6 2 2 1"),
    ("message_recipients", "sqlite_autoindex_message_recipients_1", "6 2 1"),
)


def test_a_claim_within_the_lease_takes_nothing_whichever_plan_sqlite_chooses(tmp_path: Path, now: datetime) -> None:
    """SQLite 3.40.1 (Debian 12's) read ``next_attempt_at <= now`` after ``state IN (…)`` as an index range in that
    loop and returned a recipient still within its lease: a second sender would have sent its mail again."""
    database = Database.from_url(f"sqlite:///{tmp_path / 'lease.sqlite3'}")
    upgrade(database.engine)
    workspace_id = workspaces.create_workspace(database, name="lease", now=now).workspace.id
    setup = _setup(database, workspace_id, now)
    messages.send_message(database, workspace_id, _message(database, setup, now), at=None, now=now)
    lease = timedelta(minutes=2)
    assert len(mail_delivery.claim(database, workspace_id, now=now, limit=10, lease=lease, base_url=BASE_URL)) == 5
    with database.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl IN ('messages', 'message_recipients')")
        for row in _STATISTICS:
            connection.exec_driver_sql("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", row)
    database.engine.dispose()  # connections read the statistics when they open
    later = now + lease / 2
    assert mail_delivery.claim(database, workspace_id, now=later, limit=10, lease=lease, base_url=BASE_URL) == []
    database.engine.dispose()


def test_a_sender_that_died_leaves_its_recipients_to_be_claimed_again_after_the_lease(
    database: Database, workspace_id: int, now: datetime
) -> None:
    setup = _setup(database, workspace_id, now)
    message_id = _message(database, setup, now)
    messages.send_message(database, workspace_id, message_id, at=None, now=now)
    lease = timedelta(minutes=2)
    first = mail_delivery.claim(database, workspace_id, now=now, limit=10, lease=lease, base_url=BASE_URL)
    assert len(first) == 5
    # The sender dies: nothing recorded. Within the lease nobody takes them; after it, they are claimed again, with
    # the same Message-ID each.
    assert (
        mail_delivery.claim(database, workspace_id, now=now + lease / 2, limit=10, lease=lease, base_url=BASE_URL) == []
    )
    again = mail_delivery.claim(
        database, workspace_id, now=now + lease + timedelta(seconds=1), limit=10, lease=lease, base_url=BASE_URL
    )
    assert {mail.message_key for mail in again} == {mail.message_key for mail in first}
    assert {mail.attempts for mail in again} == {2}


def test_a_permanent_failure_bounces_and_suppresses_and_a_temporary_one_retries(
    database: Database, workspace_id: int, now: datetime
) -> None:
    setup = _setup(database, workspace_id, now)
    message_id = _message(database, setup, now)
    messages.send_message(database, workspace_id, message_id, at=None, now=now)
    mails = mail_delivery.claim(database, workspace_id, now=now, limit=2, lease=timedelta(minutes=2), base_url=BASE_URL)
    bounced, delayed = mails
    assert (
        mail_delivery.record_failure(database, bounced, error="SMTP 550: no such user", permanent=True, now=now)
        == "bounced"
    )
    assert (
        mail_delivery.record_failure(database, delayed, error="SMTP 451: try later", permanent=False, now=now)
        == "queued"
    )
    states = {
        r.email: (r.state, r.error)
        for r in messages.recipients(database, workspace_id, message_id, page=1, page_size=50).items
    }
    assert states[bounced.to_address] == ("bounced", "SMTP 550: no such user")
    assert states[delayed.to_address] == ("queued", "SMTP 451: try later")
    assert suppressions.get_suppression(database, workspace_id, bounced.to_address).reason == "bounced"
    # The next message's audience counts the address as bounced.
    assert messages.audience(database, workspace_id, _message(database, setup, now)).unreachable["bounced"] == 3
    # The delayed one is not due before its first retry delay.
    assert not [
        mail
        for mail in mail_delivery.claim(
            database,
            workspace_id,
            now=now + timedelta(seconds=30),
            limit=10,
            lease=timedelta(minutes=2),
            base_url=BASE_URL,
        )
        if mail.recipient_id == delayed.recipient_id
    ]


def test_the_preview_sample_is_exactly_who_it_would_reach(database: Database, workspace_id: int, now: datetime) -> None:
    setup = _setup(database, workspace_id, now)
    message_id = _message(database, setup, now)
    sample = messages.reachable_sample(database, workspace_id, message_id, limit=20)
    assert sorted(fan.email for fan in sample) == [f"{name}@example.com" for name in ("ann", "bo", "cy", "di", "ed")]
    assert len(messages.reachable_sample(database, workspace_id, message_id, limit=2)) == 2
