"""A sent message's recipients and their delivery: claims by senders, outcomes, pages; and the local outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from typing import NamedTuple

from sqlalchemy import ColumnElement
from sqlalchemy import Connection
from sqlalchemy import Row
from sqlalchemy import String
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from fanbase.db.repositories.sql import chunks
from fanbase.db.repositories.sql import named_columns
from fanbase.db.repositories.sql import page_of
from fanbase.db.repositories.sql import read_one
from fanbase.db.rule_sql import WithoutIndexRange
from fanbase.db.tables import events
from fanbase.db.tables import fans
from fanbase.db.tables import list_members
from fanbase.db.tables import mail_outbox
from fanbase.db.tables import message_recipients
from fanbase.db.tables import messages
from fanbase.db.tables import segment_members
from fanbase.schemas.messages import OutboxMail
from fanbase.schemas.messages import Recipient
from fanbase.schemas.privacy import MailReceived

_CLAIMABLE = ("queued", "sending")
_PENDING = ("queued", "sending", "accepted")  # a message is sent once none of its recipients is in these
# What a mail's merge fields read of a fan.
_MERGE_COLUMNS = (
    fans.c.email,
    fans.c.first_name,
    fans.c.last_name,
    fans.c.country,
    fans.c.city,
    fans.c.lifecycle_stage,
    fans.c.total_spent_cents,
    fans.c.purchase_count,
    fans.c.custom_fields,
)
recipients = message_recipients


def _while_in(workspace_id: int, recipient_id: int, state: str) -> tuple[ColumnElement[bool], ...]:
    """The recipient, as long as it is in ``state`` (a change made meanwhile leaves it alone)."""
    return recipients.c.workspace_id == workspace_id, recipients.c.id == recipient_id, recipients.c.state == state


def _of_message(workspace_id: int, message_id: int) -> tuple[ColumnElement[bool], ...]:
    return recipients.c.workspace_id == workspace_id, recipients.c.message_id == message_id


def sending_workspaces(connection: Connection) -> list[int]:
    """The workspaces with a message being sent, across workspaces (the sender serves them all)."""
    rows = connection.execute(select(messages.c.workspace_id).where(messages.c.status == "sending").distinct())
    return sorted(int(workspace_id) for workspace_id in rows.scalars())


def claim(connection: Connection, workspace_id: int, *, now: datetime, limit: int, lease_until: datetime) -> list[Any]:
    """Up to ``limit`` recipients due now: queued ones whose time has come, and ones left ``sending`` whose lease
    has passed (their sender died). They become ``sending`` until ``lease_until``, their attempts counted. On
    PostgreSQL rows another sender holds are skipped (SKIP LOCKED); SQLite's BEGIN IMMEDIATE makes this transaction
    the only writer."""
    statement = (
        select(recipients.c.id, recipients.c.message_id, recipients.c.fan_id, recipients.c.email, recipients.c.attempts)
        .join(messages, (messages.c.workspace_id == workspace_id) & (messages.c.id == recipients.c.message_id))
        .where(
            recipients.c.workspace_id == workspace_id,
            recipients.c.state.in_(_CLAIMABLE),
            # Not an index range on SQLite: 3.40.1 (Debian 12's) returned recipients still within their lease when
            # it read this one after ``state IN`` in the loop over sending messages; a claim could send mail twice.
            WithoutIndexRange(recipients.c.next_attempt_at) <= now,
            messages.c.status == "sending",
        )
        .order_by(recipients.c.next_attempt_at, recipients.c.id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True, of=recipients)
    rows = connection.execute(statement).all()
    for chunk in chunks([row.id for row in rows]):
        connection.execute(
            update(recipients)
            .where(recipients.c.workspace_id == workspace_id, recipients.c.id.in_(chunk))
            .values(state="sending", next_attempt_at=lease_until, attempts=recipients.c.attempts + 1)
        )
    return list(rows)


def mark_accepted(connection: Connection, workspace_id: int, recipient_id: int, *, now: datetime) -> bool:
    """Sending → accepted: the server took the mail (a row no longer sending, e.g. cancelled meanwhile, is left)."""
    result = connection.execute(
        update(recipients)
        .where(*_while_in(workspace_id, recipient_id, "sending"))
        .values(state="accepted", sent_at=now, error=None)
    )
    return bool(result.rowcount)


def accepted(connection: Connection, workspace_id: int, *, limit: int) -> list[Any]:
    """Recipients whose mail the server accepted and whose sending is not yet recorded (id, message, fan, when)."""
    return list(
        connection.execute(
            select(recipients.c.id, recipients.c.message_id, recipients.c.fan_id, recipients.c.sent_at)
            .where(recipients.c.workspace_id == workspace_id, recipients.c.state == "accepted")
            .order_by(recipients.c.id)
            .limit(limit)
        ).all()
    )


def mark_sent(
    connection: Connection, workspace_id: int, recipient_ids: Sequence[int], *, now: datetime | None = None
) -> int:
    """Sending or accepted → sent (with ``now`` as the time sent when given); others are left as they are."""
    values: dict[str, Any] = {"state": "sent", "error": None}
    if now is not None:
        values["sent_at"] = now
    changed = 0
    for chunk in chunks(recipient_ids):
        changed += connection.execute(
            update(recipients)
            .where(
                recipients.c.workspace_id == workspace_id,
                recipients.c.id.in_(chunk),
                recipients.c.state.in_(("sending", "accepted")),
            )
            .values(**values)
        ).rowcount
    return changed


def mark_retry(connection: Connection, workspace_id: int, recipient_id: int, *, at: datetime, error: str) -> None:
    connection.execute(
        update(recipients)
        .where(*_while_in(workspace_id, recipient_id, "sending"))
        .values(state="queued", next_attempt_at=at, error=error[:500])
    )


def mark_final(connection: Connection, workspace_id: int, recipient_id: int, *, state: str, error: str) -> None:
    """Sending → failed, bounced or skipped, for good."""
    connection.execute(
        update(recipients)
        .where(*_while_in(workspace_id, recipient_id, "sending"))
        .values(state=state, error=error[:500])
    )


def skip_pending(connection: Connection, workspace_id: int, message_id: int, *, error: str) -> int:
    """Every recipient of the message not yet sent is skipped (the message was cancelled)."""
    return int(
        connection.execute(
            update(recipients)
            .where(*_of_message(workspace_id, message_id), recipients.c.state.in_(_CLAIMABLE))
            .values(state="skipped", error=error)
        ).rowcount
    )


def finish_messages(connection: Connection, workspace_id: int, *, now: datetime) -> list[int]:
    """Messages being sent with no recipient left to send become sent; returns their ids."""
    pending = exists().where(
        recipients.c.workspace_id == workspace_id,
        recipients.c.message_id == messages.c.id,
        recipients.c.state.in_(_PENDING),
    )
    result = connection.execute(
        update(messages)
        .where(
            messages.c.workspace_id == workspace_id,
            messages.c.status == "sending",
            messages.c.trigger_segment_id.is_(None),
            ~pending,
        )
        .values(status="sent", updated_at=now)
        .returning(messages.c.id)
    )
    return [int(message_id) for message_id in result.scalars()]


def state_counts(connection: Connection, workspace_id: int, message_id: int) -> dict[str, int]:
    rows = connection.execute(
        select(recipients.c.state, func.count())
        .where(*_of_message(workspace_id, message_id))
        .group_by(recipients.c.state)
    )
    return {str(state): int(count) for state, count in rows}


def page_recipients(
    connection: Connection, workspace_id: int, message_id: int, *, state: str | None, offset: int, limit: int
) -> tuple[list[Row[Any]], int]:
    statement = select(*named_columns(Recipient.model_fields, recipients)).where(*_of_message(workspace_id, message_id))
    if state is not None:
        statement = statement.where(recipients.c.state == state)
    return page_of(connection, statement.order_by(recipients.c.id), counted=recipients, offset=offset, limit=limit)


def fans_for_mail(connection: Connection, workspace_id: int, fan_ids: Sequence[int]) -> dict[int, Any]:
    """The fans' merge-field columns, by id."""
    found: dict[int, Any] = {}
    for chunk in chunks(sorted(set(fan_ids))):
        rows = connection.execute(
            select(fans.c.id, *_MERGE_COLUMNS).where(fans.c.workspace_id == workspace_id, fans.c.id.in_(chunk))
        )
        found.update((int(row.id), row) for row in rows)
    return found


def store_in_outbox(connection: Connection, workspace_id: int, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(mail_outbox), [{**row, "workspace_id": workspace_id} for row in rows])


def page_outbox(
    connection: Connection, workspace_id: int, *, message_id: int | None, offset: int, limit: int
) -> tuple[list[Row[Any]], int]:
    statement = (
        select(*named_columns(OutboxMail.model_fields, mail_outbox, message_name=messages.c.name))
        .join(messages, (messages.c.workspace_id == workspace_id) & (messages.c.id == mail_outbox.c.message_id))
        .where(mail_outbox.c.workspace_id == workspace_id)
    )
    if message_id is not None:
        statement = statement.where(mail_outbox.c.message_id == message_id)
    newest_first = statement.order_by(mail_outbox.c.id.desc())
    return page_of(connection, newest_first, counted=mail_outbox, offset=offset, limit=limit)


def outbox_raw(connection: Connection, workspace_id: int, mail_id: int) -> bytes | None:
    raw = connection.execute(
        select(mail_outbox.c.raw).where(mail_outbox.c.workspace_id == workspace_id, mail_outbox.c.id == mail_id)
    ).scalar_one_or_none()
    return bytes(raw) if raw is not None else None


class MailRecipient(NamedTuple):
    """A recipient as the links in mail and the notifications about it find it."""

    id: int
    message_id: int
    fan_id: int
    email: str
    state: str


_RECIPIENT = named_columns(MailRecipient._fields, recipients)


def get_recipient(connection: Connection, workspace_id: int, recipient_id: int) -> MailRecipient | None:
    statement = select(*_RECIPIENT).where(recipients.c.workspace_id == workspace_id, recipients.c.id == recipient_id)
    return read_one(connection, statement, MailRecipient)


def list_status(connection: Connection, workspace_id: int, list_id: int, fan_id: int) -> str | None:
    status = connection.execute(
        select(list_members.c.status).where(
            list_members.c.workspace_id == workspace_id,
            list_members.c.list_id == list_id,
            list_members.c.fan_id == fan_id,
        )
    ).scalar_one_or_none()
    return str(status) if status is not None else None


def engaged_fans(
    connection: Connection, workspace_id: int, message_id: int, event_types: Sequence[str]
) -> dict[str, int]:
    """Event type → how many different fans recorded it for this message (``properties.message_id``)."""
    rows = connection.execute(
        select(events.c.type, func.count(events.c.fan_id.distinct()))
        .where(
            events.c.workspace_id == workspace_id,
            events.c.type.in_(event_types),
            events.c.properties["message_id"].as_integer() == message_id,
        )
        .group_by(events.c.type)
    )
    return {str(kind): int(count) for kind, count in rows}


def engagement_by_day(
    connection: Connection, workspace_id: int, message_id: int, event_types: Sequence[str]
) -> list[tuple[str, str, int]]:
    """(day as YYYY-MM-DD, event type, events) for this message, oldest day first."""
    day = func.substr(func.cast(events.c.occurred_at, String), 1, 10)
    if connection.dialect.name == "postgresql":
        day = func.to_char(func.timezone("UTC", events.c.occurred_at), "YYYY-MM-DD")
    rows = connection.execute(
        select(day.label("day"), events.c.type, func.count())
        .where(
            events.c.workspace_id == workspace_id,
            events.c.type.in_(event_types),
            events.c.properties["message_id"].as_integer() == message_id,
        )
        .group_by(day, events.c.type)
        .order_by(day)
    )
    return [(str(when), str(kind), int(count)) for when, kind, count in rows]


def received_recently(
    connection: Connection, workspace_id: int, segment_ids: Sequence[int], *, since: datetime
) -> dict[int, int]:
    """Segment id → how many messages its current members were sent since ``since`` (one per member and
    message)."""
    if not segment_ids:
        return {}
    rows = connection.execute(
        select(segment_members.c.segment_id, func.count())
        .select_from(
            segment_members.join(
                recipients,
                (recipients.c.workspace_id == workspace_id) & (recipients.c.fan_id == segment_members.c.fan_id),
            )
        )
        .where(
            segment_members.c.workspace_id == workspace_id,
            segment_members.c.segment_id.in_(segment_ids),
            recipients.c.state == "sent",
            recipients.c.sent_at >= since,
        )
        .group_by(segment_members.c.segment_id)
    )
    return {int(segment_id): int(count) for segment_id, count in rows}


def in_state(connection: Connection, workspace_id: int, recipient_ids: Sequence[int], state: str) -> list[int]:
    """Those of the recipients in ``state``."""
    found: list[int] = []
    for chunk in chunks(recipient_ids):
        found += connection.execute(
            select(recipients.c.id).where(
                recipients.c.workspace_id == workspace_id, recipients.c.id.in_(chunk), recipients.c.state == state
            )
        ).scalars()
    return found


def latest_recipient_by_email(connection: Connection, workspace_id: int, email: str) -> MailRecipient | None:
    """The latest mail sent to this address (for a notification that names only the address)."""
    statement = (
        select(*_RECIPIENT)
        .where(recipients.c.workspace_id == workspace_id, recipients.c.email == email)
        .order_by(recipients.c.id.desc())
        .limit(1)
    )
    return read_one(connection, statement, MailRecipient)


def bounce_after_sending(connection: Connection, workspace_id: int, recipient_id: int, *, error: str) -> bool:
    """A mail the server had accepted bounced later (a DSN): sent → bounced. False when it was not sent (already
    bounced, or never sent)."""
    result = connection.execute(
        update(recipients)
        .where(*_while_in(workspace_id, recipient_id, "sent"))
        .values(state="bounced", error=error[:500])
    )
    return bool(result.rowcount)


def mail_of_fan(connection: Connection, workspace_id: int, fan_id: int) -> list[Row[Any]]:
    """Every message sent (or to be sent) to a fan, newest first: for their data export."""
    of_message = {"message_name": messages.c.name, "subject": messages.c.subject}
    return list(
        connection.execute(
            select(*named_columns(MailReceived.model_fields, recipients, **of_message))
            .join(messages, (messages.c.workspace_id == workspace_id) & (messages.c.id == recipients.c.message_id))
            .where(recipients.c.workspace_id == workspace_id, recipients.c.fan_id == fan_id)
            .order_by(recipients.c.id.desc())
        ).all()
    )
