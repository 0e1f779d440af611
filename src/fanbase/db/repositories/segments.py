"""Segments, their stored membership and the membership ledger.

Membership changes are set-based: one INSERT … SELECT logs who entered, one adds them, one logs who left, one
deletes them — the database does the work, never a Python loop over fans. When nothing changed, nothing is written.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Literal
from typing import overload

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import Connection
from sqlalchemy import Integer
from sqlalchemy import Row
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy import update
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql import Select

from fanbase.db.repositories.fan_groups import name_key
from fanbase.db.repositories.fans import FAN_COLUMNS
from fanbase.db.repositories.sql import chunks
from fanbase.db.repositories.sql import id_conditions
from fanbase.db.repositories.sql import insert_from_arrays
from fanbase.db.repositories.sql import insert_rows
from fanbase.db.repositories.sql import is_postgresql
from fanbase.db.repositories.sql import read_one
from fanbase.db.rule_sql import CompiledRule
from fanbase.db.rule_sql import fans_joined
from fanbase.db.tables import fans
from fanbase.db.tables import segment_members
from fanbase.db.tables import segment_membership_log
from fanbase.db.tables import segment_size_changes
from fanbase.db.tables import segments

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


@dataclass(frozen=True)
class SegmentRow:
    """A segment as stored."""

    id: int
    name: str
    description: str | None
    kind: str
    rule: Any
    rule_version: int
    created_at: datetime
    updated_at: datetime
    last_evaluated_at: datetime | None
    last_error: str | None
    next_flip_at: datetime | None


@dataclass(frozen=True)
class SizedSegmentRow(SegmentRow):
    """A segment with its member count."""

    size: int


def _size() -> ColumnElement[int]:
    """A segment's size: the sum of its recorded changes (``segment_size_changes``), which triggers keep equal to
    the count of its members."""
    changes = segment_size_changes
    return (
        select(func.coalesce(func.sum(changes.c.delta), 0))
        .where(changes.c.workspace_id == segments.c.workspace_id, changes.c.segment_id == segments.c.id)
        .scalar_subquery()
        .label("size")
    )


def workspaces_with_size_changes_to_fold(connection: Connection, *, rows_per_segment: int) -> list[int]:
    """The workspaces whose segments have, on average, more than ``rows_per_segment`` size-change rows each."""
    changes = segment_size_changes
    rows = connection.execute(
        select(changes.c.workspace_id)
        .group_by(changes.c.workspace_id)
        .having(func.count() > func.count(func.distinct(changes.c.segment_id)) * rows_per_segment)
    )
    return [int(workspace_id) for workspace_id in rows.scalars()]


def compact_sizes(connection: Connection, workspace_id: int) -> None:
    """Fold each segment's recorded size changes into one row, so sizes stay a sum over a few rows. Writers only
    insert changes; a change inserted while this runs is not among the rows it folds, and is kept. SQLite's
    triggers keep one row per segment already (migration 0009): nothing to fold there."""
    if connection.dialect.name != "postgresql":
        return
    changes = segment_size_changes
    folded = (
        delete(changes).where(changes.c.workspace_id == workspace_id).returning(changes.c.segment_id, changes.c.delta)
    ).cte("folded")
    connection.execute(
        insert(changes).from_select(
            ["workspace_id", "segment_id", "delta"],
            select(literal(workspace_id), folded.c.segment_id, func.sum(folded.c.delta)).group_by(folded.c.segment_id),
        )
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


def get_segment(
    connection: Connection, workspace_id: int, segment_id: int, *, for_update: bool = False
) -> SizedSegmentRow | None:
    statement = select(*SEGMENT_COLUMNS, _size()).where(
        segments.c.workspace_id == workspace_id, segments.c.id == segment_id
    )
    if for_update:
        statement = statement.with_for_update(of=segments)
    return read_one(connection, statement, SizedSegmentRow)


@overload
def list_segments(connection: Connection, workspace_id: int) -> list[SegmentRow]: ...
@overload
def list_segments(connection: Connection, workspace_id: int, *, with_size: Literal[False]) -> list[SegmentRow]: ...
@overload
def list_segments(connection: Connection, workspace_id: int, *, with_size: Literal[True]) -> list[SizedSegmentRow]: ...
def list_segments(
    connection: Connection, workspace_id: int, *, with_size: bool = False
) -> list[SegmentRow] | list[SizedSegmentRow]:
    """The workspace's segments; ``with_size`` adds a member count per segment (for people, not the write path)."""
    columns = (*SEGMENT_COLUMNS, _size()) if with_size else SEGMENT_COLUMNS
    rows = connection.execute(
        select(*columns).where(segments.c.workspace_id == workspace_id).order_by(segments.c.name_key)
    )
    if with_size:
        return [SizedSegmentRow(**row._mapping) for row in rows]
    return [SegmentRow(**row._mapping) for row in rows]


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


def set_needs_evaluation(
    connection: Connection, workspace_id: int, segment_ids: Collection[int], *, needs: bool
) -> None:
    """Mark segments whose inputs a write changed without evaluating them (``needs``), or clear the mark after a
    full evaluation."""
    if segment_ids:
        connection.execute(
            update(segments)
            .where(segments.c.workspace_id == workspace_id, segments.c.id.in_(sorted(segment_ids)))
            .values(needs_evaluation=needs)
        )


def needing_evaluation(connection: Connection, workspace_id: int, *, now: datetime) -> set[int]:
    """Dynamic segments marked as needing evaluation, or whose next time boundary is due at ``now``."""
    rows = connection.execute(
        select(segments.c.id).where(
            segments.c.workspace_id == workspace_id,
            segments.c.kind == "dynamic",
            or_(segments.c.needs_evaluation.is_(True), segments.c.next_flip_at <= now),
        )
    )
    return set(rows.scalars())


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
    should_be_member: CompiledRule,
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
    should = should_be_member.condition
    source = fans_joined(should_be_member)
    member = is_member(workspace_id, segment_id)
    at = literal(now, type_=segment_membership_log.c.at.type)
    log_columns = ["workspace_id", "segment_id", "fan_id", "entered", "at", "cause", "rule_version"]

    def ledger_rows(
        entered: bool, *where: ColumnElement[bool]
    ) -> Select[tuple[int, int, int, bool, datetime, str, int]]:
        return (
            select(
                literal(workspace_id),
                literal(segment_id),
                fans.c.id,
                literal(entered),
                at,
                literal(cause),
                literal(rule_version),
            )
            .select_from(source)
            .where(*where)
        )

    def log_moves(entered: bool, where: tuple[ColumnElement[bool], ...]) -> int:
        """Write the ledger rows of the fans who move; how many they are."""
        # SQLAlchemy keeps an INSERT's rowcount only when asked (preserve_rowcount); we need it to know who moved.
        return connection.execute(
            insert(segment_membership_log).from_select(log_columns, ledger_rows(entered, *where)),
            execution_options={"preserve_rowcount": True},
        ).rowcount

    # Leavers first: their statements read the members as they were, which the statistics describe. Read after
    # the entries, the members just inserted were invisible to them (a first build's statistics say "no member"),
    # and PostgreSQL ran the leavers' anti join as a nested loop over every new member.
    leaving = (fans.c.workspace_id == workspace_id, scope, ~should, member)
    exited = log_moves(False, leaving)
    if exited:
        connection.execute(
            delete(segment_members).where(
                segment_members.c.workspace_id == workspace_id,
                segment_members.c.segment_id == segment_id,
                segment_members.c.fan_id.in_(select(fans.c.id).select_from(source).where(*leaving)),
            )
        )
    entering = (fans.c.workspace_id == workspace_id, scope, should, ~member)
    entered = log_moves(True, entering)
    if entered:
        connection.execute(
            insert(segment_members).from_select(
                ["workspace_id", "segment_id", "fan_id", "since"],
                select(literal(workspace_id), literal(segment_id), fans.c.id, at).select_from(source).where(*entering),
            )
        )
    return entered, exited


def record_membership_changes(
    connection: Connection,
    workspace_id: int,
    changes: Mapping[int, tuple[Collection[int], Collection[int]]],
    *,
    cause: str,
    rule_versions: Mapping[int, int],
    now: datetime,
) -> None:
    """Write known entries and exits (segment id → (entered fan ids, exited fan ids)): the ledger rows and the members
    added and removed. A few statements whatever the number of segments and fans."""
    moves = [
        (segment_id, fan_id, is_entry)
        for segment_id, (entered, exited) in changes.items()
        for is_entry, moved in ((True, entered), (False, exited))
        for fan_id in sorted(moved)
    ]
    if not moves:
        return
    added = [(segment_id, fan_id) for segment_id, fan_id, is_entry in moves if is_entry]
    if is_postgresql(connection):
        insert_from_arrays(
            connection,
            segment_membership_log,
            {"workspace_id": workspace_id, "at": now, "cause": cause},
            {
                "segment_id": ([move[0] for move in moves], BigInteger()),
                "fan_id": ([move[1] for move in moves], BigInteger()),
                "entered": ([move[2] for move in moves], Boolean()),
                "rule_version": ([rule_versions[move[0]] for move in moves], Integer()),
            },
        )
        if added:
            insert_from_arrays(
                connection,
                segment_members,
                {"workspace_id": workspace_id, "since": now},
                {
                    "segment_id": ([pair[0] for pair in added], BigInteger()),
                    "fan_id": ([pair[1] for pair in added], BigInteger()),
                },
            )
    else:
        insert_rows(
            connection,
            segment_membership_log,
            [
                {
                    "workspace_id": workspace_id,
                    "segment_id": segment_id,
                    "fan_id": fan_id,
                    "entered": is_entry,
                    "at": now,
                    "cause": cause,
                    "rule_version": rule_versions[segment_id],
                }
                for segment_id, fan_id, is_entry in moves
            ],
        )
        insert_rows(
            connection,
            segment_members,
            [
                {"workspace_id": workspace_id, "segment_id": segment_id, "fan_id": fan_id, "since": now}
                for segment_id, fan_id in added
            ],
        )
    for segment_id, (_, exited) in changes.items():
        for leaving in id_conditions(connection, segment_members.c.fan_id, sorted(exited)):
            connection.execute(
                delete(segment_members).where(
                    segment_members.c.workspace_id == workspace_id,
                    segment_members.c.segment_id == segment_id,
                    leaving,
                )
            )


def set_members(
    connection: Connection,
    workspace_id: int,
    segment_id: int,
    fan_ids: Sequence[int],
    *,
    are_members: bool,
    cause: str,
    rule_version: int,
    now: datetime,
) -> int:
    """Static segments: make the given fans members (``are_members``) or not; fans already so are left alone.
    Returns how many moved; each move is logged with ``cause``."""
    moved = 0
    for chunk in chunks(sorted(set(fan_ids))):
        entered, exited = apply_membership(
            connection,
            workspace_id,
            segment_id,
            should_be_member=CompiledRule(condition=true() if are_members else false()),
            among=fans.c.id.in_(chunk),
            cause=cause,
            rule_version=rule_version,
            now=now,
        )
        moved += entered + exited
    return moved


def fans_by_ids(connection: Connection, workspace_id: int, fan_ids: Sequence[int]) -> Sequence[Row[Any]]:
    statement = (
        select(*FAN_COLUMNS).where(fans.c.workspace_id == workspace_id, fans.c.id.in_(fan_ids)).order_by(fans.c.id)
    )
    return connection.execute(statement).all()


def member_ids(connection: Connection, workspace_id: int, segment_id: int) -> set[int]:
    rows = connection.execute(
        select(segment_members.c.fan_id).where(
            segment_members.c.workspace_id == workspace_id, segment_members.c.segment_id == segment_id
        )
    )
    return set(rows.scalars())
