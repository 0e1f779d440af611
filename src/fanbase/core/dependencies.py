"""What a rule depends on: the references it makes, and the parts whose truth can change with time alone.

``collect_references`` tells the event-driven path which writes can change a segment (a tag, a list, an
order, a field…). ``relative_time_conditions`` tells the time-driven scheduler which stored times to watch:
each ``TimeDependency`` says "this condition can only change truth when ``now`` reaches ``t + offset``" for
the times ``t`` it names (a fan field's value, a first()/last() aggregate's value, or the times of the
source's rows). Between two ticks ``(previous, current]`` the fans to re-evaluate are those with some
``t + offset`` in that interval (boundaries are inclusive in the rule, so the flip happens just after
``t + offset``: compare with ``>=``/``>`` generously).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import assert_never

from fanbase.core.fields import Aggregate
from fanbase.core.fields import Source
from fanbase.core.operators import Op
from fanbase.core.operators import RuleValue
from fanbase.core.rules import AllOf
from fanbase.core.rules import AnyOf
from fanbase.core.rules import BehaviourAggregate
from fanbase.core.rules import BehaviourCondition
from fanbase.core.rules import FieldCondition
from fanbase.core.rules import HasTag
from fanbase.core.rules import InList
from fanbase.core.rules import InSegment
from fanbase.core.rules import Not
from fanbase.core.rules import Rule
from fanbase.core.rules import Where
from fanbase.core.rules import WhereAllOf
from fanbase.core.rules import WhereAnyOf
from fanbase.core.rules import WhereNot
from fanbase.core.rules import reference_key
from fanbase.core.time import Duration
from fanbase.core.time import RelativeTime


class TimeDependencyKind(StrEnum):
    FIELD = "field"  # a fan field compared with a relative time: t is the field's value
    AGGREGATE = "aggregate"  # first()/last() compared with a relative time: t is the aggregate's value
    ROWS = "rows"  # a relative window or row filter: t is each row's time (placed_at / occurred_at)


@dataclass(frozen=True, kw_only=True)
class TimeDependency:
    path: str
    kind: TimeDependencyKind
    # FIELD: the fan field; otherwise None.
    field: str | None = None
    # AGGREGATE and ROWS: what is aggregated.
    source: Source | None = None
    aggregate: Aggregate | None = None
    # Sorted and unique. 0 appears for "within the last N": a row dated in the future enters when now reaches it.
    offsets: tuple[timedelta, ...] = ()


def _offsets(op: Op, value: RuleValue) -> set[timedelta]:
    """Offsets after a stored time t at which ``t op value`` can flip as ``now`` moves."""
    match value:
        case Duration() if op is Op.WITHIN_LAST:
            return {timedelta(0), value.length}
        case RelativeTime():
            return {value.duration.length}
        case tuple():
            return {item.duration.length for item in value if isinstance(item, RelativeTime)}
        case _:
            return set()


def _where_offsets(where: Where) -> set[timedelta]:
    match where:
        case WhereAllOf(conditions=children) | WhereAnyOf(conditions=children):
            return set().union(*(_where_offsets(child) for child in children))
        case WhereNot(condition=child):
            return _where_offsets(child)
        case FieldCondition(op=op, value=value):
            # Only the rows' time field takes time operators, so any offset here is about the row's time.
            return _offsets(op, value)
        case _:
            assert_never(where)


def _behaviour_dependencies(condition: BehaviourCondition, path: str) -> list[TimeDependency]:
    aggregate, query = condition.aggregate, condition.query
    row_offsets = set() if query.where is None else _where_offsets(query.where)
    if query.within is not None:
        row_offsets |= {timedelta(0), query.within.length}
    if query.between is not None:
        row_offsets |= {point.duration.length for point in query.between if isinstance(point, RelativeTime)}
    # first()/last() compared with a relative time flip as now passes the aggregate's value plus the offset.
    is_time_valued = aggregate in (Aggregate.FIRST, Aggregate.LAST)
    aggregate_offsets = _offsets(condition.op, condition.value) if is_time_valued else set()
    return [
        TimeDependency(path=path, kind=kind, source=query.of, aggregate=aggregate, offsets=tuple(sorted(offsets)))
        for kind, offsets in ((TimeDependencyKind.ROWS, row_offsets), (TimeDependencyKind.AGGREGATE, aggregate_offsets))
        if offsets
    ]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def relative_time_conditions(rule: Rule, *, path: str = "") -> list[TimeDependency]:
    """Every leaf of ``rule`` whose truth can change with time alone, with the offsets to watch."""
    match rule:
        case AllOf(rules=children) | AnyOf(rules=children):
            key = "all" if isinstance(rule, AllOf) else "any"
            return [
                dependency
                for index, child in enumerate(children)
                for dependency in relative_time_conditions(child, path=f"{_join(path, key)}[{index}]")
            ]
        case Not(rule=child):
            return relative_time_conditions(child, path=_join(path, "not"))
        case FieldCondition(field=name, op=op, value=value):
            offsets = _offsets(op, value)
            if not offsets:
                return []
            return [
                TimeDependency(path=path, kind=TimeDependencyKind.FIELD, field=name, offsets=tuple(sorted(offsets)))
            ]
        case HasTag() | InList() | InSegment():
            return []
        case BehaviourAggregate():
            return _behaviour_dependencies(rule, path)
        case _:
            assert_never(rule)


def is_time_dependent(rule: Rule) -> bool:
    return bool(relative_time_conditions(rule))


@dataclass(frozen=True, kw_only=True)
class RuleReferences:
    """What a rule reads. Names of tags, lists and segments are ``reference_key``s."""

    fields: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    sources: frozenset[Source] = frozenset()


def _leaves(rule: Rule) -> Iterator[Rule]:
    """The conditions of a rule, under its and/or/not."""
    match rule:
        case AllOf(rules=children) | AnyOf(rules=children):
            for child in children:
                yield from _leaves(child)
        case Not(rule=child):
            yield from _leaves(child)
        case FieldCondition() | HasTag() | InList() | InSegment() | BehaviourAggregate():
            yield rule
        case _:
            assert_never(rule)


def collect_references(rule: Rule) -> RuleReferences:
    leaves = list(_leaves(rule))
    return RuleReferences(
        fields=frozenset(leaf.field for leaf in leaves if isinstance(leaf, FieldCondition)),
        tags=frozenset(reference_key(leaf.tag) for leaf in leaves if isinstance(leaf, HasTag)),
        lists=frozenset(reference_key(leaf.list_name) for leaf in leaves if isinstance(leaf, InList)),
        segments=frozenset(reference_key(leaf.segment) for leaf in leaves if isinstance(leaf, InSegment)),
        sources=frozenset(leaf.query.of for leaf in leaves if isinstance(leaf, BehaviourAggregate)),
    )
