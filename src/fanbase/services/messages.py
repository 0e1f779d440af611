"""Messages: email to segments. Compose (Markdown with merge fields), see who is reachable and why the others are
not, send now or at a time, cancel, and page through who it went to.

The audience is the members of the message's segments, minus the members of its excluded segments, minus
suppressed fans (and those whose mail bounced or who complained), keeping only the subscribed members of its consent
list. Sending freezes it: the reachable fans and their addresses are written as the message's recipients in the
transaction that sends it, so "who got it" never changes afterwards (services.mail_delivery delivers them).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import messages as messages_repo
from fanbase.db.repositories import recipients as recipients_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.audit import Actor
from fanbase.schemas.audit import AuditAction
from fanbase.schemas.common import Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.messages import UNREACHABLE_REASONS
from fanbase.schemas.messages import Audience
from fanbase.schemas.messages import DayCount
from fanbase.schemas.messages import MailSettings
from fanbase.schemas.messages import MailSettingsPatch
from fanbase.schemas.messages import Message
from fanbase.schemas.messages import MessageIn
from fanbase.schemas.messages import MessagePatch
from fanbase.schemas.messages import MessageStats
from fanbase.schemas.messages import OutboxMail
from fanbase.schemas.messages import Recipient
from fanbase.schemas.messages import RecipientState
from fanbase.schemas.messages import Rendered
from fanbase.schemas.messages import SegmentMailCount
from fanbase.schemas.messages import UnreachableReason
from fanbase.services import audit
from fanbase.services import custom_fields
from fanbase.services import fans as fans_service
from fanbase.services import mail_content
from fanbase.services import mail_links
from fanbase.services import mail_mime

DEFAULT_SEND_RATE = 50  # messages a second, per workspace
DEFAULT_SENDER_ADDRESS = "hello@fanbase.localhost"
_REASON_WORDS = {
    "excluded": "excluded",
    "suppressed": "suppressed",
    "bounced": "bounced",
    "complained": "complained",
    "unsubscribed": "unsubscribed",
    "no_consent": "no consent",
}


def content_of(row: Any) -> mail_content.Content:
    return mail_content.Content(subject=row.subject, preheader=row.preheader, body=row.body)


def _check_audience(connection: Connection, workspace_id: int, values: Mapping[str, Any]) -> None:
    for field in ("segment_ids", "excluded_segment_ids", "on_entry_segment_id"):
        given = values.get(field)
        wanted = [given] if isinstance(given, int) else (given or ())
        missing = messages_repo.missing_segments(connection, workspace_id, wanted)
        if missing:
            raise NotFound(f"segment {missing[0]} not found", field=field)
    list_id = values.get("list_id")
    if list_id is not None and not messages_repo.list_exists(connection, workspace_id, list_id):
        raise NotFound(f"list {list_id} not found", field="list_id")


def _present(connection: Connection, workspace_id: int, rows: list[Any]) -> list[Message]:
    ids = [row.id for row in rows]
    segments = messages_repo.segments_of(connection, workspace_id, ids)
    counts = messages_repo.recipient_counts(connection, workspace_id, ids)
    return [
        Message(
            id=row.id,
            name=row.name,
            subject=row.subject,
            preheader=row.preheader,
            body=row.body,
            segment_ids=segments[row.id][False],
            excluded_segment_ids=segments[row.id][True],
            list_id=row.list_id,
            on_entry_segment_id=row.trigger_segment_id,
            on_entry_delay_minutes=(row.trigger_delay_seconds or 0) // 60,
            status=row.status,
            send_at=row.send_at,
            sent_at=row.sent_at,
            recipients=counts.get(row.id, 0),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in rows
    ]


def _load(connection: Connection, workspace_id: int, message_id: int, *, lock: bool = False) -> Any:
    row = messages_repo.get_message(connection, workspace_id, message_id, lock=lock)
    if row is None:
        raise NotFound(f"message {message_id} not found")
    return row


def create_message(database: Database, workspace_id: int, data: MessageIn, *, now: datetime) -> Message:
    mail_content.compile_content(mail_content.Content(subject=data.subject, preheader=data.preheader, body=data.body))
    with database.transaction(workspace_id=workspace_id) as connection:
        _check_audience(connection, workspace_id, data.model_dump())
        message_id = messages_repo.insert_message(
            connection,
            workspace_id,
            {
                "name": data.name,
                "subject": data.subject,
                "preheader": data.preheader,
                "body": data.body,
                "list_id": data.list_id,
                "trigger_segment_id": data.on_entry_segment_id,
                "trigger_delay_seconds": data.on_entry_delay_minutes * 60,
                "status": "draft",
                "created_at": now,
                "updated_at": now,
            },
        )
        messages_repo.set_segments(connection, workspace_id, message_id, included=data.segment_ids, excluded=False)
        messages_repo.set_segments(
            connection, workspace_id, message_id, included=data.excluded_segment_ids, excluded=True
        )
        return _present(connection, workspace_id, [_load(connection, workspace_id, message_id)])[0]


def get_message(database: Database, workspace_id: int, message_id: int) -> Message:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return _present(connection, workspace_id, [_load(connection, workspace_id, message_id)])[0]


def list_messages(database: Database, workspace_id: int, *, page: int, page_size: int) -> Page[Message]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        rows, total = messages_repo.page_messages(
            connection, workspace_id, offset=(page - 1) * page_size, limit=page_size
        )
        return Page(items=_present(connection, workspace_id, rows), total=total, page=page, page_size=page_size)


def update_message(
    database: Database, workspace_id: int, message_id: int, patch: MessagePatch, *, now: datetime
) -> Message:
    """Change a draft or a scheduled message; a message being sent or sent is what it was."""
    changes = patch.model_dump(exclude_unset=True)
    for field in ("name", "subject", "body", "preheader"):
        if field in changes and changes[field] is None:
            raise InvalidInput("cannot be null", field=field)
    with database.transaction(workspace_id=workspace_id) as connection:
        row = _load(connection, workspace_id, message_id, lock=True)
        if row.status not in ("draft", "scheduled"):
            raise Conflict(f"message {message_id} is {row.status}: it can no longer be changed")
        merged = {field: changes.get(field, getattr(row, field)) for field in ("subject", "preheader", "body")}
        mail_content.compile_content(mail_content.Content(**merged))
        _check_audience(connection, workspace_id, changes)
        trigger = changes.pop("on_entry_segment_id", row.trigger_segment_id)
        included = changes.get("segment_ids", None)
        if trigger is not None and (included or (included is None and _has_segments(connection, workspace_id, row.id))):
            raise InvalidInput(
                "a message sent on entry goes to those who enter its segment: leave segment_ids empty",
                field="on_entry_segment_id",
            )
        columns = {key: value for key, value in changes.items() if key not in ("segment_ids", "excluded_segment_ids")}
        columns["trigger_segment_id"] = trigger
        if "on_entry_delay_minutes" in columns:
            columns["trigger_delay_seconds"] = (columns.pop("on_entry_delay_minutes") or 0) * 60
        messages_repo.update_message(connection, workspace_id, message_id, {**columns, "updated_at": now})
        if "segment_ids" in changes:
            messages_repo.set_segments(
                connection, workspace_id, message_id, included=changes["segment_ids"] or (), excluded=False
            )
        if "excluded_segment_ids" in changes:
            messages_repo.set_segments(
                connection, workspace_id, message_id, included=changes["excluded_segment_ids"] or (), excluded=True
            )
        return _present(connection, workspace_id, [_load(connection, workspace_id, message_id)])[0]


def _has_segments(connection: Connection, workspace_id: int, message_id: int) -> bool:
    return bool(messages_repo.segments_of(connection, workspace_id, [message_id])[message_id][False])


def included_segments(message: Message) -> list[int]:
    """Whose members a message is for: its segments, or the segment it is sent on entering."""
    if message.on_entry_segment_id is not None:
        return [message.on_entry_segment_id]
    return message.segment_ids


def _audience_of(connection: Connection, workspace_id: int, message: Message) -> Audience:
    counts = messages_repo.audience_counts(
        connection, workspace_id, included_segments(message), message.excluded_segment_ids, message.list_id
    )
    reachable = counts.pop(messages_repo.REACHABLE, 0)
    unreachable = {reason: counts[reason] for reason in UNREACHABLE_REASONS if counts.get(reason)}
    total = reachable + sum(unreachable.values())
    return Audience(
        total=total,
        reachable=reachable,
        unreachable=unreachable,
        summary=audience_summary(total, reachable, unreachable),
    )


def audience_summary(total: int, reachable: int, unreachable: Mapping[UnreachableReason, int]) -> str:
    """ "412 in the segments → 377 reachable: 20 unsubscribed, 9 bounced, 6 no consent"."""
    line = f"{total:,} in the segments → {reachable:,} reachable"
    if unreachable:
        line += ": " + ", ".join(f"{count:,} {_REASON_WORDS[reason]}" for reason, count in unreachable.items())
    return line


def audience(database: Database, workspace_id: int, message_id: int) -> Audience:
    """Who the message would reach if sent now, and why the others would not be."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        message = _present(connection, workspace_id, [_load(connection, workspace_id, message_id)])[0]
        return _audience_of(connection, workspace_id, message)


def reachable_sample(database: Database, workspace_id: int, message_id: int, *, limit: int = 20) -> list[Fan]:
    """The first fans the message would reach if sent now, exactly as its audience counts them (to preview it as
    one of them)."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        message = _present(connection, workspace_id, [_load(connection, workspace_id, message_id)])[0]
        fan_ids = messages_repo.reachable_ids(
            connection,
            workspace_id,
            included_segments(message),
            message.excluded_segment_ids,
            message.list_id,
            limit=min(limit, 100),
        )
        rows = segments_repo.fans_by_ids(connection, workspace_id, fan_ids)
        return fans_service.present(connection, workspace_id, fans_repo.hydrate_fans(connection, workspace_id, rows))


def _check_sendable(message: Message) -> None:
    if not included_segments(message):
        raise InvalidInput("choose at least one segment to send to", field="segment_ids")
    if message.list_id is None:
        raise InvalidInput("choose the list whose subscribers agreed to receive mail", field="list_id")


def send_message(
    database: Database,
    workspace_id: int,
    message_id: int,
    *,
    at: datetime | None,
    now: datetime,
    actor: Actor | None = None,
) -> Message:
    """Send a draft now (its recipients frozen in this transaction) or schedule it for ``at``. A scheduled message
    may be sent now or rescheduled the same way."""
    with database.transaction(workspace_id=workspace_id) as connection:
        row = _load(connection, workspace_id, message_id, lock=True)
        if row.status not in ("draft", "scheduled"):
            raise Conflict(f"message {message_id} is {row.status}: it cannot be sent again")
        message = _present(connection, workspace_id, [row])[0]
        _check_sendable(message)
        if at is not None and at > now:
            messages_repo.update_message(
                connection, workspace_id, message_id, {"status": "scheduled", "send_at": at, "updated_at": now}
            )
            _audit(connection, workspace_id, actor, "message.scheduled", message_id, now=now)
        else:
            frozen = _freeze(connection, workspace_id, message, now=now)
            _audit(connection, workspace_id, actor, "message.sent", message_id, now=now, recipients=frozen)
        return _present(connection, workspace_id, [_load(connection, workspace_id, message_id)])[0]


def _audit(
    connection: Connection,
    workspace_id: int,
    actor: Actor | None,
    action: AuditAction,
    message_id: int,
    *,
    now: datetime,
    **counts: int,
) -> None:
    """A message's audit entry: its target is the message; ``counts`` say how many recipients the action touched."""
    audit.record(
        connection, workspace_id, actor, action, target=f"message {message_id}", details=counts or None, now=now
    )


def _freeze(connection: Connection, workspace_id: int, message: Message, *, now: datetime) -> int:
    """Record the reachable fans as the message's recipients, due now, and mark it being sent. A message sent on
    entry is activated instead: from now on, those who enter its segment become its recipients (mail_delivery)."""
    assert message.list_id is not None
    if message.on_entry_segment_id is not None:
        messages_repo.update_message(
            connection, workspace_id, message.id, {"status": "sending", "sent_at": now, "updated_at": now}
        )
        return 0
    frozen = messages_repo.freeze_recipients(
        connection,
        workspace_id,
        message.id,
        included=message.segment_ids,
        excluded=message.excluded_segment_ids,
        list_id=message.list_id,
        due=now,
    )
    messages_repo.update_message(
        connection, workspace_id, message.id, {"status": "sending", "sent_at": now, "updated_at": now}
    )
    recipients_repo.finish_messages(connection, workspace_id, now=now)  # nobody reachable: sent at once
    return frozen


def start_due(database: Database, *, now: datetime) -> list[int]:
    """Send every scheduled message whose time has come (the sender's loop calls this); returns their ids."""
    # Across workspaces: due messages are found in every workspace, then each is started in its own.
    with database.transaction(workspace_id=ACROSS_WORKSPACES, write=False) as connection:
        due = messages_repo.due_scheduled(connection, now=now)
    started = []
    for workspace_id, message_id in due:
        with database.transaction(workspace_id=workspace_id) as connection:
            row = _load(connection, workspace_id, message_id, lock=True)
            if row.status != "scheduled" or row.send_at is None or row.send_at > now:
                continue  # cancelled, rescheduled or started by another sender meanwhile
            _freeze(connection, workspace_id, _present(connection, workspace_id, [row])[0], now=now)
            started.append(message_id)
    return started


def unschedule_message(
    database: Database, workspace_id: int, message_id: int, *, now: datetime, actor: Actor | None = None
) -> Message:
    """A scheduled message back to a draft: it will not go out until sent or scheduled again."""
    with database.transaction(workspace_id=workspace_id) as connection:
        row = _load(connection, workspace_id, message_id, lock=True)
        if row.status != "scheduled":
            raise Conflict(f"message {message_id} is {row.status}: only a scheduled message can go back to a draft")
        messages_repo.update_message(
            connection, workspace_id, message_id, {"status": "draft", "send_at": None, "updated_at": now}
        )
        _audit(connection, workspace_id, actor, "message.unscheduled", message_id, now=now)
        return _present(connection, workspace_id, [_load(connection, workspace_id, message_id)])[0]


def cancel_message(
    database: Database, workspace_id: int, message_id: int, *, now: datetime, actor: Actor | None = None
) -> Message:
    """Cancel a scheduled message, or stop one being sent (its recipients not yet sent are skipped)."""
    with database.transaction(workspace_id=workspace_id) as connection:
        row = _load(connection, workspace_id, message_id, lock=True)
        if row.status not in ("scheduled", "sending"):
            raise Conflict(
                f"message {message_id} is {row.status}: only a scheduled or sending message can be cancelled"
            )
        skipped = recipients_repo.skip_pending(connection, workspace_id, message_id, error="cancelled")
        messages_repo.update_message(connection, workspace_id, message_id, {"status": "cancelled", "updated_at": now})
        _audit(connection, workspace_id, actor, "message.cancelled", message_id, now=now, skipped=skipped)
        return _present(connection, workspace_id, [_load(connection, workspace_id, message_id)])[0]


def recipients(
    database: Database,
    workspace_id: int,
    message_id: int,
    *,
    state: RecipientState | None = None,
    page: int,
    page_size: int,
) -> Page[Recipient]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        _load(connection, workspace_id, message_id)
        rows, total = recipients_repo.page_recipients(
            connection, workspace_id, message_id, state=state, offset=(page - 1) * page_size, limit=page_size
        )
    items = [Recipient.model_validate(dict(row._mapping)) for row in rows]
    return Page(items=items, total=total, page=page, page_size=page_size)


ENGAGEMENT_EVENTS = ("email_opened", "link_clicked", "email_unsubscribed")


def stats(database: Database, workspace_id: int, message_id: int) -> MessageStats:
    """How its sending went, and what its recipients did with it."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        _load(connection, workspace_id, message_id)
        states = recipients_repo.state_counts(connection, workspace_id, message_id)
        engaged = recipients_repo.engaged_fans(connection, workspace_id, message_id, ENGAGEMENT_EVENTS)
        daily = recipients_repo.engagement_by_day(connection, workspace_id, message_id, ENGAGEMENT_EVENTS[:2])
    days: dict[str, dict[str, int]] = {}
    for day, kind, count in daily:
        days.setdefault(day, {})[kind] = count
    return MessageStats(
        recipients=sum(states.values()),
        queued=states.get("queued", 0) + states.get("sending", 0),
        sent=states.get("sent", 0) + states.get("accepted", 0),
        failed=states.get("failed", 0),
        bounced=states.get("bounced", 0),
        skipped=states.get("skipped", 0),
        opened=engaged.get("email_opened", 0),
        clicked=engaged.get("link_clicked", 0),
        unsubscribed=engaged.get("email_unsubscribed", 0),
        by_day=[
            DayCount(day=day, opened=counts.get("email_opened", 0), clicked=counts.get("link_clicked", 0))
            for day, counts in days.items()
        ],
    )


def mail_received(
    database: Database, workspace_id: int, segment_ids: Sequence[int], *, now: datetime
) -> list[SegmentMailCount]:
    """Per segment, how many messages its members were sent in the last 30 days."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        counts = recipients_repo.received_recently(
            connection, workspace_id, segment_ids, since=now - timedelta(days=30)
        )
    return [SegmentMailCount(segment_id=segment_id, received=counts.get(segment_id, 0)) for segment_id in segment_ids]


def merge_values(fields: Mapping[str, Any], fan: Any) -> dict[str, Any]:
    """What a fan's merge fields hold: their properties, and ``custom`` (their custom fields by name, read with the
    workspace's ``custom_fields.definitions``)."""
    return {
        "email": fan.email,
        "first_name": fan.first_name,
        "last_name": fan.last_name,
        "country": fan.country,
        "city": fan.city,
        "lifecycle_stage": fan.lifecycle_stage,
        "total_spent": (Decimal(fan.total_spent_cents) / 100).quantize(Decimal("0.01")),
        "purchase_count": fan.purchase_count,
        "custom": custom_fields.decode_values(fields, fan.custom_fields or {}),
    }


def preview(database: Database, workspace_id: int, message_id: int, *, fan_id: int | None, base_url: str) -> Rendered:
    """The message as ``fan_id`` would get it (without a fan, every merge field empty, so defaults show): the HTML
    document whole, preheader and footer included; its unsubscribe link leads to a page that changes nothing."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        row = _load(connection, workspace_id, message_id)
        values: dict[str, Any] = {}
        if fan_id is not None:
            fans = recipients_repo.fans_for_mail(connection, workspace_id, [fan_id])
            if fan_id not in fans:
                raise NotFound(f"fan {fan_id} not found", field="fan_id")
            values = merge_values(custom_fields.definitions(connection, workspace_id), fans[fan_id])
    rendered = mail_content.render(mail_content.compile_content(content_of(row)), values)
    links = mail_content.Links(
        unsubscribe_url=f"{base_url.rstrip('/')}/u/preview", unsubscribe_mailto=f"mailto:{DEFAULT_SENDER_ADDRESS}"
    )
    return Rendered(
        fan_id=fan_id,
        subject=rendered.subject,
        preheader=rendered.preheader,
        html=mail_mime.build_html(rendered, links=links),
        text=mail_mime.build_text(rendered, links=links),
    )


def settings_of(connection: Connection, workspace_id: int, *, now: datetime) -> Any:
    """The workspace's mail settings row, made with defaults the first time."""
    row = messages_repo.get_settings(connection, workspace_id)
    if row is None:
        messages_repo.insert_settings(
            connection,
            workspace_id,
            {
                "sender_name": "fanbase",
                "sender_address": DEFAULT_SENDER_ADDRESS,
                "tracking": True,
                "send_rate": DEFAULT_SEND_RATE,
                "secret": secrets.token_hex(32),
                "updated_at": now,
            },
        )
        row = messages_repo.get_settings(connection, workspace_id)
    return row


def _settings_record(row: Any) -> MailSettings:
    return MailSettings(
        sender_name=row.sender_name,
        sender_address=row.sender_address,
        tracking=row.tracking,
        send_rate=row.send_rate,
        inbound_secret=mail_links.inbound_secret(row.secret),
    )


def get_settings(database: Database, workspace_id: int, *, now: datetime) -> MailSettings:
    with database.transaction(workspace_id=workspace_id) as connection:
        return _settings_record(settings_of(connection, workspace_id, now=now))


def update_settings(database: Database, workspace_id: int, patch: MailSettingsPatch, *, now: datetime) -> MailSettings:
    changes = {key: value for key, value in patch.model_dump(exclude_unset=True).items() if value is not None}
    with database.transaction(workspace_id=workspace_id) as connection:
        settings_of(connection, workspace_id, now=now)
        messages_repo.update_settings(connection, workspace_id, {**changes, "updated_at": now})
        return _settings_record(settings_of(connection, workspace_id, now=now))


def outbox(
    database: Database, workspace_id: int, *, message_id: int | None, page: int, page_size: int
) -> Page[OutboxMail]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        rows, total = recipients_repo.page_outbox(
            connection, workspace_id, message_id=message_id, offset=(page - 1) * page_size, limit=page_size
        )
    items = [OutboxMail.model_validate(dict(row._mapping)) for row in rows]
    return Page(items=items, total=total, page=page, page_size=page_size)


def outbox_raw(database: Database, workspace_id: int, mail_id: int) -> bytes:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        raw = recipients_repo.outbox_raw(connection, workspace_id, mail_id)
    if raw is None:
        raise NotFound(f"mail {mail_id} not found")
    return raw
