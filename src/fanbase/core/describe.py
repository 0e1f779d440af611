"""Rules in English, driven by the operator table's phrases.

``describe(rule)`` → "Lifecycle stage is customer or advocate, and total spent is more than $100, and (has tag
"VIP" or is subscribed to list "Fan Club"), and the number of orders where category is "merch" in the last
365 days is at least 2".
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import assert_never

from fanbase.core.fields import CORE_CATALOGUE
from fanbase.core.fields import MEASURING_AGGREGATES
from fanbase.core.fields import Aggregate
from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.core.fields import ListStatus
from fanbase.core.fields import Source
from fanbase.core.operators import OPERATORS
from fanbase.core.operators import Op
from fanbase.core.operators import RuleValue
from fanbase.core.operators import ValueShape
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
from fanbase.core.time import Duration
from fanbase.core.time import RelativeTime
from fanbase.core.time import format_time_point

_SOURCE_PLURALS: dict[Source, str] = {Source.ORDERS: "orders", Source.REFUNDS: "refunds", Source.EVENTS: "events"}
_SOURCE_SINGULARS: dict[Source, str] = {Source.ORDERS: "order", Source.REFUNDS: "refund", Source.EVENTS: "event"}
# What an aggregate of rows is called, from the rows' names (plural, singular) and the measured field's label.
_AGGREGATE_SUBJECTS: dict[Aggregate, str] = {
    Aggregate.COUNT: "the number of {plural}",
    Aggregate.SUM: "the total {field} of {plural}",
    Aggregate.MIN: "the smallest {field} of {plural}",
    Aggregate.MAX: "the largest {field} of {plural}",
    Aggregate.FIRST: "the first {singular}",
    Aggregate.LAST: "the last {singular}",
}
_LIST_PHRASES: dict[ListStatus, tuple[str, str]] = {
    # status → (affirmative, negative)
    ListStatus.SUBSCRIBED: ("is subscribed to list", "is not subscribed to list"),
    ListStatus.UNSUBSCRIBED: ("has unsubscribed from list", "has not unsubscribed from list"),
    ListStatus.BOUNCED: ("has bounced on list", "has not bounced on list"),
    ListStatus.ANY: ("is on list", "is not on list"),
}


def _quoted(text: str) -> str:
    return f'"{text}"'


def _join_choices(items: list[str], joiner: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {joiner} {items[-1]}"


class _Describer:
    def __init__(self, *, catalogue: Catalogue, currency_symbol: str) -> None:
        self.catalogue = catalogue
        self.currency_symbol = currency_symbol

    def amount(self, value: object, spec: FieldSpec | None) -> str:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            return str(value)
        if spec is not None and spec.type is FieldType.MONEY:
            amount = Decimal(value)
            shown = (
                f"{int(amount):,}" if amount == amount.to_integral_value() else f"{amount.quantize(Decimal('0.01')):,}"
            )
            return f"{self.currency_symbol}{shown}"
        return format(value, "f") if isinstance(value, Decimal) else str(value)

    def value(self, value: RuleValue, spec: FieldSpec | None) -> str:
        match value:
            case None:
                return ""
            case bool():
                return "true" if value else "false"
            case int() | Decimal():
                return self.amount(value, spec)
            case str():
                return value if spec is not None and spec.type is FieldType.ENUM else _quoted(value)
            case datetime():
                return value.strftime("%Y-%m-%d %H:%M UTC")
            case date() | RelativeTime():
                return format_time_point(value)
            case Duration():
                return str(value)
            case tuple():
                return ", ".join(self.value(item, spec) for item in value)
            case _:
                assert_never(value)

    def comparison(self, subject: str, spec: FieldSpec | None, op: Op, value: RuleValue) -> str:
        operator = OPERATORS[op]
        match operator.shape:
            case ValueShape.RANGE:
                assert isinstance(value, tuple) and len(value) == 2
                phrase = operator.phrase.format(low=self.value(value[0], spec), high=self.value(value[1], spec))
            case ValueShape.LIST:
                assert isinstance(value, tuple)
                items = [self.value(item, spec) for item in value]
                phrase = operator.phrase.format(value=_join_choices(items, operator.list_joiner))
            case (
                ValueShape.NONE
                | ValueShape.SCALAR
                | ValueShape.TIME_POINT
                | ValueShape.RELATIVE_TIME
                | ValueShape.DURATION
            ):
                phrase = operator.phrase.format(value=self.value(value, spec))
            case _:
                assert_never(operator.shape)
        return f"{subject} {phrase}"

    def where(self, where: Where, source: Source, *, is_nested: bool) -> str:
        match where:
            case WhereAllOf(conditions=children) | WhereAnyOf(conditions=children):
                joiner = " and " if isinstance(where, WhereAllOf) else " or "
                text = joiner.join(self.where(child, source, is_nested=True) for child in children)
                return f"({text})" if is_nested and len(children) > 1 else text
            case WhereNot(condition=child):
                return f"not {self.where(child, source, is_nested=True)}"
            case FieldCondition(field=name, op=op, value=value):
                spec = self.catalogue.source_field(source, name)
                return self.comparison(spec.label if spec else name, spec, op, value)
            case _:
                assert_never(where)

    def behaviour(self, condition: BehaviourCondition) -> str:
        aggregate, query = condition.aggregate, condition.query
        measured = None if query.field is None else self.catalogue.source_field(query.of, query.field)
        field_label = measured.label if measured else (query.field or "")
        subject = _AGGREGATE_SUBJECTS[aggregate].format(
            plural=_SOURCE_PLURALS[query.of], singular=_SOURCE_SINGULARS[query.of], field=field_label
        )
        if query.where is not None:
            subject += f" where {self.where(query.where, query.of, is_nested=False)}"
        if query.within is not None:
            subject += f" in the last {query.within}"
        if query.between is not None:
            low, high = query.between
            subject += f" between {self.value(low, None)} and {self.value(high, None)}"
        # Only sum/min/max compare with an amount that may be money; count and first/last are plain.
        result_spec = measured if aggregate in MEASURING_AGGREGATES else None
        return self.comparison(subject, result_spec, condition.op, condition.value)

    def negation(self, rule: Rule) -> str:
        match rule:
            case HasTag(tag=name):
                return f"does not have tag {_quoted(name)}"
            case InSegment(segment=name):
                return f"is not in segment {_quoted(name)}"
            case InList(list_name=name, status=status):
                return f"{_LIST_PHRASES[status][1]} {_quoted(name)}"
            case _:
                return f"not ({self.rule(rule, is_nested=False)})"

    def rule(self, rule: Rule, *, is_nested: bool) -> str:
        match rule:
            case AllOf(rules=children) | AnyOf(rules=children):
                is_all = isinstance(rule, AllOf)
                if not children:
                    return "every fan" if is_all else "no fan"
                members = [self.rule(child, is_nested=len(children) > 1) for child in children]
                text = (", and " if is_all else " or ").join(members)
                return f"({text})" if is_nested and len(children) > 1 else text
            case Not(rule=child):
                return self.negation(child)
            case FieldCondition(field=name, op=op, value=value):
                spec = self.catalogue.fan_field(name)
                return self.comparison(spec.label if spec else name, spec, op, value)
            case HasTag(tag=name):
                return f"has tag {_quoted(name)}"
            case InList(list_name=name, status=status):
                return f"{_LIST_PHRASES[status][0]} {_quoted(name)}"
            case InSegment(segment=name):
                return f"is in segment {_quoted(name)}"
            case BehaviourAggregate():
                return self.behaviour(rule)
            case _:
                assert_never(rule)


def describe(rule: Rule, *, catalogue: Catalogue = CORE_CATALOGUE, currency_symbol: str = "$") -> str:
    """One English sentence for a (validated) rule; ``catalogue`` gives custom fields' labels and types."""
    text = _Describer(catalogue=catalogue, currency_symbol=currency_symbol).rule(rule, is_nested=False)
    return text[:1].upper() + text[1:]
