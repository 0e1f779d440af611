"""Segments, their stored membership and the membership ledger.

Membership changes are set-based: one INSERT … SELECT logs who entered, one adds them, one logs who left, one
deletes them — the database does the work, never a Python loop over fans. When nothing changed, nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, exists, false, func, insert, literal, select, true, update
from sqlalchemy.sql import ColumnElement

from fanbase.db.repositories import webhooks as webhooks_repo
from fanbase.db.repositories.fans import FAN_COLUMNS
from fanbase.db.repositories.labels import name_key
from fanbase.db.repositories.sql import chunks
from fanbase.db.tables import fans, segment_members, segment_membership_log, segments

SEGMENT_COLUMNS = (
    segments.c.id,
    segments.c.name,
    segments.c.description,
    segments.c.kind,
    segments.c.rule,
    segments.c.rule_version,
    segments.c.created_at,
    segments.c.updated_at,
    segments.c.last_evaluated_at,
    segments.c.last_error,
    segments.c.next_flip_at,
)


def _size() -> ColumnElement[int]:
    return (
        select(func.count())
        .where(segment_members.c.workspace_id == segments.c.workspace_id, segment_members.c.segment_id == segments.c.id)
        .scalar_subquery()
        .label("size")
    )


def insert_segment(connection: Connection, workspace_id: int, values: Mapping[str, Any], *, now: datetime) -> int:
    return int(
        connection.execute(
            insert(segments)
            .values(
                workspace_id=workspace_id, name_key=name_key(values["name"]), created_at=now, updated_at=now, **values
            )
            .returning(segments.c.id)
        ).scalar_one()
    )


def update_segment(connection: Connection, workspace_id: int, segment_id: int, values: Mapping[str, Any]) -> None:
    extra = {"name_key": name_key(values["name"])} if "name" in values else {}
    connection.execute(
        update(segments)
        .where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id)
        .values(**values, **extra)
    )


def get_segment(connection: Connection, workspace_id: int, segment_id: int, *, for_update: bool = False) -> Any:
    statement = select(*SEGMENT_COLUMNS, _size()).where(
        segments.c.workspace_id == workspace_id, segments.c.id == segment_id
    )
    if for_update:
        statement = statement.with_for_update(of=segments)
    return connection.execute(statement).one_or_none()


def list_segments(connection: Connection, workspace_id: int, *, with_size: bool = False) -> list[Any]:
    """The workspace's segments; ``with_size`` adds a member count per segment (for people, not the write path)."""
    columns = (*SEGMENT_COLUMNS, _size()) if with_size else SEGMENT_COLUMNS
    return list(
        connection.execute(
            select(*columns).where(segments.c.workspace_id == workspace_id).order_by(segments.c.name_key)
        )
    )


def segment_ids_by_name(connection: Connection, workspace_id: int) -> dict[str, int]:
    rows = connection.execute(select(segments.c.name_key, segments.c.id).where(segments.c.workspace_id == workspace_id))
    return dict(rows.all())


def delete_segment(connection: Connection, workspace_id: int, segment_id: int) -> bool:
    result = connection.execute(
        delete(segments).where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id)
    )
    return result.rowcount > 0


def mark_evaluated(
    connection: Connection, workspace_id: int, segment_id: int, *, now: datetime, error: str | None = None
) -> None:
    values: dict[str, Any] = {"last_error": error}
    if error is None:
        values["last_evaluated_at"] = now
    connection.execute(
        update(segments).where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id).values(**values)
    )


def is_member(workspace_id: int, segment_id: int) -> ColumnElement[bool]:
    """True for fans stored as members of the segment (segment-in-segment conditions read this)."""
    return exists().where(
        segment_members.c.workspace_id == workspace_id,
        segment_members.c.segment_id == segment_id,
        segment_members.c.fan_id == fans.c.id,
    )


def apply_membership(
    connection: Connection,
    workspace_id: int,
    segment_id: int,
    *,
    should_be_member: ColumnElement[bool],
    among: ColumnElement[bool] | None = None,
    cause: str,
    rule_version: int,
    now: datetime,
) -> tuple[int, int]:
    """Make stored membership equal ``should_be_member`` for the fans in ``among`` (all fans when None).

    Returns (entered, exited). Set-based: the ledger rows and the membership change are each one statement over
    the same condition (membership does not change between them, so both see the same fans).
    """
    scope = among if among is not None else true()
    member = is_member(workspace_id, segment_id)
    at = literal(now, type_=segment_membership_log.c.at.type)
    log_columns = ["workspace_id", "segment_id", "fan_id", "entered", "at", "cause", "rule_version"]

    def ledger_rows(entered: bool, *where: ColumnElement[bool]) -> Any:
        return select(
            literal(workspace_id),
            literal(segment_id),
            fans.c.id,
            literal(entered),
            at,
            literal(cause),
            literal(rule_version),
        ).where(*where)

    entering = (fans.c.workspace_id == workspace_id, scope, should_be_member, ~member)
    # SQLAlchemy keeps an INSERT's rowcount only when asked (preserve_rowcount); we need it to know who moved.
    counted = {"preserve_rowcount": True}
    entered = connection.execute(
        insert(segment_membership_log).from_select(log_columns, ledger_rows(True, *entering)),
        execution_options=counted,
    ).rowcount
    if entered:
        connection.execute(
            insert(segment_members).from_select(
                ["workspace_id", "segment_id", "fan_id", "since"],
                select(literal(workspace_id), literal(segment_id), fans.c.id, at).where(*entering),
            )
        )
    leaving = (fans.c.workspace_id == workspace_id, scope, ~should_be_member, member)
    exited = connection.execute(
        insert(segment_membership_log).from_select(log_columns, ledger_rows(False, *leaving)),
        execution_options=counted,
    ).rowcount
    if exited:
        connection.execute(
            delete(segment_members).where(
                segment_members.c.workspace_id == workspace_id,
                segment_members.c.segment_id == segment_id,
                segment_members.c.fan_id.in_(select(fans.c.id).where(*leaving)),
            )
        )
    if entered or exited:
        webhooks_repo.enqueue_segment_changes(connection, workspace_id, segment_id, at=now)
    return entered, exited


def add_members(
    connection: Connection,
    workspace_id: int,
    segment_id: int,
    fan_ids: Sequence[int],
    *,
    cause: str,
    rule_version: int,
    now: datetime,
) -> int:
    """Static segments: add the given fans (already-members are left alone); logged."""
    added = 0
    for chunk in chunks(sorted(set(fan_ids))):
        entered, _ = apply_membership(
            connection,
            workspace_id,
            segment_id,
            should_be_member=true(),
            among=fans.c.id.in_(chunk),
            cause=cause,
            rule_version=rule_version,
            now=now,
        )
        added += entered
    return added


def remove_members(
    connection: Connection,
    workspace_id: int,
    segment_id: int,
    fan_ids: Sequence[int],
    *,
    cause: str,
    rule_version: int,
    now: datetime,
) -> int:
    removed = 0
    for chunk in chunks(sorted(set(fan_ids))):
        _, exited = apply_membership(
            connection,
            workspace_id,
            segment_id,
            should_be_member=false(),
            among=fans.c.id.in_(chunk),
            cause=cause,
            rule_version=rule_version,
            now=now,
        )
        removed += exited
    return removed


def count_matching(connection: Connection, workspace_id: int, condition: ColumnElement[bool]) -> int:
    """One COUNT over the workspace's fans: what a preview shows first."""
    statement = select(func.count()).select_from(fans).where(fans.c.workspace_id == workspace_id, condition)
    return int(connection.execute(statement).scalar_one())


def sample_matching(
    connection: Connection, workspace_id: int, condition: ColumnElement[bool], *, limit: int
) -> Sequence[Any]:
    statement = (
        select(*FAN_COLUMNS).where(fans.c.workspace_id == workspace_id, condition).order_by(fans.c.id).limit(limit)
    )
    return connection.execute(statement).all()


def count_each(connection: Connection, workspace_id: int, conditions: Sequence[ColumnElement[bool]]) -> list[int]:
    """How many fans match each condition alone, in one pass over the workspace's fans."""
    if not conditions:
        return []
    sums = [func.coalesce(func.sum(case((condition, 1), else_=0)), 0) for condition in conditions]
    row = connection.execute(select(*sums).where(fans.c.workspace_id == workspace_id)).one()
    return [int(value) for value in row]


def member_ids(connection: Connection, workspace_id: int, segment_id: int) -> set[int]:
    rows = connection.execute(
        select(segment_members.c.fan_id).where(
            segment_members.c.workspace_id == workspace_id, segment_members.c.segment_id == segment_id
        )
    )
    return set(rows.scalars())


def matching_ids(connection: Connection, workspace_id: int, condition: ColumnElement[bool]) -> set[int]:
    rows = connection.execute(select(fans.c.id).where(fans.c.workspace_id == workspace_id, condition))
    return set(rows.scalars())
