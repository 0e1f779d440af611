"""Segments, their stored membership and the membership ledger.

Membership changes are set-based: one INSERT … SELECT logs who entered, one adds them, one logs who left, one
deletes them — the database does the work, never a Python loop over fans. When nothing changed, nothing is written.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, overload

from sqlalchemy import (
    Connection,
    Row,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.selectable import FromClause
from sqlalchemy.sql.visitors import iterate

from fanbase.db.compiler import CompiledRule, fans_joined, matching_fans_joined
from fanbase.db.repositories import webhooks as webhooks_repo
from fanbase.db.repositories.fan_groups import name_key
from fanbase.db.repositories.fans import FAN_COLUMNS
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


def get_segment(
    connection: Connection, workspace_id: int, segment_id: int, *, for_update: bool = False
) -> SizedSegmentRow | None:
    statement = select(*SEGMENT_COLUMNS, _size()).where(
        segments.c.workspace_id == workspace_id, segments.c.id == segment_id
    )
    if for_update:
        statement = statement.with_for_update(of=segments)
    row = connection.execute(statement).one_or_none()
    return SizedSegmentRow(**row._mapping) if row else None


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

    def ledger_rows(entered: bool, *where: ColumnElement[bool]) -> Any:
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

    entering = (fans.c.workspace_id == workspace_id, scope, should, ~member)
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
                select(literal(workspace_id), literal(segment_id), fans.c.id, at).select_from(source).where(*entering),
            )
        )
    leaving = (fans.c.workspace_id == workspace_id, scope, ~should, member)
    exited = connection.execute(
        insert(segment_membership_log).from_select(log_columns, ledger_rows(False, *leaving)),
        execution_options=counted,
    ).rowcount
    if exited:
        connection.execute(
            delete(segment_members).where(
                segment_members.c.workspace_id == workspace_id,
                segment_members.c.segment_id == segment_id,
                segment_members.c.fan_id.in_(select(fans.c.id).select_from(source).where(*leaving)),
            )
        )
    if entered or exited:
        webhooks_repo.enqueue_segment_changes(connection, workspace_id, [segment_id], at=now)
    return entered, exited


def membership_differences(
    connection: Connection, workspace_id: int, segment_id: int, rule: CompiledRule
) -> tuple[list[int], list[int]]:
    """(fans the rule selects that are not stored members, stored members it does not select), in one statement
    that evaluates the rule once (an unchanged segment answers with no rows).

    PostgreSQL: the rule's fans FULL JOIN the segment's members (a merge or hash join). SQLite runs a FULL JOIN of
    two subqueries as nested loops with no index (every fan against every member: minutes at 100,000 fans), so
    there the rule's fans are materialised once and compared both ways with EXCEPT, which sorts.
    """
    stored = select(segment_members.c.fan_id).where(
        segment_members.c.workspace_id == workspace_id, segment_members.c.segment_id == segment_id
    )
    if connection.dialect.name == "sqlite":
        should_cte = matching_ids_query(workspace_id, rule).cte("should").prefix_with("MATERIALIZED")
        selected = select(should_cte.c.fan_id)
        statement = union_all(
            select(literal(True).label("entered"), selected.except_(stored).subquery().c.fan_id),
            select(literal(False).label("entered"), stored.except_(selected).subquery().c.fan_id),
        )
        rows = [(bool(entered), int(fan_id)) for entered, fan_id in connection.execute(statement)]
    else:
        should = matching_ids_query(workspace_id, rule).subquery()
        members = stored.subquery()
        rows = [
            (member is None, int(member if selected is None else selected))
            for selected, member in connection.execute(
                select(should.c.fan_id, members.c.fan_id)
                .select_from(should.join(members, should.c.fan_id == members.c.fan_id, full=True))
                .where(or_(should.c.fan_id.is_(None), members.c.fan_id.is_(None)))
            )
        ]
    entered = [fan_id for is_entry, fan_id in rows if is_entry]
    exited = [fan_id for is_entry, fan_id in rows if not is_entry]
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
    """Write known entries and exits (segment id → (entered fan ids, exited fan ids)): the ledger rows, the members
    added and removed, the webhook outbox. A few statements whatever the number of segments and fans."""
    ledger = [
        {
            "workspace_id": workspace_id,
            "segment_id": segment_id,
            "fan_id": fan_id,
            "entered": is_entry,
            "at": now,
            "cause": cause,
            "rule_version": rule_versions[segment_id],
        }
        for segment_id, (entered, exited) in changes.items()
        for is_entry, moved in ((True, entered), (False, exited))
        for fan_id in sorted(moved)
    ]
    if not ledger:
        return
    connection.execute(insert(segment_membership_log), ledger)
    added = [
        {"workspace_id": workspace_id, "segment_id": segment_id, "fan_id": fan_id, "since": now}
        for segment_id, (entered, _) in changes.items()
        for fan_id in sorted(entered)
    ]
    if added:
        connection.execute(insert(segment_members), added)
    for segment_id, (_, exited) in changes.items():
        for chunk in chunks(sorted(exited)):
            connection.execute(
                delete(segment_members).where(
                    segment_members.c.workspace_id == workspace_id,
                    segment_members.c.segment_id == segment_id,
                    segment_members.c.fan_id.in_(chunk),
                )
            )
    moved = [segment_id for segment_id, (entered, exited) in changes.items() if entered or exited]
    webhooks_repo.enqueue_segment_changes(connection, workspace_id, moved, at=now)


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
            should_be_member=CompiledRule(condition=true()),
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
            should_be_member=CompiledRule(condition=false()),
            among=fans.c.id.in_(chunk),
            cause=cause,
            rule_version=rule_version,
            now=now,
        )
        removed += exited
    return removed


def _only_reads(condition: ColumnElement[bool], table: FromClause) -> bool:
    """True when the condition reads columns of ``table`` and of no other table (in particular not of fans)."""
    tables = {
        id(element.table)
        for element in iterate(condition)
        if isinstance(element, ColumnClause) and element.table is not None
    }
    return tables == {id(table)}


def _is_single_table(rule: CompiledRule) -> bool:
    return len(rule.joins) == 1 and not rule.matches_absent_fans and _only_reads(rule.condition, rule.joins[0])


def matching_ids_query(workspace_id: int, rule: CompiledRule) -> Select[Any]:
    """``SELECT fan_id`` of the fans matching the rule. A rule that is one derived table's condition (one behaviour
    condition, a tag…) and that no fan absent from that table matches is answered from the table alone: its fans all
    belong to the workspace (its foreign key to fans leads with workspace_id), so the join to fans would only look
    each of them up again."""
    if _is_single_table(rule):
        table = rule.joins[0]
        # "Has a row there" is true of every row of the table itself: no filter, so a count needs no fan ids.
        return select(table.c.fan_id) if rule.is_presence else select(table.c.fan_id).where(rule.condition)
    return (
        select(fans.c.id.label("fan_id"))
        .select_from(matching_fans_joined(rule))
        .where(fans.c.workspace_id == workspace_id, rule.condition)
    )


def count_matching(connection: Connection, workspace_id: int, rule: CompiledRule) -> int:
    """One COUNT over the workspace's fans: what a preview shows first."""
    matching = matching_ids_query(workspace_id, rule).subquery()
    return int(connection.execute(select(func.count()).select_from(matching)).scalar_one())


def count_and_first_ids(
    connection: Connection, workspace_id: int, rule: CompiledRule, *, limit: int
) -> tuple[int, list[int]]:
    """How many fans match, and the first ``limit`` of them by id: a preview's number and its sample.

    A rule on fans' own columns is counted (often from one index alone) and sampled (walking fans in id order
    until enough match) apart. A rule that joins derived tables is evaluated once, the count being a window over
    the matching ids, since each evaluation aggregates those tables anew (a separate sample query would not stop
    early: SQLite sorts a grouped subquery's rows before the LIMIT, measured at 1M fans).
    """
    if not rule.joins:
        count = count_matching(connection, workspace_id, rule)
        if not count:
            return 0, []
        first = connection.execute(
            select(fans.c.id)
            .where(fans.c.workspace_id == workspace_id, rule.condition)
            .order_by(fans.c.id)
            .limit(limit)
        ).scalars()
        return count, [int(fan_id) for fan_id in first]
    matching = matching_ids_query(workspace_id, rule).subquery()
    rows = connection.execute(
        select(matching.c.fan_id, func.count().over().label("total")).order_by(matching.c.fan_id).limit(limit)
    ).all()
    if not rows:
        return 0, []
    return int(rows[0].total), [int(row.fan_id) for row in rows]


def first_matching_among_first_fans(
    connection: Connection, workspace_id: int, condition: ColumnElement[bool], *, limit: int, scan: int
) -> list[int]:
    """The first ``limit`` fans (by id) among the workspace's first ``scan`` fans for whom the (correlated)
    condition holds: a bounded walk along the id index, the condition checked per fan."""
    bound = connection.execute(
        select(fans.c.id).where(fans.c.workspace_id == workspace_id).order_by(fans.c.id).offset(scan - 1).limit(1)
    ).scalar_one_or_none()
    within = [fans.c.workspace_id == workspace_id, condition]
    if bound is not None:
        within.append(fans.c.id <= bound)
    rows = connection.execute(select(fans.c.id).where(*within).order_by(fans.c.id).limit(limit)).scalars()
    return [int(fan_id) for fan_id in rows]


def sample_matching(connection: Connection, workspace_id: int, rule: CompiledRule, *, limit: int) -> Sequence[Row[Any]]:
    statement = (
        select(*FAN_COLUMNS)
        .select_from(matching_fans_joined(rule))
        .where(fans.c.workspace_id == workspace_id, rule.condition)
        .order_by(fans.c.id)
        .limit(limit)
    )
    return connection.execute(statement).all()


def fans_by_ids(connection: Connection, workspace_id: int, fan_ids: Sequence[int]) -> Sequence[Row[Any]]:
    statement = (
        select(*FAN_COLUMNS).where(fans.c.workspace_id == workspace_id, fans.c.id.in_(fan_ids)).order_by(fans.c.id)
    )
    return connection.execute(statement).all()


def count_each(connection: Connection, workspace_id: int, rules: Sequence[CompiledRule]) -> list[int]:
    """How many fans match each rule alone, in one pass over the workspace's fans."""
    if not rules:
        return []
    sums = [func.coalesce(func.sum(case((rule.condition, 1), else_=0)), 0) for rule in rules]
    row = connection.execute(
        select(*sums).select_from(fans_joined(*rules)).where(fans.c.workspace_id == workspace_id)
    ).one()
    return [int(value) for value in row]


def member_ids(connection: Connection, workspace_id: int, segment_id: int) -> set[int]:
    rows = connection.execute(
        select(segment_members.c.fan_id).where(
            segment_members.c.workspace_id == workspace_id, segment_members.c.segment_id == segment_id
        )
    )
    return set(rows.scalars())


def matching_ids(connection: Connection, workspace_id: int, rule: CompiledRule) -> set[int]:
    return set(connection.execute(matching_ids_query(workspace_id, rule)).scalars())
