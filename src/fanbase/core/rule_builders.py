"""Builders: a readable, hypothesis-free way to make rules in code and tests."""

from __future__ import annotations

from typing import assert_never

from fanbase.core.fields import Aggregate
from fanbase.core.fields import ListStatus
from fanbase.core.fields import Source
from fanbase.core.operators import Op
from fanbase.core.rules import BEHAVIOUR_CLASSES
from fanbase.core.rules import AllOf
from fanbase.core.rules import AnyOf
from fanbase.core.rules import BehaviourAggregate
from fanbase.core.rules import BehaviourCondition
from fanbase.core.rules import BehaviourQuery
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
from fanbase.core.time import Duration


def all_of(*rules: Rule) -> AllOf:
    return AllOf(rules=rules)


def any_of(*rules: Rule) -> AnyOf:
    return AnyOf(rules=rules)


def negate(rule: Rule) -> Not:
    return Not(rule=rule)


def condition(field_name: str, op: Op | str, value: object = None) -> FieldCondition:
    """``condition("total_spent", ">", 100)``; values are read as in JSON ("30 days ago", "2024-01-01")."""
    return FieldCondition.model_validate({"field": field_name, "op": op, "value": value})


def has_tag(name: str) -> HasTag:
    return HasTag(tag=name)


def in_list(name: str, *, status: ListStatus | str = ListStatus.SUBSCRIBED) -> InList:
    return InList(list_name=name, status=ListStatus(status))


def in_segment(name: str) -> InSegment:
    return InSegment(segment=name)


def where_from_rule(rule: Rule | Where) -> Where:
    """A where filter from a rule built of all/any/not and field conditions (as builders and the parser make)."""
    match rule:
        case AllOf(rules=children):
            return WhereAllOf(conditions=tuple(where_from_rule(child) for child in children))
        case AnyOf(rules=children):
            return WhereAnyOf(conditions=tuple(where_from_rule(child) for child in children))
        case Not(rule=child):
            return WhereNot(condition=where_from_rule(child))
        case FieldCondition() | WhereAllOf() | WhereAnyOf() | WhereNot():
            return rule
        case HasTag() | InList() | InSegment() | BehaviourAggregate():
            raise ValueError("a where filter can only hold conditions on the rows' fields")
        case _:
            assert_never(rule)


def behaviour(
    aggregate: Aggregate | str,
    source: Source | str,
    *,
    op: Op | str,
    value: object = None,
    field_name: str | None = None,
    where: Rule | Where | None = None,
    within: Duration | str | None = None,
    between: tuple[object, object] | None = None,
) -> BehaviourCondition:
    """``behaviour("count", "orders", where=condition("category", "=", "merch"), within="365 days",
    op=">=", value=2)``."""
    aggregate = Aggregate(aggregate)
    query = BehaviourQuery.model_validate(
        {
            "of": source,
            "field": field_name,
            "where": None if where is None else where_from_rule(where),
            "within": within,
            "between": between,
        }
    )
    return BEHAVIOUR_CLASSES[aggregate].model_validate({aggregate.value: query, "op": op, "value": value})
