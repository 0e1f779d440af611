"""Hypothesis strategies for rules, shared by the core round-trip tests and the SQL-vs-Python cross-check.

``rules()`` generates *valid, canonical* rules (``validate_rule(rule, catalogue=CATALOGUE,
references=REFERENCES) == rule``) over the core fan fields, one custom field of each type (``CUSTOM_FIELDS``),
the tags ``TAG_NAMES``, the lists ``LIST_NAMES``, the segments ``SEGMENT_NAMES`` and behaviour over orders,
refunds and events with windows, nested at most ``max_depth`` groups deep. Operators come from the operator
table, so a new operator is generated as soon as it has a row.
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal

from hypothesis import strategies as st

from fanbase.core.fields import MEASURING_AGGREGATES
from fanbase.core.fields import SOURCE_FIELDS
from fanbase.core.fields import Aggregate
from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.core.fields import ListStatus
from fanbase.core.fields import Source
from fanbase.core.fields import aggregate_result_spec
from fanbase.core.fields import property_spec
from fanbase.core.operators import Op
from fanbase.core.operators import Operator
from fanbase.core.operators import RuleValue
from fanbase.core.operators import Scalar
from fanbase.core.operators import ValueShape
from fanbase.core.operators import operators_for
from fanbase.core.rules import BEHAVIOUR_CLASSES
from fanbase.core.rules import AllOf
from fanbase.core.rules import AnyOf
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
from fanbase.core.time import RelativeTime
from fanbase.core.time import TimePoint
from fanbase.core.time import TimeUnit
from fanbase.core.validation import References

TAG_NAMES = ("VIP", "Early Bird", "Merch Fan")
LIST_NAMES = ("Fan Club", "Newsletter")
SEGMENT_NAMES = ("Refund Abusers",)
PROPERTY_KEYS = ("city", "seats", "vip", "price")

CUSTOM_FIELDS = (
    FieldSpec(name="shoe_size", type=FieldType.NUMBER),
    FieldSpec(name="monthly_budget", type=FieldType.MONEY),
    FieldSpec(name="favourite_genre", type=FieldType.ENUM, choices=("rock", "pop", "hip hop", "Jazz")),
    FieldSpec(name="vip_since", type=FieldType.DATETIME),
    FieldSpec(name="newsletter_opt_in", type=FieldType.BOOLEAN),
    FieldSpec(name="nickname", type=FieldType.TEXT),
)
CATALOGUE = Catalogue(custom_fields=CUSTOM_FIELDS)
REFERENCES = References(tags=TAG_NAMES, lists=LIST_NAMES, segments=dict.fromkeys(SEGMENT_NAMES, ()))

_FRAGMENT_OPS = (Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH)

# Texts that exercise folding and substring edges, plus arbitrary text.
texts = st.one_of(
    st.sampled_from(["merch", "Merch", "MERCH", "FR", "fr", "Paris", "@gmail", "gig_attended", "é", "É", "a%b_", ""]),
    st.text(max_size=8),
)
fragments = texts.filter(bool)
money = st.decimals(min_value=-1000, max_value=100_000, places=2)
numbers = st.one_of(
    st.integers(min_value=-1000, max_value=1000), st.decimals(min_value=-1000, max_value=1000, places=2)
)
instants = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)).map(
    lambda moment: moment.astimezone(UTC)
)
dates = st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31))
units = st.sampled_from(TimeUnit)
durations = st.builds(Duration, st.integers(min_value=1, max_value=400), units)
relative_times = st.builds(RelativeTime, st.integers(min_value=1, max_value=400), units)
time_points: st.SearchStrategy[TimePoint] = st.one_of(dates, instants, relative_times)


def _ordered_numbers(values: st.SearchStrategy[int | Decimal]) -> st.SearchStrategy[tuple[int | Decimal, ...]]:
    return st.tuples(values, values).map(lambda pair: tuple(sorted(pair)))


def _ordered_time_points() -> st.SearchStrategy[tuple[TimePoint, TimePoint]]:
    def absolute_pair(pair: tuple[datetime | date, datetime | date]) -> tuple[TimePoint, TimePoint]:
        def key(point: datetime | date) -> datetime:
            if isinstance(point, datetime):
                return point
            return datetime(point.year, point.month, point.day, tzinfo=UTC)

        low, high = sorted(pair, key=key)
        return low, high

    def relative_pair(pair: tuple[RelativeTime, RelativeTime]) -> tuple[TimePoint, TimePoint]:
        low, high = sorted(pair, key=lambda point: point.duration.length, reverse=True)
        return low, high

    absolute = st.one_of(dates, instants)
    return st.one_of(
        st.tuples(absolute, absolute).map(absolute_pair),
        st.tuples(relative_times, relative_times).map(relative_pair),
    )


def _scalars(spec: FieldSpec, op: Op) -> st.SearchStrategy[Scalar]:
    match spec.type:
        case FieldType.TEXT:
            return fragments if op in _FRAGMENT_OPS else texts
        case FieldType.NUMBER:
            return st.integers(min_value=0, max_value=500) if spec.is_integer else numbers
        case FieldType.MONEY:
            return money
        case FieldType.ENUM:
            return st.sampled_from(spec.choices)
        case FieldType.BOOLEAN:
            return st.booleans()
        case FieldType.ANY:
            if op in _FRAGMENT_OPS:
                return fragments
            if op in (Op.EQ, Op.NE):
                return st.one_of(texts, numbers, st.booleans())
            return numbers
        case FieldType.DATETIME:
            raise AssertionError("datetimes take no scalar")


def values_for(spec: FieldSpec, operator: Operator) -> st.SearchStrategy[RuleValue]:
    match operator.shape:
        case ValueShape.NONE:
            return st.none()
        case ValueShape.SCALAR:
            return _scalars(spec, operator.op)
        case ValueShape.LIST:
            return st.lists(_scalars(spec, operator.op), min_size=1, max_size=3, unique=True).map(
                lambda items: tuple(items)
            )
        case ValueShape.RANGE:
            if spec.type is FieldType.DATETIME:
                return _ordered_time_points()
            if spec.type is FieldType.MONEY:
                return _ordered_numbers(money)
            if spec.type is FieldType.NUMBER and spec.is_integer:
                return _ordered_numbers(st.integers(min_value=0, max_value=500))
            return _ordered_numbers(numbers)
        case ValueShape.TIME_POINT:
            return time_points
        case ValueShape.RELATIVE_TIME:
            return relative_times
        case ValueShape.DURATION:
            return durations


def comparisons(spec: FieldSpec) -> st.SearchStrategy[tuple[Op, RuleValue]]:
    """An operator the field's type allows, with a valid value for it."""
    return st.sampled_from(operators_for(spec.type)).flatmap(
        lambda operator: values_for(spec, operator).map(lambda value: (operator.op, value))
    )


def field_conditions(specs: tuple[FieldSpec, ...]) -> st.SearchStrategy[FieldCondition]:
    return st.sampled_from(specs).flatmap(
        lambda spec: comparisons(spec).map(lambda pair: FieldCondition(field=spec.name, op=pair[0], value=pair[1]))
    )


def _source_specs(source: Source) -> tuple[FieldSpec, ...]:
    extra = tuple(property_spec(key) for key in PROPERTY_KEYS) if source is Source.EVENTS else ()
    return SOURCE_FIELDS[source] + extra


def wheres(source: Source, *, max_depth: int = 2) -> st.SearchStrategy[Where]:
    leaves: st.SearchStrategy[Where] = field_conditions(_source_specs(source))
    if max_depth == 0:
        return leaves
    children = wheres(source, max_depth=max_depth - 1)
    return st.one_of(
        leaves,
        st.lists(children, min_size=1, max_size=3).map(lambda items: WhereAllOf(conditions=tuple(items))),
        st.lists(children, min_size=1, max_size=3).map(lambda items: WhereAnyOf(conditions=tuple(items))),
        children.map(lambda item: WhereNot(condition=item)),
    )


def _aggregates_for(source: Source) -> list[Aggregate]:
    # Events have no numeric field, so only orders and refunds can be summed.
    if source is Source.EVENTS:
        return [aggregate for aggregate in Aggregate if aggregate not in MEASURING_AGGREGATES]
    return list(Aggregate)


@st.composite
def behaviours(draw: st.DrawFn) -> BehaviourCondition:
    source = draw(st.sampled_from(Source))
    aggregate = draw(st.sampled_from(_aggregates_for(source)))
    measured = CATALOGUE.source_field(source, "amount") if aggregate in MEASURING_AGGREGATES else None
    window = draw(st.sampled_from(["none", "within", "between"]))
    query = BehaviourQuery(
        of=source,
        field=None if measured is None else measured.name,
        where=draw(st.none() | wheres(source)),
        within=draw(durations) if window == "within" else None,
        between=draw(_ordered_time_points()) if window == "between" else None,
    )
    op, value = draw(comparisons(aggregate_result_spec(aggregate, measured)))
    return BEHAVIOUR_CLASSES[aggregate].model_validate({aggregate.value: query, "op": op, "value": value})


@st.composite
def event_type_counts(draw: st.DrawFn) -> BehaviourCondition:
    """ "At least / fewer than n events of one type (in the last W)": the shape the set form answers from each fan's
    latest event times (``fan_latest_events``) for n up to what it keeps, and from the events beyond that."""
    query = BehaviourQuery(
        of=Source.EVENTS,
        where=FieldCondition(field="type", op=Op.EQ, value=draw(st.sampled_from(("gig_attended", "email_opened")))),
        within=draw(st.none() | durations),
    )
    op = draw(st.sampled_from((Op.GE, Op.GT, Op.LT, Op.LE, Op.EQ)))
    return BEHAVIOUR_CLASSES[Aggregate.COUNT].model_validate(
        {"count": query, "op": op, "value": draw(st.integers(min_value=0, max_value=4))}
    )


def leaf_rules() -> st.SearchStrategy[Rule]:
    return st.one_of(
        field_conditions(CATALOGUE.fan_fields),
        st.sampled_from(TAG_NAMES).map(lambda name: HasTag(tag=name)),
        st.builds(
            lambda name, status: InList(list_name=name, status=status),
            st.sampled_from(LIST_NAMES),
            st.sampled_from(ListStatus),
        ),
        st.sampled_from(SEGMENT_NAMES).map(lambda name: InSegment(segment=name)),
        behaviours(),
        event_type_counts(),
    )


def rules(*, max_depth: int = 3) -> st.SearchStrategy[Rule]:
    """Valid canonical rules, groups nested at most ``max_depth`` deep, groups of 1 to 4 members."""
    leaves = leaf_rules()
    if max_depth == 0:
        return leaves
    children = rules(max_depth=max_depth - 1)
    return st.one_of(
        leaves,
        st.lists(children, min_size=1, max_size=4).map(lambda items: AllOf(rules=tuple(items))),
        st.lists(children, min_size=1, max_size=4).map(lambda items: AnyOf(rules=tuple(items))),
        children.map(lambda item: Not(rule=item)),
    )
