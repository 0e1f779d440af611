"""What recipients do with a mail, through its signed links: unsubscribe (RFC 8058 one-click, or the footer's
page), open (the pixel) and click (the redirect). Each becomes an event of the fan's, ``email_unsubscribed``,
``email_opened`` or ``link_clicked`` (with the message id, and the URL for a click), so segments follow them live:
``count(events where type = "email_opened" and properties.message_id = 12) = 0``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import messages as messages_repo
from fanbase.db.repositories import recipients as recipients_repo
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.lists import SubscriptionIn
from fanbase.schemas.orders_events import EventIn
from fanbase.services import lists
from fanbase.services import mail_links
from fanbase.services import orders_events
from fanbase.services import suppressions


@dataclass(frozen=True)
class Unsubscribed:
    email: str
    list_name: str | None  # None: the message's list is gone, so the address was suppressed instead
    already: bool


@dataclass(frozen=True)
class _Found:
    target: mail_links.LinkTarget
    recipient: recipients_repo.MailRecipient
    message: Any
    list_name: str | None = None  # the message's consent list (asked for with_list; None when it has none left)
    list_status: str | None = None  # the recipient's status on it


def _find(connection: Connection, kind: str, token: str, *, now: datetime) -> _Found:
    workspace_id = mail_links.workspace_of(token)
    settings = messages_repo.get_settings(connection, workspace_id)
    if settings is None:
        raise InvalidInput("this link is not valid", field="token")
    target = mail_links.verify(settings.secret, kind, token, now_timestamp=now.timestamp())
    recipient = recipients_repo.get_recipient(connection, workspace_id, target.recipient_id)
    message = messages_repo.get_message(connection, workspace_id, target.message_id)
    if recipient is None or message is None or recipient.message_id != target.message_id:
        raise NotFound("this mail's recipient no longer exists (the fan may have been erased)", field="token")
    return _Found(target=target, recipient=recipient, message=message)


def _open(database: Database, kind: str, token: str, *, now: datetime, with_list: bool = False) -> _Found:
    """The token's recipient and message (and, ``with_list``, the consent list's name and their status on it),
    read in one transaction."""
    workspace_id = mail_links.workspace_of(token)
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        found = _find(connection, kind, token, now=now)
        list_id = found.message.list_id
        if not with_list or list_id is None:
            return found
        return dataclasses.replace(
            found,
            list_name=messages_repo.list_name(connection, workspace_id, list_id),
            list_status=recipients_repo.list_status(connection, workspace_id, list_id, found.recipient.fan_id),
        )


def who_unsubscribes(database: Database, token: str, *, now: datetime) -> Unsubscribed:
    """Whom an unsubscribe link is for (the confirmation page shows it), changing nothing."""
    found = _open(database, "unsubscribe", token, now=now, with_list=True)
    already = found.list_status == "unsubscribed"
    return Unsubscribed(email=found.recipient.email, list_name=found.list_name, already=already)


def unsubscribe(database: Database, token: str, *, now: datetime) -> Unsubscribed:
    """Unsubscribe the recipient from the message's list (the consent log records the mail it came from); if the
    list is gone, suppress the address instead, so no mail reaches it. Doing it twice changes nothing more."""
    found = _open(database, "unsubscribe", token, now=now, with_list=True)
    workspace_id, fan_id = found.target.workspace_id, found.recipient.fan_id
    name, status = found.list_name, found.list_status
    if name is None:
        with database.transaction(workspace_id=workspace_id) as connection:
            suppressions.suppress(connection, workspace_id, found.recipient.email, reason="requested", now=now)
        return Unsubscribed(email=found.recipient.email, list_name=None, already=False)
    if status != "unsubscribed":
        _event(database, found, "email_unsubscribed", {}, now=now)
        lists.set_subscription(
            database,
            workspace_id,
            found.message.list_id,
            SubscriptionIn(
                fan_ids=(fan_id,),
                status="unsubscribed",
                consent_source=f"unsubscribe link in message {found.target.message_id}",
            ),
            now=now,
        )
    return Unsubscribed(email=found.recipient.email, list_name=name, already=status == "unsubscribed")


def record_open(database: Database, token: str, *, now: datetime) -> None:
    """The pixel was loaded: an ``email_opened`` event for the fan."""
    found = _open(database, "open", token, now=now)
    _event(database, found, "email_opened", {}, now=now)


def record_click(database: Database, token: str, *, now: datetime) -> str:
    """A tracked link was followed: a ``link_clicked`` event; returns where the link leads (the URL signed into
    the token when the mail was made, so the redirect can lead nowhere else)."""
    found = _open(database, "click", token, now=now)
    url = found.target.url
    if not url or not url.startswith(("https://", "http://")):
        raise InvalidInput("this link is not valid", field="token")
    _event(database, found, "link_clicked", {"url": url[:1000]}, now=now)
    return url


def _event(database: Database, found: _Found, kind: str, properties: dict[str, Any], *, now: datetime) -> None:
    orders_events.record_event(
        database,
        found.target.workspace_id,
        EventIn(
            fan_id=found.recipient.fan_id,
            type=kind,
            properties={"message_id": found.target.message_id, **properties},
            occurred_at=now,
        ),
        now=now,
    )
