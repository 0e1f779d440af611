"""The set form: the rule over a whole workspace (preview, build, refresh, verify).

Each condition that reads another table is a derived table of fan ids over the whole workspace — ``SELECT fan_id …
GROUP BY fan_id [aggregate]`` — joined to ``fans`` (``CompiledRule.joins``): each table is read once, in one range
of one index, instead of probed once per fan. A LEFT JOIN rather than ``fans.id IN (…)`` keeps PostgreSQL from
planning an unhashed subplan (a scan per fan) under ``or`` / ``not``; the tables a rule requires a row in are
joined INNER when only matching fans are wanted (``matching_fans_joined``).
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Unpack

from sqlalchemy import BigInteger
from sqlalchemy import ColumnElement
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import not_
from sqlalchemy import select
from sqlalchemy import union_all
from sqlalchemy.sql import CompoundSelect
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import FromClause
from sqlalchemy.sql.selectable import Subquery

from fanbase.core.evaluate import FanSnapshot
from fanbase.core.evaluate import evaluate
from fanbase.core.fields import FAN_SOURCES
from fanbase.core.fields import LIFECYCLE_STAGES
from fanbase.core.fields import Aggregate
from fanbase.core.fields import FieldType
from fanbase.core.fields import Source
from fanbase.core.operators import OPERATORS
from fanbase.core.operators import Op
from fanbase.core.operators import combine
from fanbase.core.rules import AllOf
from fanbase.core.rules import BehaviourCondition
from fanbase.core.rules import CountOf
from fanbase.core.rules import FieldCondition
from fanbase.core.rules import Not
from fanbase.core.rules import Rule
from fanbase.core.time import resolve_last
from fanbase.db.rule_sql.base import CompileContext
from fanbase.db.rule_sql.base import RuleWalk
from fanbase.db.rule_sql.base import count_means_existence
from fanbase.db.rule_sql.per_fan import correlated_behaviour
from fanbase.db.rule_sql.spelling import POSTGRESQL
from fanbase.db.rule_sql.spelling import SQL
from fanbase.db.tables import LATEST_EVENTS
from fanbase.db.tables import fan_latest_events
from fanbase.db.tables import fans


@dataclass(frozen=True)
class CompiledRule:
    """A rule as SQL: ``condition`` over ``fans`` and ``joins``, derived tables keyed by ``fan_id`` (at most one row
    per fan) that a query must LEFT JOIN to ``fans`` — ``select(…).select_from(fans_joined(compiled))``. The
    condition is never NULL."""

    condition: ColumnElement[bool]
    joins: tuple[Subquery, ...] = ()
    # Whether a fan with no row in any joined table (no tags, lists, segments, orders or events) matches.
    matches_absent_fans: bool = True
    # The condition is only "the fan has a row in the one joined table": that table's fan ids are the answer.
    is_presence: bool = False
    # Joined tables the condition requires a row in (a top-level "and" part is "has a row there"): a query that
    # keeps only matching fans may join them INNER (``matching_fans_joined``).
    required: tuple[Subquery, ...] = ()


def fans_joined(*compiled: CompiledRule, inner: Sequence[Subquery] = ()) -> FromClause:
    """``fans`` LEFT JOIN every derived table the compiled rules read (each once); INNER JOIN for those in ``inner``."""
    source: FromClause = fans
    inner_ids = {id(table) for table in inner}
    seen: set[int] = set()
    for item in compiled:
        for table in item.joins:
            if id(table) not in seen:
                seen.add(id(table))
                on = table.c.fan_id == fans.c.id
                source = source.join(table, on) if id(table) in inner_ids else source.outerjoin(table, on)
    return source


def matching_fans_joined(compiled: CompiledRule) -> FromClause:
    """``fans`` joined to the rule's derived tables for a query that keeps only the fans matching it: INNER JOIN
    where the rule requires a row, so the database may start from that (often small) table. SQLite does not reduce
    ``LEFT JOIN … WHERE t.fan_id IS NOT NULL`` to an inner join: it would walk every fan of the workspace for
    ``tag "A" and tag "B"``."""
    return fans_joined(compiled, inner=compiled.required)


def _conjuncts(rule: Rule) -> Iterator[Rule]:
    """The parts of a rule's top-level "and" (nested ones flattened); the rule itself when it is not one."""
    if isinstance(rule, AllOf):
        for child in rule.rules:
            yield from _conjuncts(child)
    else:
        yield rule


class SetFormWalk(RuleWalk):
    def __init__(self, **arguments: Any) -> None:
        super().__init__(**arguments)
        # The derived tables made so far, by what they select (a rule naming the same thing twice joins once),
        # and the "has a row there" conditions made on them (by identity, with their table; each kept with its
        # condition, so an id is never that of a collected object).
        self._derived_tables: dict[Hashable, Subquery] = {}
        self._presence: dict[int, tuple[SQL, Subquery]] = {}

    def compiled(self, rule: Rule) -> CompiledRule:
        parts = [self.conjunct(part) for part in _conjuncts(rule)]
        condition = parts[0] if len(parts) == 1 else combine(self.primitives, parts, is_all=True)
        joins = tuple(self._derived_tables.values())
        required = {id(found[1]): found[1] for part in parts if (found := self._presence.get(id(part))) is not None}
        return CompiledRule(
            condition=condition,
            joins=joins,
            matches_absent_fans=evaluate(rule, self._fan_without_rows(), now=self.now, catalogue=self.catalogue),
            is_presence=len(joins) == 1 and id(condition) in self._presence,
            required=tuple(required.values()),
        )

    def _fan_without_rows(self) -> FanSnapshot:
        """A fan with no row in any other table, as every real fan is: with the fields the database never leaves
        empty. Their values do not matter (a rule answered from a derived table alone reads no fan column), but
        their presence does: the SQL folds ``created_at is_not_set`` to false, so the evaluator must too — on an
        empty snapshot it would say "not (created_at is_not_set or tag …)" matches no absent fan."""
        return FanSnapshot(
            email="absent@fanbase.invalid",
            lifecycle_stage=LIFECYCLE_STAGES[0],
            source=FAN_SOURCES[0],
            created_at=self.now,
        )

    def conjunct(self, rule: Rule) -> SQL:
        """A part of the rule's top-level "and".

        A plan shape, not a spelling, so it asks the dialect: on PostgreSQL "no such row" (``count(…) = 0``) is
        ``NOT EXISTS``, which PostgreSQL runs as an anti join on the rows themselves, where a LEFT JOIN of ``SELECT
        fan_id … GROUP BY fan_id`` groups every row first. Only at the top: under "or" PostgreSQL would probe it
        once per fan. SQLite runs any correlated ``NOT EXISTS`` once per fan, so it keeps the derived table."""
        if self.dialect == POSTGRESQL:
            match rule:
                case CountOf(op=op, value=value) if count_means_existence(op, value) is False:
                    return correlated_behaviour(self, rule)
                case Not(rule=CountOf(op=op, value=value) as inner) if count_means_existence(op, value) is True:
                    return not_(correlated_behaviour(self, inner))
        return self.rule(rule)

    def derived(self, key: Hashable, statement: Select[Any] | CompoundSelect[Any]) -> Subquery:
        """The derived table of ``statement`` (its first column labelled ``fan_id``), made once per key."""
        table = self._derived_tables.get(key)
        if table is None:
            table = statement.subquery()
            self._derived_tables[key] = table
        return table

    def present_in(self, table: Subquery) -> SQL:
        present = table.c.fan_id.is_not(None)
        self._presence[id(present)] = (present, table)
        return present

    def fans_in(self, key: Hashable, fan_id: ColumnElement[int], *conditions: SQL) -> SQL:
        # The primary keys lead with (workspace_id, thing_id): one range scan, already in fan order.
        return self.present_in(self.derived(key, select(fan_id.label("fan_id")).where(*conditions)))

    def behaviour(self, condition: BehaviourCondition) -> SQL:
        if (latest := self.from_latest_events(condition)) is not None:
            return latest
        aggregate, query = condition.aggregate, condition.query
        rows = self.rows(query, correlated=False)
        fan_id = rows.fan_id.label("fan_id")
        if (
            aggregate is Aggregate.COUNT
            and (shortcut := count_means_existence(condition.op, condition.value)) is not None
        ):
            table = self.derived(("some", query), select(fan_id).where(rows.condition).group_by(rows.fan_id))
            found = self.present_in(table)
            return found if shortcut else not_(found)
        if (row_test := self.extreme_as_existence(condition)) is not None:
            # max(x) >= c holds exactly when some row has x >= c (rows where x is missing count in neither).
            table = self.derived(
                ("some", query, condition.op, str(condition.value)),
                select(fan_id).where(rows.condition, row_test).group_by(rows.fan_id),
            )
            return self.present_in(table)
        value = self.measure(condition, rows)
        table = self.derived(
            (aggregate, query), select(fan_id, value.label("value")).where(rows.condition).group_by(rows.fan_id)
        )
        return self.compare_aggregate(condition, table.c.value)

    def from_latest_events(self, condition: BehaviourCondition) -> SQL | None:
        """ "At least N events of type T (in the last W)", or fewer, from each fan's latest event times per type
        (``fan_latest_events``): the fans whose N-th latest is in the window, one index range; None for any other
        condition (N beyond the times kept, another filter, a ``between`` window, another aggregate).

        A "last W" window ends at ``now``, so a fan with an event after ``now`` (clock skew, a scheduled import) has
        latest times the window does not hold; those few fans (their latest is after ``now``) are counted from
        their events instead."""
        shape = latest_events_shape(condition)
        if shape is None:
            return None
        event_type, at_least, is_negated = shape
        table = fan_latest_events
        nth = table.c[f"t{at_least}"]
        fan_id = table.c.fan_id.label("fan_id")
        of_type = (
            table.c.workspace_id == self.workspace(),
            self.compare(table.c.type, field_type=FieldType.TEXT, op=Op.EQ, value=event_type),
        )
        query = condition.query
        held: SQL
        if query.within is None:
            held = self.present_in(
                self.derived(("latest", query, at_least), select(fan_id).where(*of_type, nth.is_not(None)))
            )
        else:
            start, end = resolve_last(query.within, now=self.now)
            bind = self.primitives.bind
            settled = select(fan_id).where(*of_type, table.c.t1 <= bind(table.c.t1, end), nth >= bind(nth, start))
            ahead = select(table.c.fan_id).where(*of_type, table.c.t1 > bind(table.c.t1, end))
            rows = self.rows(query, correlated=False)
            counted = (
                select(rows.fan_id.label("fan_id"))
                .where(rows.condition, rows.fan_id.in_(ahead))
                .group_by(rows.fan_id)
                .having(func.count() >= literal(at_least, BigInteger()))
            )
            # The two sets are disjoint (a fan's latest is either at or before now, or after it): one derived table,
            # so a rule that is only this condition is answered from it alone (``CompiledRule.is_presence``).
            held = self.present_in(self.derived(("latest", query, at_least), union_all(settled, counted)))
        return not_(held) if is_negated else held

    def extreme_as_existence(self, condition: BehaviourCondition) -> SQL | None:
        """For ``max(x) > / >= c`` and ``min(x) < / <= c``: the same comparison on each row's x, which a fan meets
        through some row exactly when its maximum (minimum) does; None for every other condition."""
        aggregate, query = condition.aggregate, condition.query
        upward = aggregate is Aggregate.MAX and condition.op in (Op.GT, Op.GE)
        downward = aggregate is Aggregate.MIN and condition.op in (Op.LT, Op.LE)
        if not (upward or downward) or query.field is None:
            return None
        measured = self.catalogue.source_field(query.of, query.field)
        assert measured is not None
        subject = self.row_field(query.of, measured, measured.type)
        return self.compare(subject, field_type=measured.type, op=condition.op, value=condition.value)

    def compare_aggregate(self, condition: BehaviourCondition, value: SQL) -> SQL:
        """``value`` is the aggregate after a LEFT JOIN: NULL for a fan without rows. A count or sum is 0 then: when
        the condition holds at 0 (or its operator is defined on a missing value, like is_not_set) the value is
        coalesced; otherwise the missing-value guard already makes the comparison false, and leaving the value bare
        lets PostgreSQL turn the LEFT JOIN into an inner join."""
        subject = value
        if condition.aggregate in (Aggregate.COUNT, Aggregate.SUM) and (
            OPERATORS[condition.op].accepts_missing or self.absent_fans_match(condition)
        ):
            subject = self.coalesced_to_zero(value)
        return self.compare_behaviour(condition, subject)


def latest_events_shape(condition: BehaviourCondition) -> tuple[str, int, bool] | None:
    """For ``count(events where type = T [within W]) op n`` that is "at least N" (>=, >) or its negation (<, <=) with
    1 <= N <= LATEST_EVENTS: (T, N, negated); None otherwise."""
    query = condition.query
    if condition.aggregate is not Aggregate.COUNT or query.of is not Source.EVENTS or query.between is not None:
        return None
    match query.where:
        case FieldCondition(field="type", op=Op.EQ, value=str() as event_type):
            pass
        case _:
            return None
    value = condition.value
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    match condition.op:
        case Op.GE | Op.LT:
            at_least = value
        case Op.GT | Op.LE:
            at_least = value + 1
        case _:
            return None
    if not 1 <= at_least <= LATEST_EVENTS:
        return None
    return event_type, at_least, condition.op in (Op.LT, Op.LE)


def compile_rule_for_workspace(rule: Rule, **context: Unpack[CompileContext]) -> CompiledRule:
    """The rule in the set form, for evaluating it over a whole workspace: use it as
    ``select(fans.c.id).select_from(fans_joined(compiled)).where(fans.c.workspace_id == …, compiled.condition)``."""
    return SetFormWalk(**context).compiled(rule)
