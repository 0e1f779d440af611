"""Messages, the segments they go to, their audience (who is reachable and why the others are not) and each
workspace's mail settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Row
from sqlalchemy import Select
from sqlalchemy import Subquery
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import type_coerce
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fanbase.db.repositories.sql import chunks
from fanbase.db.repositories.sql import page_of
from fanbase.db.tables import fans
from fanbase.db.tables import list_members
from fanbase.db.tables import lists
from fanbase.db.tables import mail_settings
from fanbase.db.tables import message_recipients
from fanbase.db.tables import message_segments
from fanbase.db.tables import messages
from fanbase.db.tables import segment_members
from fanbase.db.tables import segment_membership_log
from fanbase.db.tables import segments
from fanbase.db.tables import suppressions
from fanbase.db.types import UTCDateTime

REACHABLE = "reachable"


def insert_message(connection: Connection, workspace_id: int, values: dict[str, Any]) -> int:
    result = connection.execute(insert(messages).values(workspace_id=workspace_id, **values).returning(messages.c.id))
    return int(result.scalar_one())


def update_message(connection: Connection, workspace_id: int, message_id: int, values: dict[str, Any]) -> None:
    connection.execute(
        update(messages).where(messages.c.workspace_id == workspace_id, messages.c.id == message_id).values(**values)
    )


def set_segments(
    connection: Connection, workspace_id: int, message_id: int, *, included: Sequence[int] | None, excluded: bool
) -> None:
    """Replace the message's included (or excluded) segments."""
    if included is None:
        return
    connection.execute(
        delete(message_segments).where(
            message_segments.c.workspace_id == workspace_id,
            message_segments.c.message_id == message_id,
            message_segments.c.excluded == excluded,
        )
    )
    if included:
        connection.execute(
            insert(message_segments),
            [
                {"workspace_id": workspace_id, "message_id": message_id, "segment_id": segment_id, "excluded": excluded}
                for segment_id in included
            ],
        )


def get_message(connection: Connection, workspace_id: int, message_id: int, *, lock: bool = False) -> Row[Any] | None:
    statement = select(messages).where(messages.c.workspace_id == workspace_id, messages.c.id == message_id)
    if lock and connection.dialect.name == "postgresql":
        statement = statement.with_for_update()
    return connection.execute(statement).one_or_none()


def segments_of(
    connection: Connection, workspace_id: int, message_ids: Sequence[int]
) -> dict[int, dict[bool, list[int]]]:
    """message id → {False: included segment ids, True: excluded ones}."""
    found: dict[int, dict[bool, list[int]]] = {message_id: {False: [], True: []} for message_id in message_ids}
    if not message_ids:
        return found
    rows = connection.execute(
        select(message_segments.c.message_id, message_segments.c.segment_id, message_segments.c.excluded)
        .where(message_segments.c.workspace_id == workspace_id, message_segments.c.message_id.in_(message_ids))
        .order_by(message_segments.c.segment_id)
    )
    for message_id, segment_id, excluded in rows:
        found[message_id][bool(excluded)].append(segment_id)
    return found


def recipient_counts(connection: Connection, workspace_id: int, message_ids: Sequence[int]) -> dict[int, int]:
    if not message_ids:
        return {}
    rows = connection.execute(
        select(message_recipients.c.message_id, func.count())
        .where(message_recipients.c.workspace_id == workspace_id, message_recipients.c.message_id.in_(message_ids))
        .group_by(message_recipients.c.message_id)
    )
    return {message_id: int(count) for message_id, count in rows}


def page_messages(connection: Connection, workspace_id: int, *, offset: int, limit: int) -> tuple[list[Row[Any]], int]:
    newest_first = select(messages).where(messages.c.workspace_id == workspace_id).order_by(messages.c.id.desc())
    return page_of(connection, newest_first, counted=messages, offset=offset, limit=limit)


def _members(workspace_id: int, segment_ids: Sequence[int]) -> Select[tuple[int]]:
    return (
        select(segment_members.c.fan_id)
        .where(segment_members.c.workspace_id == workspace_id, segment_members.c.segment_id.in_(segment_ids))
        .distinct()
    )


def _audience(
    workspace_id: int,
    included: Sequence[int] | None,
    excluded: Sequence[int],
    list_id: int | None,
    fan_ids: Sequence[int],
) -> Subquery:
    """The fans of the included segments (or, given ``fan_ids``, those of them; with ``included`` None, the fans
    ``fan_ids`` whatever their segments), each with the first reason they are not reachable, or ``REACHABLE``: in an
    excluded segment, suppressed (by reason), then by their status on the consent list (none: no consent). Joins
    rather than a subquery per fan, so the database can hash them."""
    if included is None:
        candidates = select(fans.c.id.label("fan_id")).where(
            fans.c.workspace_id == workspace_id, fans.c.id.in_(fan_ids)
        )
    else:
        candidates = _members(workspace_id, included)
        if fan_ids:
            candidates = candidates.where(segment_members.c.fan_id.in_(fan_ids))
    candidate = candidates.subquery("candidate")
    blocked = (
        select(suppressions.c.fan_id, func.min(suppressions.c.reason).label("reason"))
        .where(suppressions.c.workspace_id == workspace_id, suppressions.c.fan_id.is_not(None))
        .group_by(suppressions.c.fan_id)
        .subquery("blocked")
    )
    consent = (
        select(list_members.c.fan_id, list_members.c.status)
        .where(list_members.c.workspace_id == workspace_id, list_members.c.list_id == (list_id or 0))
        .subquery("consent")
    )
    joined = candidate.outerjoin(blocked, blocked.c.fan_id == candidate.c.fan_id).outerjoin(
        consent, consent.c.fan_id == candidate.c.fan_id
    )
    whens: list[tuple[Any, Any]] = []
    if excluded:
        away = _members(workspace_id, excluded).subquery("away")
        joined = joined.outerjoin(away, away.c.fan_id == candidate.c.fan_id)
        whens.append((away.c.fan_id.is_not(None), literal("excluded")))
    whens += [
        (blocked.c.reason.in_(("bounced", "complained")), blocked.c.reason),
        (blocked.c.reason.is_not(None), literal("suppressed")),
        (consent.c.status.is_(None), literal("no_consent")),
        (consent.c.status == "subscribed", literal(REACHABLE)),
    ]
    reason = case(*whens, else_=consent.c.status)
    return select(candidate.c.fan_id, reason.label("reason")).select_from(joined).subquery("audience")


def audience_counts(
    connection: Connection, workspace_id: int, included: Sequence[int], excluded: Sequence[int], list_id: int | None
) -> dict[str, int]:
    """reason (or ``REACHABLE``) → how many fans of the included segments it applies to first."""
    if not included:
        return {}
    audience = _audience(workspace_id, included, excluded, list_id, ())
    rows = connection.execute(select(audience.c.reason, func.count()).group_by(audience.c.reason))
    return {str(reason): int(count) for reason, count in rows}


def freeze_recipients(
    connection: Connection,
    workspace_id: int,
    message_id: int,
    *,
    included: Sequence[int],
    excluded: Sequence[int],
    list_id: int,
    due: datetime,
    fan_ids: Sequence[int] = (),
) -> int:
    """Record the reachable fans (of ``fan_ids`` when given) as the message's recipients, queued for ``due``, with
    their addresses as they are now; a fan already a recipient is left as they are. Returns how many were added."""
    audience = _audience(workspace_id, included, excluded, list_id, fan_ids)
    already = select(message_recipients.c.fan_id).where(
        message_recipients.c.workspace_id == workspace_id, message_recipients.c.message_id == message_id
    )
    chosen = (
        select(
            literal(workspace_id),
            literal(message_id),
            audience.c.fan_id,
            fans.c.email,
            literal("queued"),
            literal(0),
            literal(due, type_=message_recipients.c.next_attempt_at.type),
        )
        .select_from(audience.join(fans, and_(fans.c.workspace_id == workspace_id, fans.c.id == audience.c.fan_id)))
        .where(audience.c.reason == REACHABLE, audience.c.fan_id.not_in(already))
        .order_by(audience.c.fan_id)
    )
    insert_into = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    columns = ["workspace_id", "message_id", "fan_id", "email", "state", "attempts", "next_attempt_at"]
    # A concurrent freeze of the same fan (send on entry) inserts nothing twice: the unique (message, fan) holds.
    result = connection.execute(insert_into(message_recipients).from_select(columns, chosen).on_conflict_do_nothing())
    return int(result.rowcount)


def due_scheduled(connection: Connection, *, now: datetime) -> list[tuple[int, int]]:
    """(workspace, message) of every scheduled message whose time has come, across workspaces."""
    rows = connection.execute(
        select(messages.c.workspace_id, messages.c.id)
        .where(messages.c.status == "scheduled", messages.c.send_at <= now)
        .order_by(messages.c.send_at)
    )
    return [(int(workspace_id), int(message_id)) for workspace_id, message_id in rows]


def get_settings(connection: Connection, workspace_id: int) -> Row[Any] | None:
    return connection.execute(select(mail_settings).where(mail_settings.c.workspace_id == workspace_id)).one_or_none()


def insert_settings(connection: Connection, workspace_id: int, values: dict[str, Any]) -> None:
    connection.execute(insert(mail_settings).values(workspace_id=workspace_id, **values))


def update_settings(connection: Connection, workspace_id: int, values: dict[str, Any]) -> None:
    connection.execute(update(mail_settings).where(mail_settings.c.workspace_id == workspace_id).values(**values))


def missing_segments(connection: Connection, workspace_id: int, segment_ids: Sequence[int]) -> list[int]:
    """Those of the ids that name no segment of the workspace."""
    if not segment_ids:
        return []
    found = set(
        connection.execute(
            select(segments.c.id).where(segments.c.workspace_id == workspace_id, segments.c.id.in_(segment_ids))
        ).scalars()
    )
    return sorted(set(segment_ids) - found)


def list_exists(connection: Connection, workspace_id: int, list_id: int) -> bool:
    statement = select(lists.c.id).where(lists.c.workspace_id == workspace_id, lists.c.id == list_id)
    return connection.execute(statement).first() is not None


def list_name(connection: Connection, workspace_id: int, list_id: int) -> str | None:
    name = connection.execute(
        select(lists.c.name).where(lists.c.workspace_id == workspace_id, lists.c.id == list_id)
    ).scalar_one_or_none()
    return str(name) if name is not None else None


def reasons_now(
    connection: Connection,
    workspace_id: int,
    fan_ids: Sequence[int],
    *,
    included: Sequence[int] | None,
    excluded: Sequence[int],
    list_id: int | None,
) -> dict[int, str]:
    """Each of the fans' reason not to be sent mail now (``REACHABLE`` for those to send to); with ``included``, a
    fan no longer in those segments is ``left_segment``."""
    found = dict.fromkeys(fan_ids, "left_segment")
    for chunk in chunks(sorted(set(fan_ids))):
        audience = _audience(workspace_id, included, excluded, list_id, chunk)
        found.update((int(fan_id), str(reason)) for fan_id, reason in connection.execute(select(audience)))
    return found


def entries_to_enqueue(
    connection: Connection, workspace_id: int, message_id: int, segment_id: int, *, since: datetime, limit: int
) -> list[tuple[int, datetime]]:
    """(fan, when they entered) for the fans who entered ``segment_id`` after ``since`` and are not yet the
    message's recipients (their first entry), at most ``limit``."""
    log = segment_membership_log
    already = select(message_recipients.c.fan_id).where(
        message_recipients.c.workspace_id == workspace_id, message_recipients.c.message_id == message_id
    )
    entered_at = type_coerce(func.min(log.c.at), UTCDateTime())  # SQLite's min() forgets the column's type
    rows = connection.execute(
        select(log.c.fan_id, entered_at)
        .where(
            log.c.workspace_id == workspace_id,
            log.c.segment_id == segment_id,
            log.c.entered.is_(True),
            log.c.at > since,
            log.c.fan_id.not_in(already),
        )
        .group_by(log.c.fan_id)
        .order_by(entered_at)
        .limit(limit)
    )
    return [(int(fan_id), at) for fan_id, at in rows]


def add_recipients(connection: Connection, workspace_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Recipients added one by one (send on entry); a fan already a recipient is left as they are."""
    if not rows:
        return
    insert_into = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(
        insert_into(message_recipients).on_conflict_do_nothing(),
        [{**row, "workspace_id": workspace_id} for row in rows],
    )


def triggered_messages(connection: Connection, workspace_id: int) -> list[Any]:
    """The workspace's messages sent on entry that are active."""
    return list(
        connection.execute(
            select(messages).where(
                messages.c.workspace_id == workspace_id,
                messages.c.status == "sending",
                messages.c.trigger_segment_id.is_not(None),
            )
        ).all()
    )


def emails_of(connection: Connection, workspace_id: int, fan_ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in chunks(sorted(set(fan_ids))):
        rows = connection.execute(
            select(fans.c.id, fans.c.email).where(fans.c.workspace_id == workspace_id, fans.c.id.in_(chunk))
        )
        found.update((int(fan_id), str(address)) for fan_id, address in rows)
    return found


def reachable_ids(
    connection: Connection,
    workspace_id: int,
    included: Sequence[int],
    excluded: Sequence[int],
    list_id: int | None,
    *,
    limit: int,
) -> list[int]:
    """The first ``limit`` fans (by id) the message would reach now."""
    if not included:
        return []
    audience = _audience(workspace_id, included, excluded, list_id, ())
    rows = connection.execute(
        select(audience.c.fan_id).where(audience.c.reason == REACHABLE).order_by(audience.c.fan_id).limit(limit)
    )
    return [int(fan_id) for fan_id in rows.scalars()]
