"""Mail that comes back: delivery status notifications (RFC 3464), spam complaints (ARF, RFC 5965), replies to the
``mailto:`` unsubscribe (RFC 2369), and the same facts as JSON from a provider's webhook.

A mail pipe or a provider forwards what reaches the sender's address to ``POST /api/v1/inbound/mail`` (the raw
message, with the workspace's API key); a provider's JSON events go to ``POST /inbound/{workspace}/mail-events``,
signed with the workspace's inbound secret (``Fanbase-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>">``, at most five minutes old). Each names the mail it is about by its Message-ID
(``<workspace.message.recipient@domain>``, as fanbase sent it), or else by the recipient's address (their latest
mail). A permanent failure (status 5.x.x) bounces the recipient and suppresses the address; a complaint suppresses it
and unsubscribes the fan from the message's list; a delay (4.x.x) changes nothing. Doing either twice changes nothing
more.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from email.message import Message
from email.parser import HeaderParser
from typing import Literal

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import messages as messages_repo
from fanbase.db.repositories import recipients as recipients_repo
from fanbase.errors import InvalidInput
from fanbase.schemas.lists import SubscriptionIn
from fanbase.schemas.messages import InboundResult
from fanbase.schemas.orders_events import EventIn
from fanbase.services import engagement
from fanbase.services import lists
from fanbase.services import mail_links
from fanbase.services import messages
from fanbase.services import orders_events
from fanbase.services import signatures
from fanbase.services import suppressions

MAX_INBOUND_BYTES = 1024 * 1024
SIGNATURE_TOLERANCE_SECONDS = 300
_MESSAGE_ID = re.compile(r"<(\d{1,18})\.(\d{1,18})\.(\d{1,18})@[^>]+>")
_TOKEN = re.compile(r"unsubscribe\s+(\d{1,18}\.[A-Za-z0-9_.\-]+)", re.IGNORECASE)

Outcome = Literal["bounced", "complained", "delayed", "unsubscribed", "unknown", "ignored"]


@dataclass(frozen=True)
class Fact:
    """One thing a notification says about one mail."""

    kind: Literal["bounce", "complaint", "delay"]
    message_key: str | None  # the Message-ID of the mail it is about
    email: str | None
    reason: str


@dataclass
class InboundReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def result(self) -> InboundResult:
        counts = Counter[str](self.outcomes)
        return InboundResult(**{name: counts[name] for name in InboundResult.model_fields})


def _headers_of(part: Message) -> Message | None:
    """The original message's headers, from a message/rfc822 or text/rfc822-headers part."""
    if part.get_content_type() == "message/rfc822":
        return _blocks(part)[0] if _blocks(part) else None
    if part.get_content_type() == "text/rfc822-headers":
        return _fields(part)
    return None


def _blocks(part: Message) -> list[Message]:
    """The messages a message/* part holds (the stdlib parses each block of a DSN, or the original, as one)."""
    payload = part.get_payload()
    return [block for block in payload if isinstance(block, Message)] if isinstance(payload, list) else []


def _fields(part: Message) -> Message:
    """A part whose body is header fields (a feedback report, the original's headers) as a Message of them."""
    payload = part.get_payload(decode=True)
    text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(part.get_payload())
    return HeaderParser().parsestr(text)


def _original_key(report: Message) -> str | None:
    for part in report.walk():
        headers = _headers_of(part)
        if headers is not None and headers.get("Message-ID"):
            return str(headers["Message-ID"]).strip()
    return None


def _address(value: str | None) -> str | None:
    """``rfc822; ann@example.com`` → ``ann@example.com``."""
    if not value:
        return None
    address = value.split(";", 1)[-1].strip().strip("<>").lower()
    return address or None


def parse_report(raw: bytes) -> list[Fact]:
    """The facts of a DSN or an ARF report; nothing for any other mail."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if message.get_content_type() != "multipart/report":
        return []
    report_type = str(message.get_param("report-type") or "").lower()
    key = _original_key(message)
    facts: list[Fact] = []
    for part in message.walk():
        kind = part.get_content_type()
        if report_type == "delivery-status" and kind == "message/delivery-status":
            for block in _blocks(part)[1:]:
                action = str(block.get("Action", "")).strip().lower()
                status = str(block.get("Status", "")).strip()
                reason = str(block.get("Diagnostic-Code", "") or status).strip()[:400]
                recipient = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
                if action == "failed" or status.startswith("5"):
                    facts.append(Fact("bounce", key, recipient, reason or "failed"))
                elif action == "delayed" or status.startswith("4"):
                    facts.append(Fact("delay", key, recipient, reason or "delayed"))
        elif report_type == "feedback-report" and kind == "message/feedback-report":
            blocks = _blocks(part)
            fields = blocks[0] if blocks else _fields(part)
            recipient = _address(fields.get("Original-Rcpt-To"))
            facts.append(Fact("complaint", key, recipient, str(fields.get("Feedback-Type", "abuse")).strip()[:400]))
    return facts


def _find_recipient(connection: Connection, workspace_id: int, fact: Fact) -> recipients_repo.MailRecipient | None:
    if fact.message_key:
        match = _MESSAGE_ID.fullmatch(fact.message_key)
        if match:
            if int(match.group(1)) != workspace_id:
                return None  # another workspace's mail: not this key's to report
            found = recipients_repo.get_recipient(connection, workspace_id, int(match.group(3)))
            if found is not None and found.message_id == int(match.group(2)):
                return found
    if fact.email:
        return recipients_repo.latest_recipient_by_email(connection, workspace_id, fact.email)
    return None


def apply_facts(database: Database, workspace_id: int, facts: list[Fact], *, now: datetime) -> InboundReport:
    """Bounce, complain or note a delay for each fact's recipient (one transaction each)."""
    report = InboundReport()
    for fact in facts:
        if fact.kind == "delay":
            report.outcomes.append("delayed")
            continue
        complaint_list: tuple[int, int, int] | None = None
        with database.transaction(workspace_id=workspace_id) as connection:
            recipient = _find_recipient(connection, workspace_id, fact)
            if recipient is None:
                report.outcomes.append("unknown")
                continue
            event = EventIn(
                fan_id=recipient.fan_id,
                type="email_bounced" if fact.kind == "bounce" else "email_complained",
                properties={"message_id": recipient.message_id},
                occurred_at=now,
            )
            if fact.kind == "bounce":
                changed = recipients_repo.bounce_after_sending(
                    connection, workspace_id, recipient.id, error=fact.reason
                )
                suppressions.suppress(connection, workspace_id, recipient.email, reason="bounced", now=now)
                if changed:
                    orders_events.write_events(connection, workspace_id, [event], now=now)
                report.outcomes.append("bounced")
            else:
                suppressions.suppress(connection, workspace_id, recipient.email, reason="complained", now=now)
                orders_events.write_events(connection, workspace_id, [event], now=now)
                message = messages_repo.get_message(connection, workspace_id, recipient.message_id)
                if (
                    message is not None
                    and message.list_id is not None
                    and messages_repo.list_exists(connection, workspace_id, message.list_id)
                ):
                    complaint_list = (message.list_id, recipient.fan_id, recipient.message_id)
                report.outcomes.append("complained")
        if complaint_list is not None:
            list_id, fan_id, message_id = complaint_list
            lists.set_subscription(
                database,
                workspace_id,
                list_id,
                SubscriptionIn(
                    fan_ids=(fan_id,),
                    status="unsubscribed",
                    consent_source=f"spam complaint about message {message_id}",
                ),
                now=now,
            )
    return report


def receive_mail(database: Database, workspace_id: int, raw: bytes, *, now: datetime) -> InboundReport:
    """A raw message that reached the sender's address: a DSN or a complaint report, or a ``mailto:`` unsubscribe
    (its subject carries the token); anything else is ignored."""
    if len(raw) > MAX_INBOUND_BYTES:
        raise InvalidInput(f"must be at most {MAX_INBOUND_BYTES:,} bytes", field="body")
    facts = parse_report(raw)
    if facts:
        return apply_facts(database, workspace_id, facts, now=now)
    subject = str(email.message_from_bytes(raw, policy=email.policy.compat32).get("Subject", ""))
    match = _TOKEN.search(subject)
    if match and match.group(1).split(".", 1)[0] == str(workspace_id):
        engagement.unsubscribe(database, match.group(1), now=now)
        return InboundReport(outcomes=["unsubscribed"])
    return InboundReport(outcomes=["ignored"])


def check_signature(secret: str, body: bytes, header: str | None, *, now: datetime) -> None:
    """Unauthorized unless ``header`` signs ``body`` with ``secret`` within the tolerance."""
    signatures.check_timestamped(
        secret, body, header, name="Fanbase-Signature", now=now, tolerance=SIGNATURE_TOLERANCE_SECONDS
    )


def receive_events(
    database: Database, workspace_id: int, body: bytes, signature: str | None, *, now: datetime
) -> InboundReport:
    """A provider's JSON events, signed (see the module's doc): ``{"events": [{"type": "bounce" | "complaint" |
    "delay", "message_id": "<…>", "email": "…", "reason": "…"}]}`` (message_id or email; at most 1,000 events)."""
    with database.transaction(workspace_id=workspace_id) as connection:
        settings = messages.settings_of(connection, workspace_id, now=now)
    check_signature(mail_links.inbound_secret(settings.secret), body, signature, now=now)
    try:
        document = json.loads(body)
    except ValueError:
        raise InvalidInput("must be JSON", field="body") from None
    items = document.get("events") if isinstance(document, dict) else None
    if not isinstance(items, list) or len(items) > 1000:
        raise InvalidInput('must be {"events": [...]} with at most 1,000 events', field="events")
    facts: list[Fact] = []
    for index, item in enumerate(items):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in ("bounce", "complaint", "delay"):
            raise InvalidInput("must be bounce, complaint or delay", field=f"events[{index}].type")
        key, address, reason = item.get("message_id"), item.get("email"), item.get("reason") or kind
        if not isinstance(key, str | None) or not isinstance(address, str | None) or not (key or address):
            raise InvalidInput("give message_id or email (text)", field=f"events[{index}]")
        facts.append(Fact(kind, key, address.strip().lower() if address else None, str(reason)[:400]))
    return apply_facts(database, workspace_id, facts, now=now)
