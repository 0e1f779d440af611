"""Delivering a sent message's recipients: claim them through the database, render each one's mail, record what
became of it. The SMTP conversation itself is the sender's (jobs.mail); the local outbox is here.

**Exactly once, and the rule after a crash.** A claim moves recipients from ``queued`` to ``sending`` with a lease
(``next_attempt_at`` = now + lease) in one short transaction, committed before any mail goes out. Each mail is
marked ``accepted`` in a transaction of its own (one row) as soon as the SMTP server has taken it; the accepted
become ``sent``, with their ``message_sent`` events, a batch at a time (``record_accepted``), so a crash after the
mark loses no event either. A sender killed between the server's acceptance and that mark leaves its recipient
``sending``; once the lease has passed, the next claim takes it again and sends the *same* mail: the same
Message-ID (``<workspace.message.recipient@sender-domain>``), which receiving systems use to drop the second copy.
So no recipient is lost, and the only one who can be sent twice is one whose mail was on the wire at the moment of
the crash: at most one per open SMTP connection. The local outbox stores a mail and marks it sent in one
transaction: exactly once without that caveat."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.lru import LockedLRU
from fanbase.db.repositories import messages as messages_repo
from fanbase.db.repositories import recipients as recipients_repo
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.errors import Unavailable
from fanbase.schemas.messages import SentTest
from fanbase.schemas.orders_events import EventIn
from fanbase.services import custom_fields
from fanbase.services import mail_content
from fanbase.services import mail_links
from fanbase.services import mail_mime
from fanbase.services import messages
from fanbase.services import orders_events
from fanbase.services import suppressions
from fanbase.services.smtp import OutgoingMail
from fanbase.services.smtp import PermanentFailure
from fanbase.services.smtp import SmtpConnection
from fanbase.services.smtp import TemporaryFailure
from fanbase.services.smtp import parse_smtp_url

# After a temporary failure (an SMTP 4xx, a connection lost) the recipient waits 1, 5, 30 minutes, 2 and 6 hours;
# after the sixth failed attempt it has failed for good.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


@dataclass(frozen=True)
class _Claimed:
    rows: list[Any]
    messages: dict[int, Any]
    fans: dict[int, dict[str, Any]]
    settings: Any


def sending_workspaces(database: Database) -> list[int]:
    # Across workspaces: the sender serves every workspace.
    with database.transaction(workspace_id=ACROSS_WORKSPACES, write=False) as connection:
        return recipients_repo.sending_workspaces(connection)


ENTRIES_PER_ROUND = 5000


def enqueue_entries(database: Database, workspace_id: int, *, now: datetime) -> int:
    """Send on entry: each fan who entered an active on-entry message's segment since it was activated becomes its
    recipient once (the unique (message, fan) holds it to once), due ``delay`` after they entered; one not
    reachable then is recorded as skipped with the reason, so the ledger of who got what stays whole. Time-driven
    entries count: they are in the membership ledger like any other. Returns how many were added."""
    added = 0
    with database.transaction(workspace_id=workspace_id) as connection:
        for message in messages_repo.triggered_messages(connection, workspace_id):
            entries = messages_repo.entries_to_enqueue(
                connection,
                workspace_id,
                message.id,
                message.trigger_segment_id,
                since=message.sent_at,
                limit=ENTRIES_PER_ROUND,
            )
            if not entries:
                continue
            fan_ids = [fan_id for fan_id, _ in entries]
            reasons = messages_repo.reasons_now(
                connection,
                workspace_id,
                fan_ids,
                included=[message.trigger_segment_id],
                excluded=messages_repo.segments_of(connection, workspace_id, [message.id])[message.id][True],
                list_id=message.list_id,
            )
            emails = messages_repo.emails_of(connection, workspace_id, fan_ids)
            delay = timedelta(seconds=message.trigger_delay_seconds or 0)
            messages_repo.add_recipients(
                connection,
                workspace_id,
                [
                    {
                        "message_id": message.id,
                        "fan_id": fan_id,
                        "email": emails[fan_id],
                        "state": "queued" if reasons[fan_id] == messages_repo.REACHABLE else "skipped",
                        "error": None if reasons[fan_id] == messages_repo.REACHABLE else _not_sent(reasons[fan_id]),
                        "attempts": 0,
                        "next_attempt_at": entered + delay,
                    }
                    for fan_id, entered in entries
                    if fan_id in emails
                ],
            )
            added += len(entries)
    return added


def _not_sent(reason: str) -> str:
    return f"not sent: {reason.replace('_', ' ')}"


def claim(
    database: Database, workspace_id: int, *, now: datetime, limit: int, lease: timedelta, base_url: str
) -> list[OutgoingMail]:
    """Claim up to ``limit`` due recipients of the workspace (see the module's doc) and render their mail; rendering
    happens after the claim's transaction, so SQLite's write lock is held only for the claim.

    Each is checked again as it is claimed: a fan suppressed or unsubscribed since the message was sent is skipped
    (with the reason); for a message sent on entry, so is one who has left its segment or entered an excluded one."""
    with database.transaction(workspace_id=workspace_id) as connection:
        rows = recipients_repo.claim(connection, workspace_id, now=now, limit=limit, lease_until=now + lease)
        if not rows:
            return []
        message_rows = {
            message_id: messages_repo.get_message(connection, workspace_id, message_id)
            for message_id in {row.message_id for row in rows}
        }
        rows = _still_reachable(connection, workspace_id, rows, message_rows, now=now)
        fields = custom_fields.definitions(connection, workspace_id)
        fans = {
            fan_id: messages.merge_values(fields, fan)
            for fan_id, fan in recipients_repo.fans_for_mail(
                connection, workspace_id, [row.fan_id for row in rows]
            ).items()
        }
        settings = messages.settings_of(connection, workspace_id, now=now)
    claimed = _Claimed(rows=rows, messages=message_rows, fans=fans, settings=settings)
    mails, refused = render_all(claimed, now=now, base_url=base_url)
    if refused:
        # A fan whose values make a mail the rules refuse (e.g. a merge value over the size bound) fails alone.
        with database.transaction(workspace_id=workspace_id) as connection:
            for recipient_id, error in refused.items():
                recipients_repo.mark_final(connection, workspace_id, recipient_id, state="failed", error=error)
            recipients_repo.finish_messages(connection, workspace_id, now=now)
    return mails


# Compiled content by (workspace, message, its last change): a claim happens every round, the content rarely changes.
_COMPILED = LockedLRU[tuple[int, int, datetime], mail_content.CompiledContent](64)


def _compiled(workspace_id: int, row: Any) -> mail_content.CompiledContent:
    key = (workspace_id, row.id, row.updated_at)
    found = _COMPILED.get(key)
    if found is None:
        found = mail_content.compile_content(messages.content_of(row))
        _COMPILED.put(key, found)
    return found


def render_all(claimed: _Claimed, *, now: datetime, base_url: str) -> tuple[list[OutgoingMail], dict[int, str]]:
    """Each claimed recipient's mail; and the recipients whose mail could not be made, with why."""
    settings = claimed.settings
    compiled = {message_id: _compiled(settings.workspace_id, row) for message_id, row in claimed.messages.items()}
    sender = mail_content.Sender(name=settings.sender_name, address=settings.sender_address)
    domain = settings.sender_address.rpartition("@")[2]
    stamp = now.timestamp()
    mails = []
    refused: dict[int, str] = {}
    for row in claimed.rows:
        workspace_id = claimed.settings.workspace_id
        target = mail_links.LinkTarget(workspace_id=workspace_id, message_id=row.message_id, recipient_id=row.id)
        links = _links(settings, target, base_url=base_url, stamp=stamp)
        values = claimed.fans.get(row.fan_id, {"email": row.email})
        key = f"<{workspace_id}.{row.message_id}.{row.id}@{domain}>"
        try:
            rendered = mail_content.render(compiled[row.message_id], values)
            raw = mail_mime.build_mail(
                rendered,
                sender=sender,
                to_address=row.email,
                to_name=_full_name(values),
                message_id=key,
                links=links,
                now=now,
            )
        except InvalidInput as error:
            refused[row.id] = f"the mail could not be made: {error}"[:500]
            continue
        mails.append(
            OutgoingMail(
                workspace_id=workspace_id,
                message_id=row.message_id,
                recipient_id=row.id,
                fan_id=row.fan_id,
                to_address=row.email,
                envelope_from=settings.sender_address,
                subject=rendered.subject,
                message_key=key,
                raw=raw,
                attempts=row.attempts + 1,
            )
        )
    return mails, refused


def _still_reachable(
    connection: Connection, workspace_id: int, rows: list[Any], message_rows: dict[int, Any], *, now: datetime
) -> list[Any]:
    """The claimed rows whose fans may still be sent their mail; the others are skipped, with the reason."""
    kept = []
    for message_id, message in message_rows.items():
        mine = [row for row in rows if row.message_id == message_id]
        triggered = message.trigger_segment_id is not None
        excluded = messages_repo.segments_of(connection, workspace_id, [message_id])[message_id][True]
        reasons = messages_repo.reasons_now(
            connection,
            workspace_id,
            [row.fan_id for row in mine],
            included=[message.trigger_segment_id] if triggered else None,
            excluded=excluded if triggered else (),
            list_id=message.list_id,
        )
        for row in mine:
            if reasons[row.fan_id] == messages_repo.REACHABLE:
                kept.append(row)
            else:
                recipients_repo.mark_final(
                    connection, workspace_id, row.id, state="skipped", error=_not_sent(reasons[row.fan_id])
                )
    if len(kept) < len(rows):
        recipients_repo.finish_messages(connection, workspace_id, now=now)
    return kept


def _full_name(values: dict[str, Any]) -> str | None:
    name = " ".join(part for part in (values.get("first_name"), values.get("last_name")) if part)
    return name or None


def _links(settings: Any, target: mail_links.LinkTarget, *, base_url: str, stamp: float) -> mail_content.Links:
    secret = settings.secret
    token = mail_links.sign(secret, "unsubscribe", target, now_timestamp=stamp)
    if not settings.tracking:
        return mail_content.Links(
            unsubscribe_url=mail_links.unsubscribe_url(base_url, token),
            unsubscribe_mailto=mail_links.unsubscribe_mailto(settings.sender_address, token),
        )

    def tracked(url: str) -> str:
        clicked = mail_links.LinkTarget(
            workspace_id=target.workspace_id, message_id=target.message_id, recipient_id=target.recipient_id, url=url
        )
        return mail_links.click_url(base_url, mail_links.sign(secret, "click", clicked, now_timestamp=stamp))

    return mail_content.Links(
        unsubscribe_url=mail_links.unsubscribe_url(base_url, token),
        unsubscribe_mailto=mail_links.unsubscribe_mailto(settings.sender_address, token),
        open_pixel_url=mail_links.open_pixel_url(
            base_url, mail_links.sign(secret, "open", target, now_timestamp=stamp)
        ),
        click_url=tracked,
    )


def _mail_event(kind: str, fan_id: int, message_id: int, *, at: datetime) -> EventIn:
    """The event a mail leaves on its fan (``message_sent``, ``email_bounced``), naming the message."""
    return EventIn(fan_id=fan_id, type=kind, properties={"message_id": message_id}, occurred_at=at)


def _mail_events(kind: str, mails: Sequence[OutgoingMail], *, now: datetime) -> list[EventIn]:
    return [_mail_event(kind, mail.fan_id, mail.message_id, at=now) for mail in mails]


def _mark_sent(connection: Connection, workspace_id: int, mails: Sequence[OutgoingMail], *, now: datetime) -> None:
    """Sending → sent, each with its ``message_sent`` event (so rules can count what fans were sent)."""
    ids = [mail.recipient_id for mail in mails]
    marked = recipients_repo.mark_sent(connection, workspace_id, ids, now=now)
    chosen = list(mails)
    if marked < len(mails):  # some were no longer being sent (cancelled meanwhile): the events of those that were
        sent = set(recipients_repo.in_state(connection, workspace_id, ids, "sent"))
        chosen = [mail for mail in mails if mail.recipient_id in sent]
    if chosen:
        orders_events.write_events(connection, workspace_id, _mail_events("message_sent", chosen, now=now), now=now)
    recipients_repo.finish_messages(connection, workspace_id, now=now)


def record_sent(database: Database, mail: OutgoingMail, *, now: datetime) -> None:
    """The server accepted the mail: recorded at once, in a transaction of its own (one row), so that a crash of the
    sender after this leaves nothing to send again. Its ``message_sent`` event follows with ``record_accepted``. Not
    waited onto the disk (``durable=False``): only a crash of the database server itself could forget the mark, and
    then the mail goes again with its Message-ID, as after a sender's crash."""
    with database.transaction(workspace_id=mail.workspace_id, durable=False) as connection:
        recipients_repo.mark_accepted(connection, mail.workspace_id, mail.recipient_id, now=now)


ACCEPTED_PER_BATCH = 5000


def record_accepted(database: Database, workspace_id: int, *, now: datetime) -> int:
    """Accepted → sent for the workspace's recipients whose mail the server took, with their ``message_sent``
    events, in one transaction per batch (not a commit per mail, whose wait dominated); messages with
    nothing left to send become sent. The sender calls it after each round and before the first (a crashed sender's
    accepted mail is recorded by the next). Returns how many were recorded."""
    recorded = 0
    while True:
        with database.transaction(workspace_id=workspace_id) as connection:
            rows = recipients_repo.accepted(connection, workspace_id, limit=ACCEPTED_PER_BATCH)
            if rows:
                recipients_repo.mark_sent(connection, workspace_id, [row.id for row in rows])
                orders_events.write_events(
                    connection,
                    workspace_id,
                    [_mail_event("message_sent", row.fan_id, row.message_id, at=row.sent_at) for row in rows],
                    now=now,
                )
            recipients_repo.finish_messages(connection, workspace_id, now=now)
        recorded += len(rows)
        if len(rows) < ACCEPTED_PER_BATCH:
            return recorded


def record_failure(database: Database, mail: OutgoingMail, *, error: str, permanent: bool, now: datetime) -> str:
    """Record a failed attempt; returns the recipient's state now: bounced (a permanent refusal: the address is
    suppressed, reason bounced), failed (out of attempts) or queued (to be tried again)."""
    with database.transaction(workspace_id=mail.workspace_id) as connection:
        if permanent:
            recipients_repo.mark_final(connection, mail.workspace_id, mail.recipient_id, state="bounced", error=error)
            suppressions.suppress(connection, mail.workspace_id, mail.to_address, reason="bounced", now=now)
            orders_events.write_events(
                connection, mail.workspace_id, _mail_events("email_bounced", [mail], now=now), now=now
            )
            state = "bounced"
        elif mail.attempts >= MAX_ATTEMPTS:
            recipients_repo.mark_final(
                connection,
                mail.workspace_id,
                mail.recipient_id,
                state="failed",
                error=f"gave up after {mail.attempts} attempts; last error: {error}",
            )
            state = "failed"
        else:
            delay = RETRY_DELAYS[mail.attempts - 1]
            recipients_repo.mark_retry(connection, mail.workspace_id, mail.recipient_id, at=now + delay, error=error)
            state = "queued"
        recipients_repo.finish_messages(connection, mail.workspace_id, now=now)
    return state


def deliver_to_outbox(database: Database, mails: Sequence[OutgoingMail], *, now: datetime) -> int:
    """Store the mails in the local outbox and mark them sent, in one transaction (per workspace)."""
    by_workspace: dict[int, list[OutgoingMail]] = {}
    for mail in mails:
        by_workspace.setdefault(mail.workspace_id, []).append(mail)
    for workspace_id, group in by_workspace.items():
        with database.transaction(workspace_id=workspace_id) as connection:
            recipients_repo.store_in_outbox(
                connection,
                workspace_id,
                [
                    {
                        "message_id": mail.message_id,
                        "recipient_id": mail.recipient_id,
                        "to_address": mail.to_address,
                        "subject": mail.subject[:200],
                        "raw": mail.raw,
                        "stored_at": now,
                    }
                    for mail in group
                ],
            )
            _mark_sent(connection, workspace_id, group, now=now)
    return len(mails)


def mail_for_test(
    database: Database, workspace_id: int, message_id: int, *, to: str, fan_id: int | None, now: datetime, base_url: str
) -> OutgoingMail:
    """The message as ``fan_id`` (or with empty merge fields) would get it, addressed to ``to``, its subject marked
    "[Test]": not a recipient, no events, and its unsubscribe link leads to a page that changes nothing."""
    with database.transaction(workspace_id=workspace_id) as connection:
        row = messages_repo.get_message(connection, workspace_id, message_id)
        if row is None:
            raise NotFound(f"message {message_id} not found")
        values: dict[str, Any] = {"email": to}
        if fan_id is not None:
            found = recipients_repo.fans_for_mail(connection, workspace_id, [fan_id])
            if fan_id not in found:
                raise NotFound(f"fan {fan_id} not found", field="fan_id")
            values = messages.merge_values(custom_fields.definitions(connection, workspace_id), found[fan_id])
        settings = messages.settings_of(connection, workspace_id, now=now)
    rendered = mail_content.render(_compiled(workspace_id, row), values)
    rendered = dataclasses.replace(rendered, subject=f"[Test] {rendered.subject}")
    domain = settings.sender_address.rpartition("@")[2]
    key = f"<{workspace_id}.{message_id}.test-{secrets.token_hex(6)}@{domain}>"
    preview = f"{base_url.rstrip('/')}/u/preview"
    raw = mail_mime.build_mail(
        rendered,
        sender=mail_content.Sender(name=settings.sender_name, address=settings.sender_address),
        to_address=to,
        to_name=None,
        message_id=key,
        links=mail_content.Links(unsubscribe_url=preview, unsubscribe_mailto=f"mailto:{settings.sender_address}"),
        now=now,
    )
    return OutgoingMail(
        workspace_id=workspace_id,
        message_id=message_id,
        recipient_id=0,
        fan_id=fan_id or 0,
        to_address=to,
        envelope_from=settings.sender_address,
        subject=rendered.subject,
        message_key=key,
        raw=raw,
        attempts=1,
    )


def store_test_in_outbox(database: Database, mail: OutgoingMail, *, now: datetime) -> None:
    with database.transaction(workspace_id=mail.workspace_id) as connection:
        recipients_repo.store_in_outbox(
            connection,
            mail.workspace_id,
            [
                {
                    "message_id": mail.message_id,
                    "recipient_id": None,
                    "to_address": mail.to_address,
                    "subject": mail.subject[:200],
                    "raw": mail.raw,
                    "stored_at": now,
                }
            ],
        )


def send_test(
    database: Database,
    workspace_id: int,
    message_id: int,
    *,
    to: str,
    fan_id: int | None,
    now: datetime,
    base_url: str,
    smtp_url: str | None,
) -> SentTest:
    """``mail_for_test`` sent now: over the relay ``smtp_url``, or into the local outbox without one. A permanent
    refusal is InvalidInput on ``email``; a relay that cannot take it now, Unavailable."""
    mail = mail_for_test(database, workspace_id, message_id, to=to, fan_id=fan_id, now=now, base_url=base_url)
    if smtp_url is None:
        store_test_in_outbox(database, mail, now=now)
        return SentTest(to=mail.to_address, via="outbox", message_key=mail.message_key)
    connection = SmtpConnection(parse_smtp_url(smtp_url))
    try:
        connection.send(mail)
    except PermanentFailure as error:
        raise InvalidInput(f"the mail server refused it: {error}", field="email") from None
    except TemporaryFailure as error:
        raise Unavailable(f"the mail server could not take it now: {error}") from None
    finally:
        connection.close()
    return SentTest(to=mail.to_address, via="smtp", message_key=mail.message_key)
