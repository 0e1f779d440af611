"""Rules run by the database: counts, samples, impact, drift and membership for validated rule trees.

Services hand over a rule tree and the workspace's ``RuleScope`` (what its names stand for); the rule is compiled
here (``fanbase.db.rule_sql``) into the form the statement needs — set (the whole workspace at once), per fan
(correlated, for a bounded walk or a few fans) or batch (many segments for the fans of a write) — so no service
builds or runs SQL.
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Row
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import union_all
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.selectable import FromClause
from sqlalchemy.sql.visitors import iterate

from fanbase.core.dependencies import TimeDependency
from fanbase.core.fields import Catalogue
from fanbase.core.rules import Rule
from fanbase.core.rules import reference_key
from fanbase.db.lru import LockedLRU
from fanbase.db.repositories import scheduler as scheduler_repo
from fanbase.db.repositories.fans import FAN_COLUMNS
from fanbase.db.repositories.segments import apply_membership
from fanbase.db.repositories.segments import is_member
from fanbase.db.repositories.sql import chunks
from fanbase.db.rule_sql import BatchStatement
from fanbase.db.rule_sql import CompiledRule
from fanbase.db.rule_sql import ResolvedReferences
from fanbase.db.rule_sql import compile_batch
from fanbase.db.rule_sql import compile_rule
from fanbase.db.rule_sql import compile_rule_for_workspace
from fanbase.db.rule_sql import fans_joined
from fanbase.db.rule_sql import matching_fans_joined
from fanbase.db.rule_sql import next_boundary_queries
from fanbase.db.rule_sql import time_crossings
from fanbase.db.tables import fans
from fanbase.db.tables import segment_members


@dataclass(frozen=True)
class RuleScope:
    """What a workspace's rules are compiled against: its fields and the ids behind the names they mention."""

    workspace_id: int
    catalogue: Catalogue
    tag_ids: Mapping[str, int]  # reference_key(name) → id
    list_ids: Mapping[str, int]
    segment_ids: Mapping[str, int]

    @property
    def references(self) -> ResolvedReferences:
        return ResolvedReferences(tags=self.tag_ids, lists=self.list_ids, segments=self.segment_ids)


def _compiling(connection: Connection, scope: RuleScope, now: datetime) -> dict[str, Any]:
    return {
        "workspace_id": scope.workspace_id,
        "now": now,
        "catalogue": scope.catalogue,
        "references": scope.references,
        "dialect": connection.dialect.name,
    }


def set_form(connection: Connection, scope: RuleScope, rule: Rule, *, now: datetime) -> CompiledRule:
    """The set form: the rule over every fan of the workspace at once (derived tables joined to fans)."""
    return compile_rule_for_workspace(rule, **_compiling(connection, scope, now))


def per_fan_condition(connection: Connection, scope: RuleScope, rule: Rule, *, now: datetime) -> ColumnElement[bool]:
    """The correlated form: a condition on ``fans`` checked fan by fan (a page of fans, a tick's crossings)."""
    return compile_rule(rule, **_compiling(connection, scope, now))


# --- reading: counts and samples ------------------------------------------------------------------------------


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
    matching = matching_ids_query(workspace_id, rule).subquery()
    return int(connection.execute(select(func.count()).select_from(matching)).scalar_one())


def _count_and_first_ids(
    connection: Connection, workspace_id: int, rule: CompiledRule, *, limit: int
) -> tuple[int, list[int]]:
    """How many fans match, and the first ``limit`` of them by id.

    A rule on fans' own columns is counted (often from one index alone) and sampled (walking fans in id order
    until enough match) apart. A rule that joins derived tables is evaluated once, the count being a window over
    the matching ids, since each evaluation aggregates those tables anew (a separate sample query would not stop
    early: SQLite sorts a grouped subquery's rows before the LIMIT).
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


def _first_matching_among_first_fans(
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


def count_and_sample(
    connection: Connection, scope: RuleScope, rule: Rule, *, now: datetime, limit: int, scan: int
) -> tuple[int, list[int]]:
    """How many fans match the rule, and the first ``limit`` of them by id: a preview's number and its sample.

    The count is one set-based evaluation. For the sample, evaluating the rule over the whole workspace again
    would cost as much once more; instead the correlated form is checked fan by fan along the first ``scan`` fans
    (by id), which finds the first matches of any rule that is not rare at once. Only when those fans hold too few
    matches does the sample come from a whole evaluation (the count and the first ids in one statement).
    """
    compiled = set_form(connection, scope, rule, now=now)
    if not compiled.joins:
        return _count_and_first_ids(connection, scope.workspace_id, compiled, limit=limit)
    count = count_matching(connection, scope.workspace_id, compiled)
    if not count:
        return 0, []
    wanted = min(count, limit)
    condition = per_fan_condition(connection, scope, rule, now=now)
    sample = _first_matching_among_first_fans(connection, scope.workspace_id, condition, limit=wanted, scan=scan)
    if len(sample) < wanted:
        _, sample = _count_and_first_ids(connection, scope.workspace_id, compiled, limit=limit)
    return count, sample


def _count_each(connection: Connection, workspace_id: int, rules: Sequence[CompiledRule]) -> list[int]:
    """How many fans match each rule alone, in one pass over the workspace's fans."""
    if not rules:
        return []
    sums = [func.coalesce(func.sum(case((rule.condition, 1), else_=0)), 0) for rule in rules]
    row = connection.execute(
        select(*sums).select_from(fans_joined(*rules)).where(fans.c.workspace_id == workspace_id)
    ).one()
    return [int(value) for value in row]


def count_each(connection: Connection, scope: RuleScope, rules: Sequence[Rule], *, now: datetime) -> list[int]:
    """How many fans match each rule alone (a preview's per-condition counts), in one pass over the fans."""
    return _count_each(connection, scope.workspace_id, [set_form(connection, scope, rule, now=now) for rule in rules])


def _sample_matching(connection: Connection, workspace_id: int, rule: CompiledRule, *, limit: int) -> list[Row[Any]]:
    statement = (
        select(*FAN_COLUMNS)
        .select_from(matching_fans_joined(rule))
        .where(fans.c.workspace_id == workspace_id, rule.condition)
        .order_by(fans.c.id)
        .limit(limit)
    )
    return list(connection.execute(statement).all())


@dataclass(frozen=True)
class RuleImpact:
    """What replacing a segment's rule would do: counts, and the first fans (rows) who would join and leave."""

    joining: int
    leaving: int
    size_after: int
    sample_joining: list[Row[Any]]
    sample_leaving: list[Row[Any]]


def impact(
    connection: Connection, scope: RuleScope, segment_id: int, rule: Rule, *, now: datetime, sample_size: int
) -> RuleImpact:
    new = set_form(connection, scope, rule, now=now)
    member = is_member(scope.workspace_id, segment_id)
    joining = CompiledRule(condition=new.condition & ~member, joins=new.joins)
    leaving = CompiledRule(condition=~new.condition & member, joins=new.joins)
    joining_count, leaving_count, size_after = _count_each(connection, scope.workspace_id, [joining, leaving, new])
    return RuleImpact(
        joining=joining_count,
        leaving=leaving_count,
        size_after=size_after,
        sample_joining=_sample_matching(connection, scope.workspace_id, joining, limit=sample_size),
        sample_leaving=_sample_matching(connection, scope.workspace_id, leaving, limit=sample_size),
    )


@dataclass(frozen=True)
class Drift:
    missing: int  # matched by the rule, not stored
    extra: int  # stored, not matched
    pending_time: int  # either, but explained by a time boundary crossed since ``since``


def drift(
    connection: Connection,
    scope: RuleScope,
    segment_id: int,
    rule: Rule,
    *,
    watched: Sequence[TimeDependency],
    since: datetime,
    now: datetime,
) -> Drift:
    """Compare a segment's stored membership with its rule evaluated from scratch at ``now``; nothing is written.

    Fans whose ``watched`` times crossed a boundary in (since, now] are counted apart as pending (an empty
    ``watched`` means no fan is pending).
    """
    compiled = set_form(connection, scope, rule, now=now)
    should = compiled.condition
    member = is_member(scope.workspace_id, segment_id)
    missing, extra = should & ~member, ~should & member
    pending = time_crossings(
        watched,
        workspace_id=scope.workspace_id,
        since=since,
        until=now,
        catalogue=scope.catalogue,
        dialect=connection.dialect.name,
    )
    counts = _count_each(
        connection,
        scope.workspace_id,
        [
            CompiledRule(condition=condition, joins=compiled.joins)
            for condition in (missing & ~pending, extra & ~pending, (missing | extra) & pending)
        ],
    )
    return Drift(missing=counts[0], extra=counts[1], pending_time=counts[2])


def matching_ids(connection: Connection, workspace_id: int, rule: CompiledRule) -> set[int]:
    return set(connection.execute(matching_ids_query(workspace_id, rule)).scalars())


# --- writing: membership made equal to a rule ------------------------------------------------------------------


def _membership_differences(
    connection: Connection, workspace_id: int, segment_id: int, rule: CompiledRule
) -> tuple[list[int], list[int]]:
    """(fans the rule selects that are not stored members, stored members it does not select), in one statement
    that evaluates the rule once (an unchanged segment answers with no rows).

    PostgreSQL: the rule's fans FULL JOIN the segment's members (a merge or hash join). SQLite runs a FULL JOIN of
    two subqueries as nested loops with no index (every fan against every member), so
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


def membership_differences(
    connection: Connection, scope: RuleScope, segment_id: int, rule: Rule, *, now: datetime
) -> tuple[list[int], list[int]]:
    return _membership_differences(
        connection, scope.workspace_id, segment_id, set_form(connection, scope, rule, now=now)
    )


@dataclass(frozen=True)
class TimeWindow:
    """Only the fans whose ``watched`` times crossed a boundary in (since, until]: a scheduler tick's fans."""

    watched: Sequence[TimeDependency]
    since: datetime
    until: datetime


def apply_rule(
    connection: Connection,
    scope: RuleScope,
    segment_id: int,
    rule: Rule,
    *,
    among: TimeWindow | None = None,
    cause: str,
    rule_version: int,
    now: datetime,
) -> tuple[int, int]:
    """Make a segment's stored membership equal its rule at ``now``, for every fan of the workspace or only the fans
    ``among`` a tick's crossings (then checked fan by fan: they are few); returns (entered, exited)."""
    if among is None:
        should, narrowing = set_form(connection, scope, rule, now=now), None
    else:
        should = CompiledRule(condition=per_fan_condition(connection, scope, rule, now=now))
        narrowing = time_crossings(
            among.watched,
            workspace_id=scope.workspace_id,
            since=among.since,
            until=among.until,
            catalogue=scope.catalogue,
            dialect=connection.dialect.name,
        )
    return apply_membership(
        connection,
        scope.workspace_id,
        segment_id,
        should_be_member=should,
        among=narrowing,
        cause=cause,
        rule_version=rule_version,
        now=now,
    )


def next_flip(
    connection: Connection, scope: RuleScope, watched: Sequence[TimeDependency], *, now: datetime
) -> datetime | None:
    """The next instant after ``now`` at which time alone can change the truth of a rule with these dependencies."""
    queries = next_boundary_queries(
        watched, workspace_id=scope.workspace_id, now=now, catalogue=scope.catalogue, dialect=connection.dialect.name
    )
    return scheduler_repo.earliest(connection, queries)


# --- the write path: many segments for the fans of a write ----------------------------------------------------


# Compiled write-path statements. The key holds everything a statement depends on — workspace, dialect, each
# segment's id and rule version, the custom-field catalogue, the ids behind tag, list and segment names — so an
# entry can never be stale: any change makes a new key, and the old entry ages out.
compiled_batches: LockedLRU[Hashable, BatchStatement] = LockedLRU(256)


@dataclass(frozen=True)
class SegmentRule:
    """A dynamic segment as the write path evaluates it."""

    segment_id: int
    name: str
    rule_version: int
    rule: Rule


def _batch(
    connection: Connection, scope: RuleScope, segments: Sequence[SegmentRule], *, now: datetime
) -> BatchStatement:
    key = (
        scope.workspace_id,
        connection.dialect.name,
        tuple((segment.segment_id, segment.rule_version) for segment in segments),
        scope.catalogue,
        frozenset(scope.tag_ids.items()),
        frozenset(scope.list_ids.items()),
        frozenset(scope.segment_ids.items()),
    )
    cached = compiled_batches.get(key)
    if cached is None:
        rules = {reference_key(segment.name): segment.rule for segment in segments}
        cached = compile_batch(rules, **_compiling(connection, scope, now))
        compiled_batches.put(key, cached)
    return cached


@dataclass(frozen=True)
class FanMembership:
    fan_id: int
    matches: tuple[bool, ...]  # per segment: the rule holds for the fan now
    is_stored: tuple[bool, ...]  # per segment: the fan is a stored member


# Fans per evaluation statement on the write path (each is bound twice per activity table and once for fans).
BATCH_FANS = 1000


def membership_of_fans(
    connection: Connection, scope: RuleScope, segments: Sequence[SegmentRule], fan_ids: Sequence[int], *, now: datetime
) -> Iterator[list[FanMembership]]:
    """Chunk by chunk of ``fan_ids``, each existing fan's membership: whether it matches each segment's rule now and
    whether it is stored in each segment (both in the order of ``segments``).

    One statement per chunk evaluates every segment (a segment naming another of them reads that one's rule, so a
    segment of segments sees its prerequisites' new membership) and reads their stored membership; it is compiled
    once per version of everything it depends on (``compiled_batches``) and re-aimed at any ``now``.
    """
    batch = _batch(connection, scope, segments, now=now)
    count = len(segments)
    for chunk in chunks(sorted(set(fan_ids)), BATCH_FANS):
        yield [
            FanMembership(
                fan_id=int(row[0]),
                matches=tuple(bool(value) for value in row[1 : 1 + count]),
                is_stored=tuple(bool(value) for value in row[1 + count :]),
            )
            for row in connection.execute(batch.statement, batch.parameters(chunk, now=now))
        ]
