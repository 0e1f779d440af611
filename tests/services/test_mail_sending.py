"""Sending over real SMTP: a server on loopback (aiosmtpd) receives what the sender (jobs.mail) sends — the mail
itself, a permanent refusal that bounces, a temporary one that is retried — and a sender killed with SIGKILL in the
middle of a 5,000-recipient send, then restarted, gets every recipient their mail: none lost, and any sent twice
only with the same Message-ID (services.mail_delivery states the rule)."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from fanbase.db.engine import Database
from fanbase.jobs.mail import MailSender
from fanbase.schemas.lists import ListIn
from fanbase.schemas.messages import MailSettingsPatch
from fanbase.schemas.messages import MessageIn
from fanbase.schemas.segments import SegmentIn
from fanbase.services import fan_csv
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import mail_delivery
from fanbase.services import messages
from fanbase.services import segments
from fanbase.services import suppressions
from fanbase.services import workspaces
from fanbase.services.smtp import OutgoingMail
from fanbase.services.smtp import SmtpConnection
from fanbase.services.smtp import TemporaryFailure
from fanbase.services.smtp import parse_smtp_url
from tests_support import free_port

BASE_URL = "https://fans.example.com"


@dataclass
class Received:
    recipient: str
    message_id: str
    raw: bytes


@dataclass
class Sink:
    """What the SMTP server received, and the replies it gives some recipients instead of accepting them."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        reply = self.refuse.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.received.append(Received(recipient, str(parsed["Message-ID"]), raw))
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, str]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, f"smtp://127.0.0.1:{port}?tls=none"
    finally:
        controller.stop()


def _audience(database: Database, workspace_id: int, emails: list[str], now: datetime) -> tuple[int, int]:
    """A static segment of these fans (created by CSV), all subscribed to a list: (segment id, list id)."""
    csv = "email,first_name\n" + "".join(f"{address},Fan{index}\n" for index, address in enumerate(emails))
    fan_csv.import_fans_csv(database, workspace_id, csv.encode(), now=now)
    everyone = fans.matching_fan_ids(database, workspace_id, fans.FanFilter(), now=now)
    segment = segments.create_segment(database, workspace_id, SegmentIn(name="Everyone", kind="static"), now=now)
    segments.add_fans(database, workspace_id, segment.id, everyone, now=now)
    newsletter = lists.create_list(database, workspace_id, ListIn(name="Newsletter"), now=now)
    lists.subscribe_fans(database, workspace_id, newsletter.id, everyone, consent_source="test", now=now)
    return segment.id, newsletter.id


def _send(database: Database, workspace_id: int, segment_id: int, list_id: int, now: datetime, **content: str) -> int:
    data = {
        "name": "News",
        "subject": "Hello {{ first_name | default('friend') }} ✨",
        "preheader": "The tour is on",
        "body": "Dear {{ first_name }},\n\nTickets: [here](https://tickets.example.com/t?id=1)",
        "segment_ids": (segment_id,),
        "list_id": list_id,
        **content,
    }
    message = messages.create_message(database, workspace_id, MessageIn.model_validate(data), now=now)
    messages.send_message(database, workspace_id, message.id, at=None, now=now)
    return message.id


def test_mail_goes_over_smtp_with_its_content_and_refusals_bounce_or_retry(
    database: Database, workspace_id: int, now: datetime, smtp: tuple[Sink, str]
) -> None:
    sink, url = smtp
    emails = ["zoe@example.com", "gone@example.com", "busy@example.com"]
    segment_id, list_id = _audience(database, workspace_id, emails, now)
    sink.refuse = {"gone@example.com": "550 5.1.1 No such user", "busy@example.com": "451 4.3.0 Try again later"}
    message_id = _send(database, workspace_id, segment_id, list_id, now)
    sender = MailSender(
        database, clock=lambda: now, base_url=BASE_URL, smtp_url=url, connections=2, only_workspace=workspace_id
    )
    try:
        report = sender.round()
    finally:
        sender.close()
    assert (report.claimed, report.sent, report.bounced, report.retrying) == (3, 1, 1, 1)
    [received] = sink.received
    assert received.recipient == "zoe@example.com"
    mail = email.message_from_bytes(received.raw, policy=email.policy.default)
    assert mail["Subject"] == "Hello Fan0 ✨"
    assert mail["To"] == "Fan0 <zoe@example.com>" or mail["To"].addresses[0].addr_spec == "zoe@example.com"
    assert mail["Message-ID"].endswith("@fanbase.localhost>")
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.iter_parts()
    assert text.get_content_type() == "text/plain" and "Dear Fan0," in text.get_content()
    assert html.get_content_type() == "text/html" and "Dear Fan0," in html.get_content()
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    states = {
        recipient.email: (recipient.state, recipient.error)
        for recipient in messages.recipients(database, workspace_id, message_id, page=1, page_size=10).items
    }
    assert states["zoe@example.com"] == ("sent", None)
    assert states["gone@example.com"][0] == "bounced" and "550" in (states["gone@example.com"][1] or "")
    assert states["busy@example.com"][0] == "queued" and "451" in (states["busy@example.com"][1] or "")
    assert suppressions.get_suppression(database, workspace_id, "gone@example.com").reason == "bounced"
    # The retry, after its delay, is accepted; then the message is sent.
    sink.refuse.clear()
    later = now + timedelta(minutes=2)
    retry = MailSender(
        database, clock=lambda: later, base_url=BASE_URL, smtp_url=url, connections=1, only_workspace=workspace_id
    )
    try:
        assert retry.round().sent == 1
    finally:
        retry.close()
    assert messages.get_message(database, workspace_id, message_id).status == "sent"


def test_a_test_send_goes_over_smtp_marked_and_counts_for_nothing(
    database: Database, workspace_id: int, now: datetime, smtp: tuple[Sink, str]
) -> None:
    sink, url = smtp
    segment_id, list_id = _audience(database, workspace_id, ["zed@example.com"], now)
    message = messages.create_message(
        database,
        workspace_id,
        MessageIn(
            name="T",
            subject="Hi {{ first_name | default('there') }}",
            body="b",
            segment_ids=(segment_id,),
            list_id=list_id,
        ),
        now=now,
    )
    mail = mail_delivery.mail_for_test(
        database, workspace_id, message.id, to="me@example.com", fan_id=None, now=now, base_url=BASE_URL
    )
    connection = SmtpConnection(parse_smtp_url(url))
    try:
        connection.send(mail)
    finally:
        connection.close()
    [received] = sink.received
    parsed = email.message_from_bytes(received.raw, policy=email.policy.default)
    assert (received.recipient, parsed["Subject"]) == ("me@example.com", "[Test] Hi there")
    assert messages.get_message(database, workspace_id, message.id).recipients == 0


def _worker(database_url: str, smtp_url: str, folder: Path, name: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "FANBASE_DATABASE_URL": database_url,
        "FANBASE_DATA_DIR": str(folder),
        "FANBASE_SMTP_URL": smtp_url,
        "FANBASE_MAIL_LEASE_SECONDS": "3",
        "FANBASE_PUBLIC_URL": BASE_URL,
    }
    log = (folder / f"{name}.log").open("wb")
    command = [sys.executable, "-c", "from fanbase.cli.main import app; app()", "worker", "--interval", "60"]
    return subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)


def _wait(condition: Any, *, timeout: float, what: str, explain: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f": {explain()}" if explain else ""))
        time.sleep(0.05)


def _states(database: Database, workspace_id: int, message_id: int) -> Counter[tuple[str, str | None]]:
    """Each (state, error) and how many recipients are in it."""
    found: Counter[tuple[str, str | None]] = Counter()
    page = 1
    while items := messages.recipients(database, workspace_id, message_id, page=page, page_size=500).items:
        found.update((recipient.state, recipient.error) for recipient in items)
        page += 1
    return found


def test_a_sender_killed_mid_send_and_restarted_gets_every_recipient_their_mail_once(
    fresh_database: Database, smtp: tuple[Sink, str], tmp_path: Path
) -> None:
    """In a database of its own: the worker sends every workspace's mail."""
    sink, url = smtp
    database = fresh_database
    now = datetime.now().astimezone()  # the worker runs on the real clock
    workspace_id = workspaces.create_workspace(database, name="kill -9", now=now).workspace.id
    total = 5000
    emails = [f"fan{index}@example.com" for index in range(total)]
    segment_id, list_id = _audience(database, workspace_id, emails, now)
    messages.update_settings(database, workspace_id, MailSettingsPatch(send_rate=1000), now=now)
    message_id = _send(database, workspace_id, segment_id, list_id, now, body="Hi {{ first_name }}")
    database_url = database.engine.url.render_as_string(hide_password=False)

    first = _worker(database_url, url, tmp_path, "first")
    try:
        _wait(lambda: sink.count() >= total // 3, timeout=120, what="a third of the mail")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    at_kill = sink.count()
    assert at_kill < total, "the sender finished before it was killed: nothing was tested"

    second = _worker(database_url, url, tmp_path, "second")
    try:
        _wait(
            lambda: messages.get_message(database, workspace_id, message_id).status == "sent",
            timeout=240,
            what="the message to be sent",
            explain=lambda: f"{sink.count()} received; recipients {_states(database, workspace_id, message_id)}",
        )
    finally:
        second.terminate()
        second.wait(timeout=30)

    per_recipient = Counter(received.recipient for received in sink.received)
    assert set(per_recipient) == set(emails), "a recipient got nothing"
    ids_per_recipient: dict[str, set[str]] = {}
    for received in sink.received:
        ids_per_recipient.setdefault(received.recipient, set()).add(received.message_id)
    assert all(len(ids) == 1 for ids in ids_per_recipient.values()), "a recipient got two different mails"
    assert len({received.message_id for received in sink.received}) == total
    twice = [recipient for recipient, count in per_recipient.items() if count > 1]
    # Only mail on the wire at the kill can go twice: one per SMTP connection (4).
    assert len(twice) <= 4, twice
    assert _states(database, workspace_id, message_id) == {("sent", None): total}
    print(f"killed after {at_kill} of {total}; sent twice (same Message-ID): {len(twice)}")


def test_starttls_and_auth_are_used_when_the_url_asks(tmp_path: Path) -> None:
    """smtp+starttls:// with credentials: the connection is upgraded to TLS (the server's certificate checked) and
    authenticated before any mail; a wrong password is a failure to retry, not a bounce."""
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    sink = Sink()
    logins: list[tuple[str, bool]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        good = (data.login, data.password) == (b"artist", b"s3cret")
        logins.append((data.login.decode(), session.ssl is not None))
        return AuthResult(success=good, handled=False)  # False: aiosmtpd answers a failure with 535 itself

    port = free_port()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=server_context,
        require_starttls=True,
        auth_require_tls=True,
        auth_required=True,
        auth_exclude_mechanism=["LOGIN"],  # smtplib falls back from PLAIN to LOGIN, which aiosmtpd then waits on
        authenticator=authenticate,
    )
    controller.start()
    mail = OutgoingMail(
        workspace_id=1,
        message_id=1,
        recipient_id=1,
        fan_id=1,
        to_address="fan@example.com",
        envelope_from="hello@example.com",
        subject="s",
        message_key="<1.1.1@example.com>",
        raw=b"From: hello@example.com\r\nTo: fan@example.com\r\nSubject: s\r\n\r\nHi\r\n",
        attempts=1,
    )
    try:
        good = SmtpConnection(parse_smtp_url(f"smtp+starttls://artist:s3cret@localhost:{port}"), context=client_context)
        good.send(mail)
        good.close()
        wrong = SmtpConnection(parse_smtp_url(f"smtp+starttls://artist:nope@localhost:{port}"), context=client_context)
        with pytest.raises(TemporaryFailure, match="refused fanbase itself"):
            wrong.send(mail)
        wrong.close()
    finally:
        controller.stop()
    assert [received.recipient for received in sink.received] == ["fan@example.com"]
    assert logins == [("artist", True), ("artist", True)]  # both over TLS
