"""The Python evaluator: one fan's snapshot in memory against a validated rule. The oracle for the SQL compiler.

It is written against the same operator table and ``Primitives`` as the SQL compiler, so the two can only
disagree in how they implement the primitives. The semantics it fixes (the compiler mirrors them):

- Leaves are two-valued: a comparison with a missing value is false except ``is_set`` / ``is_not_set`` /
  ``is_empty`` (details in ``fanbase.core.operators``). ``not`` flips a leaf exactly.
- Tags, lists and segments are matched by ``reference_key`` (case-insensitive). A list condition with status
  ``any`` holds when the fan is on the list with any status. A segment condition reads the fan's **stored**
  membership (``FanSnapshot.segments``); it never evaluates the other segment's rule.
- Behaviour sources: ``orders`` are the fan's orders with status ``completed``; ``refunds`` those with status
  ``refunded`` (so a refunded order is not an order, exactly as in ``total_spent``); ``events`` all events.
  Rows are then kept if their time is inside the window and they match the ``where`` filter.
- Windows: ``within N units`` keeps rows with ``now - N <= time <= now`` — rows dated after ``now`` are outside;
  ``between A and B`` keeps ``first instant of A <= time <= last instant of B``; no window keeps every row,
  including rows dated after ``now``.
- Aggregates over no rows: ``count`` = 0, ``sum`` = 0, ``min`` / ``max`` / ``first`` / ``last`` are missing, so
  any comparison with them is false (``not`` of it is true). ``first``/``last`` are the earliest/latest row time.
- A window is taken literally: a fan created 2 days ago who never went to a gig has
  ``count(events where type = "gig_attended" within 30 days) = 0``. A template that means "inactive for 30
  days" must add ``created_at more_than 30 days ago``.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from decimal import Decimal
from typing import Any
from typing import TypeAlias
from typing import assert_never

from fanbase.core.fields import CORE_CATALOGUE
from fanbase.core.fields import SOURCE_ORDER_STATUS
from fanbase.core.fields import Aggregate
from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.core.fields import ListStatus
from fanbase.core.fields import Source
from fanbase.core.fields import aggregate_result_spec
from fanbase.core.fields import property_key
from fanbase.core.operators import Constant
from fanbase.core.operators import Op
from fanbase.core.operators import RuleValue
from fanbase.core.operators import build_condition
from fanbase.core.operators import comparison_type
from fanbase.core.operators import fold_text
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
from fanbase.core.rules import reference_key
from fanbase.core.time import require_aware
from fanbase.core.time import resolve_between
from fanbase.core.time import resolve_last

# A stored field value as the evaluator sees it.
FieldValue: TypeAlias = str | int | float | Decimal | bool | datetime | None
# An event property: any JSON value.
JsonProperty: TypeAlias = str | int | float | bool | list[object] | dict[str, object] | None


def _require_aware_or_none(value: datetime | None, *, what: str) -> None:
    if value is not None:
        require_aware(value, what=what)


@dataclass(frozen=True, kw_only=True)
class OrderSnapshot:
    amount: Decimal
    currency: str  # what the shop charged in; ``amount`` is in the workspace currency
    category: str | None = None
    product: str | None = None
    status: str = "completed"
    placed_at: datetime

    def __post_init__(self) -> None:
        require_aware(self.placed_at, what="placed_at")


@dataclass(frozen=True, kw_only=True)
class EventSnapshot:
    type: str
    occurred_at: datetime
    properties: Mapping[str, JsonProperty] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_aware(self.occurred_at, what="occurred_at")


@dataclass(frozen=True, kw_only=True)
class FanSnapshot:
    """Everything a rule can read about one fan. Datetimes must be timezone-aware."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    lifecycle_stage: str | None = None
    source: str | None = None
    country: str | None = None
    city: str | None = None
    created_at: datetime | None = None
    total_spent: Decimal = Decimal(0)
    purchase_count: int = 0
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    last_active_at: datetime | None = None
    custom_fields: Mapping[str, FieldValue] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    # List name → status ("subscribed", "unsubscribed", "bounced").
    lists: Mapping[str, str] = field(default_factory=dict)
    # Names of the segments the fan is a stored member of.
    segments: frozenset[str] = frozenset()
    orders: tuple[OrderSnapshot, ...] = ()
    events: tuple[EventSnapshot, ...] = ()

    def __post_init__(self) -> None:
        for name in ("created_at", "first_purchase_at", "last_purchase_at", "last_active_at"):
            _require_aware_or_none(getattr(self, name), what=name)
        for name, value in self.custom_fields.items():
            if isinstance(value, datetime):
                require_aware(value, what=name)

    def field_value(self, name: str, *, catalogue: Catalogue) -> FieldValue:
        if catalogue.is_custom(name):
            return self.custom_fields.get(name)
        value: FieldValue = getattr(self, name)
        return value


class PythonPrimitives:
    """``Primitives`` over plain Python values. Comparisons with a missing value are False, never an error.

    Values reach the primitives through ``_view``, which gives each comparison type one Python type (text: str,
    number: int or float, money: Decimal, …), so Python's ``True == 1`` can never make a boolean equal a number.
    """

    def eq(self, left: Any, right: Constant) -> bool:
        return left is not None and bool(left == right)

    def ne(self, left: Any, right: Constant) -> bool:
        return left is not None and bool(left != right)

    def lt(self, left: Any, right: Constant) -> bool:
        return left is not None and bool(left < right)

    def le(self, left: Any, right: Constant) -> bool:
        return left is not None and bool(left <= right)

    def gt(self, left: Any, right: Constant) -> bool:
        return left is not None and bool(left > right)

    def ge(self, left: Any, right: Constant) -> bool:
        return left is not None and bool(left >= right)

    def in_(self, left: Any, choices: tuple[Constant, ...]) -> bool:
        return left is not None and any(left == choice for choice in choices)

    def is_null(self, value: Any) -> bool:
        return value is None

    def not_null(self, value: Any) -> bool:
        return value is not None

    def guard(self, value: Any) -> bool:
        return self.not_null(value)

    def fold(self, value: Any) -> Any:
        return fold_text(value) if isinstance(value, str) else value

    def contains(self, text: Any, fragment: str) -> bool:
        return isinstance(text, str) and fragment in text

    def starts_with(self, text: Any, prefix: str) -> bool:
        return isinstance(text, str) and text.startswith(prefix)

    def ends_with(self, text: Any, suffix: str) -> bool:
        return isinstance(text, str) and text.endswith(suffix)

    def and_(self, *parts: Any) -> bool:
        return all(parts)

    def or_(self, *parts: Any) -> bool:
        return any(parts)

    def not_(self, part: Any) -> bool:
        return not part

    def true(self) -> bool:
        return True

    def false(self) -> bool:
        return False

    def money(self, amount: Decimal) -> Constant:
        return amount


PYTHON_PRIMITIVES = PythonPrimitives()


def _view(value: object, field_type: FieldType) -> object:
    """The value as its comparison type sees it; None (missing) when it is absent or of another type.

    For event properties this is the typed view the SQL compiler must reproduce: a JSON string is only text,
    a JSON number (not a boolean) only a number, a JSON boolean only a boolean.
    """
    match field_type:
        case FieldType.TEXT | FieldType.ENUM:
            return value if isinstance(value, str) else None
        case FieldType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                return None
            # Non-integers compare as doubles, as JSON numbers do in both databases.
            return value if isinstance(value, int) else float(value)
        case FieldType.MONEY:
            if isinstance(value, bool) or not isinstance(value, int | Decimal):
                return None
            return Decimal(value)
        case FieldType.DATETIME:
            return value if isinstance(value, datetime) else None
        case FieldType.BOOLEAN:
            return value if isinstance(value, bool) else None
        case FieldType.ANY:
            return value
        case _:
            assert_never(field_type)


def _compare(subject: object, *, spec: FieldSpec, op: Op, value: RuleValue, now: datetime) -> bool:
    compared_as = comparison_type(spec, op, value)
    return bool(
        build_condition(
            PYTHON_PRIMITIVES, _view(subject, compared_as), field_type=compared_as, op=op, value=value, now=now
        )
    )


_Row: TypeAlias = OrderSnapshot | EventSnapshot


def _row_value(row: _Row, name: str) -> object:
    if isinstance(row, EventSnapshot) and (key := property_key(name)) is not None:
        return row.properties.get(key)
    return getattr(row, name)


def _row_time(row: _Row) -> datetime:
    return row.placed_at if isinstance(row, OrderSnapshot) else row.occurred_at


class _Evaluator:
    def __init__(self, fan: FanSnapshot, *, now: datetime, catalogue: Catalogue) -> None:
        self.fan = fan
        self.now = require_aware(now, what="now")
        self.catalogue = catalogue
        self.tags = {reference_key(name) for name in fan.tags}
        self.lists = {reference_key(name): status for name, status in fan.lists.items()}
        self.segments = {reference_key(name) for name in fan.segments}

    def rule(self, rule: Rule) -> bool:
        match rule:
            case AllOf(rules=children):
                return all(self.rule(child) for child in children)
            case AnyOf(rules=children):
                return any(self.rule(child) for child in children)
            case Not(rule=child):
                return not self.rule(child)
            case FieldCondition(field=name, op=op, value=value):
                spec = self.catalogue.fan_field(name)
                if spec is None:
                    raise ValueError(f"unknown field {name!r}: validate the rule against this catalogue first")
                subject = self.fan.field_value(name, catalogue=self.catalogue)
                return _compare(subject, spec=spec, op=op, value=value, now=self.now)
            case HasTag(tag=name):
                return reference_key(name) in self.tags
            case InList(list_name=name, status=status):
                current = self.lists.get(reference_key(name))
                return current is not None and (status is ListStatus.ANY or current == status.value)
            case InSegment(segment=name):
                return reference_key(name) in self.segments
            case BehaviourAggregate():
                return self.behaviour(rule)
            case _:
                assert_never(rule)

    def rows(self, query: BehaviourQuery) -> list[_Row]:
        candidates: tuple[_Row, ...]
        match query.of:
            case Source.ORDERS | Source.REFUNDS:
                status = SOURCE_ORDER_STATUS[query.of]
                candidates = tuple(order for order in self.fan.orders if order.status == status)
            case Source.EVENTS:
                candidates = self.fan.events
            case _:
                assert_never(query.of)
        window: tuple[datetime, datetime] | None = None
        if query.within is not None:
            window = resolve_last(query.within, now=self.now)
        elif query.between is not None:
            window = resolve_between(*query.between, now=self.now)
        return [
            row
            for row in candidates
            if (window is None or window[0] <= _row_time(row) <= window[1])
            and (query.where is None or self.where(query.where, row, query.of))
        ]

    def where(self, where: Where, row: _Row, source: Source) -> bool:
        match where:
            case WhereAllOf(conditions=children):
                return all(self.where(child, row, source) for child in children)
            case WhereAnyOf(conditions=children):
                return any(self.where(child, row, source) for child in children)
            case WhereNot(condition=child):
                return not self.where(child, row, source)
            case FieldCondition(field=name, op=op, value=value):
                spec = self.catalogue.source_field(source, name)
                if spec is None:
                    raise ValueError(f"unknown {source} field {name!r}: validate the rule first")
                return _compare(_row_value(row, name), spec=spec, op=op, value=value, now=self.now)
            case _:
                assert_never(where)

    def behaviour(self, condition: BehaviourCondition) -> bool:
        aggregate, query = condition.aggregate, condition.query
        rows = self.rows(query)
        measured = None if query.field is None else self.catalogue.source_field(query.of, query.field)
        result_spec = aggregate_result_spec(aggregate, measured)
        measure: Callable[[_Row], object]
        if measured is not None:
            measured_type = measured.type

            def measure(row: _Row) -> object:
                return _view(_row_value(row, measured.name), measured_type)
        else:
            measure = _row_time
        # Any: values are all of one comparison type (see _view), which mypy cannot see through `measure`.
        values: list[Any] = [value for value in map(measure, rows) if value is not None]
        result: object
        match aggregate:
            case Aggregate.COUNT:
                result = len(rows)
            case Aggregate.SUM:
                # Sum over no rows is 0, as total_spent is for a fan with no orders.
                result = sum(values, Decimal(0) if result_spec.type is FieldType.MONEY else 0)
            case Aggregate.MIN | Aggregate.FIRST:
                result = min(values, default=None)
            case Aggregate.MAX | Aggregate.LAST:
                result = max(values, default=None)
            case _:
                assert_never(aggregate)
        return _compare(result, spec=result_spec, op=condition.op, value=condition.value, now=self.now)


def holds_without_rows(condition: BehaviourCondition, *, now: datetime, catalogue: Catalogue = CORE_CATALOGUE) -> bool:
    """Whether a behaviour condition holds for a fan with no rows at all (count 0, sum 0, min/max/first/last
    missing): ``count(…) = 0`` does, ``count(…) >= 2`` does not. Set-based compilers decide from it whether a fan
    absent from an aggregate's groups matches."""
    return _Evaluator(FanSnapshot(), now=now, catalogue=catalogue).behaviour(condition)


def evaluate(rule: Rule, fan: FanSnapshot, *, now: datetime, catalogue: Catalogue = CORE_CATALOGUE) -> bool:
    """Whether ``fan`` matches the (validated) ``rule`` at ``now``.

    ``catalogue`` must declare the custom fields the rule mentions (the same one the rule was validated with).
    """
    return _Evaluator(fan, now=now, catalogue=catalogue).rule(rule)
