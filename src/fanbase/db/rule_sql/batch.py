"""The batch form: one statement evaluating many segments' rules for a given list of fans (a write).

One pass over each table computes every aggregate of every rule at once (``count(*) FILTER (WHERE …)``): on
PostgreSQL a LATERAL subquery per fan (an index probe whatever the statistics say), on SQLite one grouped pass over
the batch's fans, LEFT JOINed to them. The statement is compiled once per version of the rules and re-aimed at each
write's ``now`` through its named time parameters (``BatchStatement.parameters``).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Unpack

from sqlalchemy import BigInteger
from sqlalchemy import ColumnElement
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import any_
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import null
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import FromClause
from sqlalchemy.sql.selectable import LateralFromClause
from sqlalchemy.sql.selectable import Subquery

from fanbase.core.fields import Aggregate
from fanbase.core.rules import BehaviourCondition
from fanbase.core.rules import Rule
from fanbase.db.rule_sql.base import SOURCE_TABLES
from fanbase.db.rule_sql.base import CompileContext
from fanbase.db.rule_sql.base import RuleWalk
from fanbase.db.rule_sql.primitives import NamedTimePrimitives
from fanbase.db.rule_sql.spelling import POSTGRESQL
from fanbase.db.rule_sql.spelling import SQL
from fanbase.db.tables import fans


@dataclass(frozen=True)
class BatchStatement:
    """A compiled batch: the statement, and which of its time parameters move with ``now`` (the others are absolute
    dates). The same statement serves every later write — ``connection.execute(batch.statement,
    batch.parameters(fan_ids, now=now))`` — so the rules are compiled once per version, not once per write."""

    statement: Select[Any]
    relative_times: Mapping[str, timedelta]

    def parameters(self, fan_ids: Sequence[int], *, now: datetime) -> dict[str, Any]:
        return {"fan_ids": list(fan_ids), **{key: now + offset for key, offset in self.relative_times.items()}}


class AggregatePasses:
    """The per-fan aggregates a batch reads, one grouped pass per table over the batch's fans.

    Rules are compiled twice: the first compile records which aggregates each pass must compute (and reads a
    stand-in), ``build`` makes the passes, and the second compile reads each aggregate's column in them."""

    def __init__(self) -> None:
        self._wanted: dict[Table, dict[Hashable, SQL]] = {}
        self._columns: dict[Hashable, SQL] = {}
        self.tables: list[Subquery | LateralFromClause] = []

    def column(self, table: Table, key: Hashable, aggregate: Callable[[], SQL]) -> SQL:
        column = self._columns.get(key)
        if column is not None:
            return column
        wanted = self._wanted.setdefault(table, {})
        if key not in wanted:
            wanted[key] = aggregate()
        return null()

    def build(self, *, workspace: Callable[[], SQL], is_listed: Callable[[SQL], SQL], per_fan: bool) -> None:
        """One pass per table computing every recorded aggregate with a FILTER: grouped over the batch's fans, or,
        with ``per_fan``, a LATERAL subquery for each fan of the batch (no GROUP BY: an aggregate over no rows is
        still one row)."""
        for table, aggregates in self._wanted.items():
            labelled = [value.label(f"a{index}") for index, value in enumerate(aggregates.values())]
            if per_fan:
                # The fan's own workspace, not the constant: PostgreSQL then estimates the workspace's share as an
                # average one's, so the (workspace_id, fan_id, …) index wins whatever the statistics say of this
                # workspace. With the constant, a workspace the statistics did not know yet (a first bulk load into
                # a database holding another big one) was estimated at one row, and the plan walked all of its
                # orders by (workspace_id, placed_at) for every fan of the batch.
                subquery: Subquery | LateralFromClause = (
                    select(*labelled)
                    .where(table.c.workspace_id == fans.c.workspace_id, table.c.fan_id == fans.c.id)
                    .lateral()
                )
            else:
                subquery = (
                    select(table.c.fan_id.label("fan_id"), *labelled)
                    .where(table.c.workspace_id == workspace(), is_listed(table.c.fan_id))
                    .group_by(table.c.fan_id)
                    .subquery()
                )
            self.tables.append(subquery)
            for index, key in enumerate(aggregates):
                self._columns[key] = subquery.c[f"a{index}"]


class BatchWalk(RuleWalk):
    """Tags, lists, segments and behaviour read from the passes. A segment condition on a segment of the same batch
    is that segment's rule (its stored membership is about to be made equal to it), compiled once per walk."""

    def __init__(self, *, passes: AggregatePasses, inline_rules: Mapping[str, Rule], **arguments: Any) -> None:
        super().__init__(**arguments)
        self.passes = passes
        self.inline_rules = inline_rules
        self._inlined: dict[str, SQL] = {}

    def segment(self, key: str) -> SQL:
        if key in self.inline_rules:
            return self.inlined_segment(key)
        return self.stored_membership(key)

    def inlined_segment(self, key: str) -> SQL:
        if key not in self._inlined:
            self._inlined[key] = self.rule(self.inline_rules[key])
        return self._inlined[key]

    def fans_in(self, key: Hashable, fan_id: ColumnElement[int], *conditions: SQL) -> SQL:
        # conditions[0] is the workspace, which the pass over the table already applies.
        rows = self.passes.column(fan_id.table, key, lambda: func.count().filter(and_(*conditions[1:])))
        return func.coalesce(rows, literal(0, BigInteger())) > literal(0, BigInteger())

    def behaviour(self, condition: BehaviourCondition) -> SQL:
        query = condition.query

        def aggregate() -> SQL:
            rows = self.rows(query, correlated=False)
            # FILTER applies inside the sum; the coalescing happens after the join (a fan may have no rows).
            value = (
                func.sum(self.measured_field(query))
                if condition.aggregate is Aggregate.SUM
                else self.measure(condition, rows)
            )
            filtered: SQL = value.filter(rows.condition)
            return filtered

        value = self.passes.column(SOURCE_TABLES[query.of], (condition.aggregate, query), aggregate)
        if condition.aggregate in (Aggregate.COUNT, Aggregate.SUM):
            # A fan with no rows in the table has no group at all: count and sum are 0 for it.
            value = self.coalesced_to_zero(value)
        return self.compare_behaviour(condition, value)


# Far enough that no relative time and no absolute date can be mistaken for each other.
_PROBE_SHIFT = timedelta(days=1, microseconds=1)


def compile_batch(rules: Mapping[str, Rule], **context: Unpack[CompileContext]) -> BatchStatement:
    """One statement evaluating several rules for a list of fans (the ``fan_ids`` parameter): ``SELECT fans.id,
    <rule 1>, <rule 2>, …, <stored member of segment 1>, <of segment 2>, …`` in the order of ``rules`` (keyed by the
    ``reference_key`` of their segments' names), each column a boolean (SQLite: 0/1), never NULL; one row per
    existing fan of the workspace among ``fan_ids``.

    A rule naming a segment of the same batch reads that segment's rule rather than its stored membership, so one
    statement gives a segment of segments its prerequisites' new membership.

    Compiled at ``now`` and at a shifted ``now``: the time parameters that moved by the shift are relative ("30 days
    ago"), the others absolute ("2025-01-01"), so ``BatchStatement.parameters`` can re-aim it at any ``now``.
    """

    def at(moment: datetime) -> tuple[Select[Any], dict[str, datetime]]:
        # One set of primitives for both compiles of the rules: the time parameters keep counting (the passes'
        # filters hold some from the first compile).
        primitives = NamedTimePrimitives({})
        passes = AggregatePasses()

        def walk() -> BatchWalk:
            return BatchWalk(passes=passes, inline_rules=rules, primitives=primitives, **(context | {"now": moment}))

        return _batch_select(rules, walk, passes), primitives.times

    now = context["now"]
    statement, times = at(now)
    _, shifted = at(now + _PROBE_SHIFT)
    used = set(statement.compile().params)
    times = {key: value for key, value in times.items() if key in used}
    relative: dict[str, timedelta] = {}
    for key, value in times.items():
        if shifted[key] - value == _PROBE_SHIFT:
            relative[key] = value - now
        elif shifted[key] != value:
            raise AssertionError(f"time parameter {key} is neither absolute nor relative to now")
    return BatchStatement(statement=statement, relative_times=relative)


def _fan_ids_parameter(dialect: str) -> Callable[[SQL], SQL]:
    """``column`` is one of the ``fan_ids`` parameter's. On PostgreSQL the ids are one array parameter
    (``= ANY(:fan_ids)``): the statement's text is then the same for every write, so psycopg prepares it once, where
    an expanded ``IN (…)`` rendered a new 160,000-character statement with a parameter per id and fan table on each
    call, parsed and planned anew every time. SQLite has no arrays: it expands the list."""
    if dialect == POSTGRESQL:
        array: BindParameter[Any] = bindparam("fan_ids", type_=ARRAY(BigInteger()))
        return lambda column: column == any_(array)
    expanded: BindParameter[Any] = bindparam("fan_ids", expanding=True)
    return lambda column: column.in_(expanded)


def _batch_select(rules: Mapping[str, Rule], walk: Callable[[], BatchWalk], passes: AggregatePasses) -> Select[Any]:
    """The batch's statement, from two walks reading ``passes``."""
    # First compile: which aggregates each table's pass must compute. Second: the columns, reading those passes.
    recording = walk()
    for key in rules:
        recording.inlined_segment(key)
        recording.stored_membership(key)
    is_listed = _fan_ids_parameter(recording.dialect)
    per_fan = recording.dialect == POSTGRESQL
    passes.build(workspace=recording.workspace, is_listed=is_listed, per_fan=per_fan)
    reading = walk()
    columns = [reading.inlined_segment(key).label(f"s{index}") for index, key in enumerate(rules)]
    # After the rules, each segment's stored membership: the write compares the two without another query.
    columns += [reading.stored_membership(key).label(f"m{index}") for index, key in enumerate(rules)]
    source: FromClause = fans
    for table in passes.tables:
        source = source.outerjoin(table, true() if per_fan else table.c.fan_id == fans.c.id)
    return (
        select(fans.c.id, *columns)
        .select_from(source)
        .where(fans.c.workspace_id == reading.workspace(), is_listed(fans.c.id))
    )
