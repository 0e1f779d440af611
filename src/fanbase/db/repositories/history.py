"""Reading the ledgers: segment membership, tag links and list subscriptions, as history and as sizes over time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import Literal
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql import Select

from fanbase.db.repositories.sql import page_of
from fanbase.db.tables import fans
from fanbase.db.tables import list_subscription_log
from fanbase.db.tables import segment_members
from fanbase.db.tables import segment_membership_log
from fanbase.db.tables import segments
from fanbase.db.tables import tag_membership_log
from fanbase.schemas.history import FanSegmentMembership
from fanbase.schemas.history import MembershipEvent

Bucket = Literal["hour", "day"]


class ChangesQuery(Protocol):
    """Net size before ``start`` and (bucket key, entered, exited) per bucket, for one segment, tag or list."""

    def __call__(
        self,
        connection: Connection,
        workspace_id: int,
        object_id: int,
        /,
        *,
        start: datetime,
        end: datetime,
        bucket: Bucket,
    ) -> tuple[int, list[tuple[str, int, int]]]: ...


def bucket_key(column: Any, bucket: Bucket, dialect: str) -> ColumnElement[str]:
    """The UTC hour or day of an instant as text, 'YYYY-MM-DD' or 'YYYY-MM-DD HH', the same on both databases."""
    if dialect == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text
        return func.substr(column, 1, 10 if bucket == "day" else 13)
    pattern = "YYYY-MM-DD" if bucket == "day" else "YYYY-MM-DD HH24"
    return func.to_char(func.timezone("UTC", column), pattern)


def segment_log(
    connection: Connection,
    workspace_id: int,
    *,
    segment_id: int | None = None,
    fan_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[list[MembershipEvent], int]:
    """Ledger lines, newest first, of a segment or a fan, at or after ``start`` and before ``end`` when given."""
    conditions = [segment_membership_log.c.workspace_id == workspace_id]
    if segment_id is not None:
        conditions.append(segment_membership_log.c.segment_id == segment_id)
    if fan_id is not None:
        conditions.append(segment_membership_log.c.fan_id == fan_id)
    if start is not None:
        conditions.append(segment_membership_log.c.at >= start)
    if end is not None:
        conditions.append(segment_membership_log.c.at < end)
    statement = (
        select(
            segment_membership_log.c.segment_id,
            segments.c.name.label("segment_name"),
            segment_membership_log.c.fan_id,
            fans.c.email.label("fan_email"),
            segment_membership_log.c.entered,
            segment_membership_log.c.at,
            segment_membership_log.c.cause,
            segment_membership_log.c.rule_version,
        )
        .join(
            segments,
            and_(
                segments.c.workspace_id == segment_membership_log.c.workspace_id,
                segments.c.id == segment_membership_log.c.segment_id,
            ),
        )
        .join(
            fans,
            and_(
                fans.c.workspace_id == segment_membership_log.c.workspace_id,
                fans.c.id == segment_membership_log.c.fan_id,
            ),
        )
        .where(*conditions)
        .order_by(segment_membership_log.c.at.desc(), segment_membership_log.c.id.desc())
    )
    rows, total = page_of(connection, statement, counted=segment_membership_log, offset=offset, limit=limit)
    return [MembershipEvent.model_validate(row._mapping) for row in rows], total


def current_memberships(connection: Connection, workspace_id: int, fan_id: int) -> list[FanSegmentMembership]:
    """The segments a fan is in, each with the ledger row that put them there (the latest entry)."""
    entries = segment_membership_log.alias("entries")
    latest_entry = (
        select(func.max(entries.c.id))
        .where(
            entries.c.workspace_id == workspace_id,
            entries.c.segment_id == segment_members.c.segment_id,
            entries.c.fan_id == fan_id,
            entries.c.entered.is_(True),
        )
        .scalar_subquery()
    )
    rows = connection.execute(
        select(
            segment_members.c.segment_id,
            segments.c.name.label("segment_name"),
            segments.c.kind,
            segment_members.c.since,
            func.coalesce(segment_membership_log.c.cause, literal("build")).label("cause"),
            func.coalesce(segment_membership_log.c.rule_version, segments.c.rule_version).label("rule_version"),
        )
        .join(
            segments,
            and_(
                segments.c.workspace_id == segment_members.c.workspace_id,
                segments.c.id == segment_members.c.segment_id,
            ),
        )
        .outerjoin(segment_membership_log, segment_membership_log.c.id == latest_entry)
        .where(segment_members.c.workspace_id == workspace_id, segment_members.c.fan_id == fan_id)
        .order_by(segments.c.name_key)
    )
    return [FanSegmentMembership.model_validate(row._mapping) for row in rows]


def members_as_of(workspace_id: int, segment_id: int, at: datetime) -> ColumnElement[bool]:
    """Fans who were members at ``at``: their ledger entries and exits up to then net to one (they alternate)."""
    net = func.sum(case((segment_membership_log.c.entered.is_(True), 1), else_=-1))
    was_member = (
        select(segment_membership_log.c.fan_id)
        .where(
            segment_membership_log.c.workspace_id == workspace_id,
            segment_membership_log.c.segment_id == segment_id,
            segment_membership_log.c.at <= at,
        )
        .group_by(segment_membership_log.c.fan_id)
        .having(net > 0)
    )
    return fans.c.id.in_(was_member)


def _changes(
    connection: Connection,
    source: Select[Any],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
) -> tuple[int, list[tuple[str, int, int]]]:
    """Given a select of (at, delta_in, delta_out) rows, the net size before ``start`` and per-bucket counts."""
    rows = source.subquery()
    dialect = connection.dialect.name
    before = connection.execute(
        select(func.coalesce(func.sum(rows.c.delta_in - rows.c.delta_out), 0)).where(rows.c.at < start)
    ).scalar_one()
    key = bucket_key(rows.c.at, bucket, dialect).label("bucket")
    buckets = connection.execute(
        select(key, func.sum(rows.c.delta_in), func.sum(rows.c.delta_out))
        .where(rows.c.at >= start, rows.c.at <= end)
        .group_by(key)
        .order_by(key)
    ).all()
    return int(before), [(str(k), int(entered or 0), int(exited or 0)) for k, entered, exited in buckets]


def _flagged(log: Table, key: str, flag: str, workspace_id: int, object_id: int) -> Select[Any]:
    """A boolean-flagged ledger (entered / added) as (at, delta_in, delta_out) rows for one segment or tag."""
    is_in = log.c[flag].is_(True)
    return select(
        log.c.at.label("at"),
        case((is_in, 1), else_=0).label("delta_in"),
        case((is_in, 0), else_=1).label("delta_out"),
    ).where(log.c.workspace_id == workspace_id, log.c[key] == object_id)


def segment_changes(
    connection: Connection, workspace_id: int, segment_id: int, *, start: datetime, end: datetime, bucket: Bucket
) -> tuple[int, list[tuple[str, int, int]]]:
    source = _flagged(segment_membership_log, "segment_id", "entered", workspace_id, segment_id)
    return _changes(connection, source, start=start, end=end, bucket=bucket)


def tag_changes(
    connection: Connection, workspace_id: int, tag_id: int, *, start: datetime, end: datetime, bucket: Bucket
) -> tuple[int, list[tuple[str, int, int]]]:
    source = _flagged(tag_membership_log, "tag_id", "added", workspace_id, tag_id)
    return _changes(connection, source, start=start, end=end, bucket=bucket)


def list_changes(
    connection: Connection, workspace_id: int, list_id: int, *, start: datetime, end: datetime, bucket: Bucket
) -> tuple[int, list[tuple[str, int, int]]]:
    """A list's size is its subscribed fans: a change into 'subscribed' enters, a change out of it exits."""
    log = list_subscription_log
    previous = func.lag(log.c.status).over(partition_by=log.c.fan_id, order_by=(log.c.at, log.c.id))
    ordered = (
        select(log.c.at, log.c.status, previous.label("previous"))
        .where(log.c.workspace_id == workspace_id, log.c.list_id == list_id)
        .subquery()
    )
    is_subscribed = ordered.c.status == "subscribed"
    was_subscribed = and_(ordered.c.previous.is_not(None), ordered.c.previous == "subscribed")
    source = select(
        ordered.c.at.label("at"),
        case((and_(is_subscribed, ~was_subscribed), 1), else_=0).label("delta_in"),
        case((and_(~is_subscribed, was_subscribed), 1), else_=0).label("delta_out"),
    )
    return _changes(connection, source, start=start, end=end, bucket=bucket)
