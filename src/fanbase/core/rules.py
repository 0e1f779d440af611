"""The rule tree (frozen, typed, tagged pydantic models), its JSON face, builders, and validation.

JSON face (``rule_to_json`` / ``parse_rule_json``; the key that is present says what a node is)::

    {"all": [rule, ...]}                      AllOf          {"any": [rule, ...]}             AnyOf
    {"not": rule}                             Not
    {"field": "total_spent", "op": ">", "value": 100}                                        FieldCondition
    {"tag": "VIP"}                            HasTag         {"segment": "Refund Abusers"}    InSegment
    {"list": "Fan Club", "status": "subscribed"}   InList (status: subscribed | unsubscribed | bounced | any;
                                                   absent means subscribed)
    {"count": {"of": "orders", "where": filter, "within": "365 days"}, "op": ">=", "value": 2}      CountOf
    {"sum": {"of": "orders", "field": "amount", "between": ["2024-01-01", "2024-06-30"]},
     "op": ">", "value": 100}                 SumOf (also MinOf "min", MaxOf "max")
    {"last": {"of": "events", "where": {"field": "type", "op": "=", "value": "gig_attended"}},
     "op": "within_last", "value": "30 days"}  LastOf (also FirstOf "first")

A ``where`` filter is a tree of ``{"all": …}``, ``{"any": …}``, ``{"not": …}`` and field conditions on the
source's fields (``amount currency category product placed_at`` for orders and refunds, ``type occurred_at
properties.<key>`` for events). Windows: ``"within": "N units"`` (the last N units up to now) or
``"between": [A, B]`` (absolute or relative time points), or neither for all time.

Values in JSON: numbers (money may also be a string such as ``"100.50"``), strings, booleans, lists for
``in``/``not_in``, ``[low, high]`` for ``between``, ``"2024-01-31"`` dates, ``"2024-01-31T18:00:00Z"`` UTC
datetimes, ``"30 days ago"`` relative times and ``"30 days"`` durations (units: hours, days, weeks, months; a
month is 30 days). ``rule_to_json`` writes money and other decimals as JSON numbers: validation keeps them to 15
significant digits, which a double holds exactly, so the JSON round trip is exact.

``parse_rule_json`` checks structure only (any field name, any tag). ``validate_rule`` checks a rule against a
workspace's ``Catalogue`` and ``References`` and returns it in canonical form (money as ``Decimal``, enum values in
their declared spelling). Downstream code (evaluator, SQL compiler, describe) expects validated rules.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, TypeAlias, assert_never

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from fanbase.core.fields import (
    MEASURING_AGGREGATES,
    Aggregate,
    Catalogue,
    FieldSpec,
    FieldType,
    ListStatus,
    Source,
    aggregate_result_spec,
)
from fanbase.core.operators import OPERATORS, Op, RuleValue, Scalar, ValueShape, operators_for
from fanbase.core.time import (
    Duration,
    RelativeTime,
    TimePoint,
    first_instant,
    format_time_point,
    is_time_point,
    last_instant,
    parse_time_point,
)
from fanbase.errors import InvalidRule, RuleError

# Money and decimals survive JSON (a double) exactly up to 15 significant digits; beyond that we refuse.
MAX_SIGNIFICANT_DIGITS = 15
# Below 10^13 major units, cents fit a 64-bit integer and the amount keeps its 15 digits.
MAX_MONEY = Decimal(10) ** 13
MAX_NAME_LENGTH = 200

_NUMERIC_TEXT_RE = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


# --------------------------------------------------------------------------------------------------------------
# Values: JSON/text spelling → typed Python values, decided by the operator's value shape alone.
# --------------------------------------------------------------------------------------------------------------


def _json_scalar(raw: object) -> Scalar:
    if isinstance(raw, bool | int | str):
        return raw
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ValueError("numbers must be finite")
        # repr gives the shortest decimal that reads back as the same double: 100.5 → Decimal("100.5").
        return Decimal(repr(raw))
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            raise ValueError("numbers must be finite")
        return raw
    raise ValueError(f"expected a text, a number or true/false, got {_describe_input(raw)}")


def _range_item(raw: object) -> Scalar | TimePoint:
    if is_time_point(raw):
        return parse_time_point(raw)
    if isinstance(raw, str):
        try:
            return parse_time_point(raw)
        except ValueError:
            return raw  # perhaps a money amount such as "10.50"; validation decides.
    return _json_scalar(raw)


def _describe_input(raw: object) -> str:
    match raw:
        case None:
            return "nothing"
        case list() | tuple():
            return "a list"
        case dict():
            return "an object"
        case _:
            return repr(raw)


def parse_value(shape: ValueShape, raw: object) -> RuleValue:
    """A rule value from its JSON (or already typed) form; the operator's shape says what to expect."""
    match shape:
        case ValueShape.NONE:
            if raw is not None:
                raise ValueError("this operator takes no value")
            return None
        case ValueShape.SCALAR:
            if raw is None:
                raise ValueError("this operator needs a value")
            return _json_scalar(raw)
        case ValueShape.LIST:
            if not isinstance(raw, list | tuple) or not raw:
                raise ValueError(f"expected a non-empty list of values, got {_describe_input(raw)}")
            return tuple(_json_scalar(item) for item in raw)
        case ValueShape.RANGE:
            if not isinstance(raw, list | tuple) or len(raw) != 2:
                raise ValueError(f"expected [low, high], got {_describe_input(raw)}")
            return _range_item(raw[0]), _range_item(raw[1])
        case ValueShape.TIME_POINT:
            return parse_time_point(raw)
        case ValueShape.RELATIVE_TIME:
            return RelativeTime.parse(raw)
        case ValueShape.DURATION:
            return Duration.parse(raw)
        case _:
            assert_never(shape)


def value_to_json(value: RuleValue) -> JsonValue:
    match value:
        case None | bool() | int() | str():
            return value
        case Decimal():
            # Integral decimals are written as JSON integers ("100", not "100.0").
            return int(value) if value == value.to_integral_value() else float(value)
        case datetime() | date() | RelativeTime():
            return format_time_point(value)
        case Duration():
            return str(value)
        case tuple():
            return [value_to_json(item) for item in value]
        case _:
            assert_never(value)


_VALUE_JSON_SCHEMA: dict[str, Any] = {
    "description": (
        "Depends on op: nothing (is_set…), a text/number/boolean (= > contains…), a list (in, not_in), "
        "[low, high] (between), a date, UTC datetime or 'N days ago' (before, after), "
        "'N days ago' (more_than) or 'N days' (within_last)."
    ),
    "anyOf": [
        {"type": "null"},
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}},
    ],
}

ConditionValue = Annotated[RuleValue, WithJsonSchema(_VALUE_JSON_SCHEMA)]
TimePointValue = Annotated[
    TimePoint,
    PlainValidator(parse_time_point),
    PlainSerializer(format_time_point, when_used="json"),
    WithJsonSchema({"type": "string", "description": "a date, a UTC datetime or 'N days ago'"}),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=r"\S")]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH)]


def reference_key(name: str) -> str:
    """How tag, list and segment names are matched: case-insensitively, ignoring surrounding spaces."""
    return name.strip().casefold()


# --------------------------------------------------------------------------------------------------------------
# The tree.
# --------------------------------------------------------------------------------------------------------------


class _Node(BaseModel):
    # Field names are what Python code uses; aliases are the JSON keys ("all", "not", "list").
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class _ComparesValue(_Node):
    """A node with ``op`` and ``value``: the value is read according to the operator's shape."""

    @field_validator("value", mode="plain", check_fields=False)
    @classmethod
    def _parse_value_for_op(cls, raw: object, info: ValidationInfo) -> RuleValue:
        op = info.data.get("op")
        if not isinstance(op, Op):
            return None  # the op's own error is reported
        return parse_value(OPERATORS[op].shape, raw)

    @field_serializer("value", when_used="json", check_fields=False)
    def _value_as_json(self, value: RuleValue) -> JsonValue:
        return value_to_json(value)


class FieldCondition(_ComparesValue):
    """``field op value`` on a fan field, or (inside a ``where``) on an order/event field."""

    field: FieldName
    op: Op
    value: ConditionValue = Field(default=None, validate_default=True)


class HasTag(_Node):
    tag: Name


class InList(_Node):
    list_name: Name = Field(alias="list")
    status: ListStatus = ListStatus.SUBSCRIBED


class InSegment(_Node):
    """Membership of another segment, read from its stored membership (never re-evaluated recursively)."""

    segment: Name


class WhereAllOf(_Node):
    conditions: tuple[Where, ...] = Field(alias="all")


class WhereAnyOf(_Node):
    conditions: tuple[Where, ...] = Field(alias="any")


class WhereNot(_Node):
    condition: Where = Field(alias="not")


class BehaviourQuery(_Node):
    """Which rows an aggregate reads: a source, a field (sum/min/max only), a filter and a window."""

    of: Source
    field: FieldName | None = None
    where: Where | None = None
    within: Duration | None = None
    between: tuple[TimePointValue, TimePointValue] | None = None

    @model_validator(mode="after")
    def _one_window(self) -> BehaviourQuery:
        if self.within is not None and self.between is not None:
            raise ValueError("give either 'within' or 'between', not both")
        return self


class BehaviourAggregate(_ComparesValue):
    """A behaviour condition: an aggregate over a fan's orders or events, compared with ``op`` and ``value``.

    Each subclass names its query by its aggregate (``{"count": {…}}``), so the JSON keys stay the aggregates'.
    Walkers match this class once instead of the six kinds."""

    aggregate: ClassVar[Aggregate]

    @property
    def query(self) -> BehaviourQuery:
        query = getattr(self, self.aggregate.value)
        assert isinstance(query, BehaviourQuery)
        return query


class CountOf(BehaviourAggregate):
    aggregate: ClassVar[Aggregate] = Aggregate.COUNT
    count: BehaviourQuery
    op: Op
    value: ConditionValue = Field(default=None, validate_default=True)


class SumOf(BehaviourAggregate):
    aggregate: ClassVar[Aggregate] = Aggregate.SUM
    sum: BehaviourQuery
    op: Op
    value: ConditionValue = Field(default=None, validate_default=True)


class MinOf(BehaviourAggregate):
    aggregate: ClassVar[Aggregate] = Aggregate.MIN
    min: BehaviourQuery
    op: Op
    value: ConditionValue = Field(default=None, validate_default=True)


class MaxOf(BehaviourAggregate):
    aggregate: ClassVar[Aggregate] = Aggregate.MAX
    max: BehaviourQuery
    op: Op
    value: ConditionValue = Field(default=None, validate_default=True)


class FirstOf(BehaviourAggregate):
    aggregate: ClassVar[Aggregate] = Aggregate.FIRST
    first: BehaviourQuery
    op: Op
    value: ConditionValue = Field(default=None, validate_default=True)


class LastOf(BehaviourAggregate):
    aggregate: ClassVar[Aggregate] = Aggregate.LAST
    last: BehaviourQuery
    op: Op
    value: ConditionValue = Field(default=None, validate_default=True)


class AllOf(_Node):
    rules: tuple[Rule, ...] = Field(alias="all")


class AnyOf(_Node):
    rules: tuple[Rule, ...] = Field(alias="any")


class Not(_Node):
    rule: Rule = Field(alias="not")


BehaviourCondition: TypeAlias = CountOf | SumOf | MinOf | MaxOf | FirstOf | LastOf
BEHAVIOUR_CLASSES: dict[Aggregate, type[BehaviourCondition]] = {
    cls.aggregate: cls for cls in (CountOf, SumOf, MinOf, MaxOf, FirstOf, LastOf)
}

# The JSON key that identifies each node kind, in the order they are looked for.
_RULE_KEYS: dict[str, type[BaseModel]] = {
    "all": AllOf,
    "any": AnyOf,
    "not": Not,
    "field": FieldCondition,
    "tag": HasTag,
    "list": InList,
    "segment": InSegment,
    **{aggregate.value: cls for aggregate, cls in BEHAVIOUR_CLASSES.items()},
}
_WHERE_KEYS: dict[str, type[BaseModel]] = {
    "all": WhereAllOf,
    "any": WhereAnyOf,
    "not": WhereNot,
    "field": FieldCondition,
}
# Union tags are class names: they can never be mistaken for JSON keys when error locations are turned into paths.
_UNION_TAGS = frozenset(cls.__name__ for cls in (*_RULE_KEYS.values(), *_WHERE_KEYS.values()))


def _tagger(keys: Mapping[str, type[BaseModel]]) -> Any:
    classes = {cls.__name__ for cls in keys.values()}

    def tag_of(value: object) -> str | None:
        if isinstance(value, dict):
            return next((cls.__name__ for key, cls in keys.items() if key in value), None)
        name = type(value).__name__
        return name if name in classes else None

    return tag_of


def _expected_keys(keys: Mapping[str, type[BaseModel]]) -> str:
    return ", ".join(repr(key) for key in keys)


Rule: TypeAlias = Annotated[
    Annotated[AllOf, Tag("AllOf")]
    | Annotated[AnyOf, Tag("AnyOf")]
    | Annotated[Not, Tag("Not")]
    | Annotated[FieldCondition, Tag("FieldCondition")]
    | Annotated[HasTag, Tag("HasTag")]
    | Annotated[InList, Tag("InList")]
    | Annotated[InSegment, Tag("InSegment")]
    | Annotated[CountOf, Tag("CountOf")]
    | Annotated[SumOf, Tag("SumOf")]
    | Annotated[MinOf, Tag("MinOf")]
    | Annotated[MaxOf, Tag("MaxOf")]
    | Annotated[FirstOf, Tag("FirstOf")]
    | Annotated[LastOf, Tag("LastOf")],
    Discriminator(
        _tagger(_RULE_KEYS),
        custom_error_type="rule_kind",
        custom_error_message=f"expected a condition: an object with one of the keys {_expected_keys(_RULE_KEYS)}",
    ),
]

Where: TypeAlias = Annotated[
    Annotated[WhereAllOf, Tag("WhereAllOf")]
    | Annotated[WhereAnyOf, Tag("WhereAnyOf")]
    | Annotated[WhereNot, Tag("WhereNot")]
    | Annotated[FieldCondition, Tag("FieldCondition")],
    Discriminator(
        _tagger(_WHERE_KEYS),
        custom_error_type="where_kind",
        custom_error_message=f"expected a filter: an object with one of the keys {_expected_keys(_WHERE_KEYS)}",
    ),
]

# For isinstance checks: a Rule is an instance of one of these.
_RuleClasses = AllOf | AnyOf | Not | FieldCondition | HasTag | InList | InSegment | BehaviourCondition

for _model in (WhereAllOf, WhereAnyOf, WhereNot, BehaviourQuery, *BEHAVIOUR_CLASSES.values(), AllOf, AnyOf, Not):
    _model.model_rebuild()

RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)
WHERE_ADAPTER: TypeAdapter[Where] = TypeAdapter(Where)


# --------------------------------------------------------------------------------------------------------------
# JSON face.
# --------------------------------------------------------------------------------------------------------------


def parse_rule_json(data: object) -> Rule:
    """A rule from its JSON form (a parsed object, or JSON text). Structure only; see ``validate_rule``.

    Raises ``InvalidRule`` whose errors name paths such as ``all[2].count.where.op``.
    """
    try:
        if isinstance(data, str | bytes):
            return RULE_ADAPTER.validate_json(data)
        return RULE_ADAPTER.validate_python(data)
    except ValidationError as error:
        raise InvalidRule(rule_errors_from_validation(error)) from None


def rule_to_json(rule: Rule) -> dict[str, JsonValue]:
    dumped = RULE_ADAPTER.dump_python(rule, mode="json", exclude_none=True)
    assert isinstance(dumped, dict)
    return dumped


def rule_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rule (recursive, with ``$defs``), for OpenAPI."""
    return RULE_ADAPTER.json_schema()


def format_path(location: Iterable[str | int]) -> str:
    path = ""
    for step in location:
        if isinstance(step, int):
            path += f"[{step}]"
        else:
            path = f"{path}.{step}" if path else step
    return path


def _friendly_message(error: ErrorDetails) -> str:
    context = error.get("ctx") or {}
    match error["type"]:
        case "missing":
            return "is required"
        case "extra_forbidden":
            return "is not a known key here"
        case "enum":
            return f"must be one of {context.get('expected', '')}, got {error['input']!r}"
        case "value_error":
            return str(context.get("error", error["msg"]))
        case "string_too_short" | "string_pattern_mismatch":
            return "must not be empty"
        case "string_type":
            return f"must be a text, got {_describe_input(error['input'])}"
        case "tuple_type" | "list_type":
            return f"must be a list, got {_describe_input(error['input'])}"
        case "model_type" | "model_attributes_type" | "dict_type":
            return f"must be an object, got {_describe_input(error['input'])}"
        case _:
            return error["msg"]


def rule_errors_from_validation(error: ValidationError) -> list[RuleError]:
    """Pydantic's errors as path-named ``RuleError``s (union tags removed from the locations)."""
    errors: list[RuleError] = []
    for detail in error.errors(include_url=False):
        location = [step for step in detail["loc"] if not (isinstance(step, str) and step in _UNION_TAGS)]
        errors.append(RuleError(format_path(location), _friendly_message(detail)))
    return errors


# --------------------------------------------------------------------------------------------------------------
# Builders: a readable, hypothesis-free way to make rules in code and tests.
# --------------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------------
# Validation against a workspace.
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class References:
    """What a rule may refer to in its workspace.

    ``segments`` maps every segment's name to the names of the segments its rule refers to directly (a static
    segment refers to none). ``current_segment`` is the segment whose rule is being validated, if any, so that a
    reference leading back to it is reported as a cycle. All names are matched with ``reference_key``.
    """

    tags: Collection[str] = ()
    lists: Collection[str] = ()
    segments: Mapping[str, Collection[str]] = field(default_factory=dict)
    current_segment: str | None = None


class _Invalid(Exception):
    """A problem with one part of a rule, raised while coercing and caught to become a RuleError."""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _number(spec: FieldSpec, value: object) -> int | Decimal:
    if isinstance(value, str) and _NUMERIC_TEXT_RE.match(value):
        value = Decimal(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _Invalid(f"expected a number for {spec.name}, got {_describe_input(value)}")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _Invalid("numbers must be finite")
        if value == value.to_integral_value():
            value = int(value)
        elif len(value.normalize().as_tuple().digits) > MAX_SIGNIFICANT_DIGITS:
            raise _Invalid(f"numbers are limited to {MAX_SIGNIFICANT_DIGITS} significant digits")
    if spec.is_integer and not isinstance(value, int):
        raise _Invalid(f"{spec.name} is a whole number, got {value}")
    return value


def _money(spec: FieldSpec, value: object) -> Decimal:
    if isinstance(value, str) and _NUMERIC_TEXT_RE.match(value):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the regex only lets decimals through
            raise _Invalid(f"{value!r} is not an amount") from None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _Invalid(f"expected an amount of money for {spec.name}, got {_describe_input(value)}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise _Invalid("amounts must be finite")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise _Invalid(f"amounts have at most 2 decimal places, got {amount}")
    if abs(amount) >= MAX_MONEY:
        raise _Invalid(f"amounts must be below {MAX_MONEY:,}")
    return amount


def _text(spec: FieldSpec, value: object, *, is_fragment: bool) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a text for {spec.name}, got {_describe_input(value)}")
    if is_fragment and not value:
        raise _Invalid("the text to look for must not be empty")
    return value


def _enum_choice(spec: FieldSpec, value: object) -> str:
    if isinstance(value, str) and (choice := spec.choice_named(value)) is not None:
        return choice
    raise _Invalid(f"{spec.name} is one of {', '.join(spec.choices)}; got {_describe_input(value)}")


_FRAGMENT_OPS = frozenset({Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH})
_ORDERING_OPS = frozenset({Op.GT, Op.GE, Op.LT, Op.LE, Op.BETWEEN})


def _scalar_for(spec: FieldSpec, op: Op, value: object) -> Scalar:
    match spec.type:
        case FieldType.TEXT:
            return _text(spec, value, is_fragment=op in _FRAGMENT_OPS)
        case FieldType.NUMBER:
            return _number(spec, value)
        case FieldType.MONEY:
            return _money(spec, value)
        case FieldType.ENUM:
            return _enum_choice(spec, value)
        case FieldType.BOOLEAN:
            if not isinstance(value, bool):
                raise _Invalid(f"expected true or false for {spec.name}, got {_describe_input(value)}")
            return value
        case FieldType.ANY:
            # A property is compared according to the value's own JSON type (see operators.py).
            if op in _FRAGMENT_OPS:
                return _text(spec, value, is_fragment=True)
            if op in _ORDERING_OPS or (not isinstance(value, str | bool)):
                if isinstance(value, str):
                    raise _Invalid(f"{op} compares numbers; got {value!r}")
                return _number(spec, value)
            return value
        case FieldType.DATETIME:
            raise _Invalid(f"{spec.name} is a time: compare it with before, after, between, within_last, more_than")
        case _:
            assert_never(spec.type)


_ANY_NOW = datetime(2000, 1, 1, tzinfo=UTC)  # absolute points do not depend on now; any aware instant will do


def _check_time_range(low: TimePoint, high: TimePoint) -> None:
    if isinstance(low, RelativeTime) and isinstance(high, RelativeTime):
        if low.duration.length < high.duration.length:
            raise _Invalid(f"the range is empty: {low} is after {high}")
    elif (
        not isinstance(low, RelativeTime)
        and not isinstance(high, RelativeTime)
        and first_instant(low, now=_ANY_NOW) > last_instant(high, now=_ANY_NOW)
    ):
        raise _Invalid(f"the range is empty: {format_time_point(low)} is after {format_time_point(high)}")


def _time_range(value: object) -> tuple[TimePoint, TimePoint]:
    if not (isinstance(value, tuple) and len(value) == 2 and all(is_time_point(item) for item in value)):
        raise _Invalid("expected two dates, UTC datetimes or relative times such as '30 days ago'")
    low, high = parse_time_point(value[0]), parse_time_point(value[1])
    _check_time_range(low, high)
    return low, high


def _value_for(spec: FieldSpec, op: Op, value: RuleValue) -> RuleValue:
    """The canonical value for ``spec op value``, or ``_Invalid``."""
    shape = OPERATORS[op].shape
    match shape:
        case ValueShape.NONE | ValueShape.TIME_POINT | ValueShape.RELATIVE_TIME | ValueShape.DURATION:
            return value  # already typed by the model; the operator row guarantees a datetime field
        case ValueShape.SCALAR:
            return _scalar_for(spec, op, value)
        case ValueShape.LIST:
            assert isinstance(value, tuple)
            return tuple(_scalar_for(spec, op, item) for item in value)
        case ValueShape.RANGE:
            if spec.type is FieldType.DATETIME:
                return _time_range(value)
            assert isinstance(value, tuple) and len(value) == 2
            low, high = (_scalar_for(spec, op, item) for item in value)
            assert not isinstance(low, str | bool) and not isinstance(high, str | bool)
            if low > high:
                raise _Invalid(f"the range is empty: {low} is more than {high}")
            return low, high
        case _:
            assert_never(shape)


_SOURCE_NOUNS: dict[Source, str] = {Source.ORDERS: "order", Source.REFUNDS: "order", Source.EVENTS: "event"}


class _Validator:
    def __init__(self, *, catalogue: Catalogue, references: References) -> None:
        self.catalogue = catalogue
        self.errors: list[RuleError] = []
        self.tags = {reference_key(name) for name in references.tags}
        self.lists = {reference_key(name) for name in references.lists}
        self.segment_names = {reference_key(name): name for name in references.segments}
        self.segment_graph = {
            reference_key(name): [reference_key(target) for target in targets]
            for name, targets in references.segments.items()
        }
        self.current_segment = references.current_segment
        if self.current_segment is not None:
            self.segment_names.setdefault(reference_key(self.current_segment), self.current_segment)

    def fail(self, path: str, message: str) -> None:
        self.errors.append(RuleError(path, message))

    def rule(self, rule: Rule, path: str) -> Rule:
        match rule:
            case AllOf(rules=children) | AnyOf(rules=children):
                key = "all" if isinstance(rule, AllOf) else "any"
                if not children:
                    self.fail(_join(path, key), f"an '{key}' group needs at least one condition")
                checked = tuple(
                    self.rule(child, f"{_join(path, key)}[{index}]") for index, child in enumerate(children)
                )
                return rule.model_copy(update={"rules": checked})
            case Not(rule=child):
                return rule.model_copy(update={"rule": self.rule(child, _join(path, "not"))})
            case FieldCondition():
                spec = self.catalogue.fan_field(rule.field)
                if spec is None:
                    self.fail(_join(path, "field"), f"unknown field {rule.field!r}")
                    return rule
                return rule.model_copy(update={"value": self.compared_value(spec, rule.op, rule.value, path)})
            case HasTag(tag=name):
                if reference_key(name) not in self.tags:
                    self.fail(_join(path, "tag"), f"unknown tag {name!r}")
                return rule
            case InList(list_name=name):
                if reference_key(name) not in self.lists:
                    self.fail(_join(path, "list"), f"unknown list {name!r}")
                return rule
            case InSegment(segment=name):
                self.segment(name, _join(path, "segment"))
                return rule
            case BehaviourAggregate():
                return self.behaviour(rule, path)
            case _:
                assert_never(rule)

    def segment(self, name: str, path: str) -> None:
        key = reference_key(name)
        if key not in self.segment_graph and (
            self.current_segment is None or key != reference_key(self.current_segment)
        ):
            self.fail(path, f"unknown segment {name!r}")
            return
        if self.current_segment is None:
            return
        cycle = self.path_back_to_current(key)
        if cycle is not None:
            current = self.current_segment
            chain = " → ".join([current, *(self.segment_names.get(step, step) for step in cycle)])
            self.fail(path, f"segment {name!r} would make a cycle: {chain}")

    def path_back_to_current(self, start: str) -> list[str] | None:
        """The chain of segment keys from ``start`` back to the current segment, if there is one."""
        assert self.current_segment is not None
        target = reference_key(self.current_segment)
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack:
            key, chain = stack.pop()
            if key == target:
                return chain
            if key in seen:
                continue
            seen.add(key)
            # The current segment's stored edges are being replaced by this rule: never walk them.
            stack.extend((next_key, [*chain, next_key]) for next_key in self.segment_graph.get(key, ()))
        return None

    def compared_value(self, spec: FieldSpec, op: Op, value: RuleValue, path: str) -> RuleValue:
        """The canonical value of ``spec op value`` (errors recorded; the value is returned unchanged then)."""
        operator = OPERATORS[op]
        if spec.type not in operator.field_types:
            allowed = ", ".join(row.keyword for row in operators_for(spec.type))
            self.fail(
                _join(path, "op"),
                f"operator '{op}' does not apply to {spec.type} field '{spec.name}' (use one of: {allowed})",
            )
            return value
        try:
            return _value_for(spec, op, value)
        except _Invalid as problem:
            self.fail(_join(path, "value"), str(problem))
            return value

    def behaviour(self, rule: BehaviourCondition, path: str) -> BehaviourCondition:
        aggregate, query = rule.aggregate, rule.query
        query_path = _join(path, aggregate.value)
        measured: FieldSpec | None = None
        if aggregate in MEASURING_AGGREGATES:
            if query.field is None:
                self.fail(_join(query_path, "field"), f"{aggregate} needs a field, e.g. amount")
            else:
                measured = self.catalogue.source_field(query.of, query.field)
                if measured is None:
                    self.fail(_join(query_path, "field"), f"unknown {_SOURCE_NOUNS[query.of]} field {query.field!r}")
                elif measured.type not in (FieldType.NUMBER, FieldType.MONEY):
                    self.fail(_join(query_path, "field"), f"{aggregate} needs a number or money field")
                    measured = None
        elif query.field is not None:
            self.fail(_join(query_path, "field"), f"{aggregate} takes no field")
        where = None if query.where is None else self.where(query.where, query.of, _join(query_path, "where"))
        if query.between is not None:
            try:
                _check_time_range(*query.between)
            except _Invalid as problem:
                self.fail(_join(query_path, "between"), str(problem))
        checked = rule.model_copy(update={aggregate.value: query.model_copy(update={"where": where})})
        if aggregate in MEASURING_AGGREGATES and measured is None:
            return checked
        value = self.compared_value(aggregate_result_spec(aggregate, measured), rule.op, rule.value, path)
        return checked.model_copy(update={"value": value})

    def where(self, where: Where, source: Source, path: str) -> Where:
        match where:
            case WhereAllOf(conditions=children) | WhereAnyOf(conditions=children):
                key = "all" if isinstance(where, WhereAllOf) else "any"
                if not children:
                    self.fail(_join(path, key), f"an '{key}' group needs at least one condition")
                checked = tuple(
                    self.where(child, source, f"{_join(path, key)}[{index}]") for index, child in enumerate(children)
                )
                return where.model_copy(update={"conditions": checked})
            case WhereNot(condition=child):
                return where.model_copy(update={"condition": self.where(child, source, _join(path, "not"))})
            case FieldCondition():
                spec = self.catalogue.source_field(source, where.field)
                if spec is None:
                    self.fail(_join(path, "field"), f"unknown {_SOURCE_NOUNS[source]} field {where.field!r}")
                    return where
                return where.model_copy(update={"value": self.compared_value(spec, where.op, where.value, path)})
            case _:
                assert_never(where)


def validate_rule(rule: object, *, catalogue: Catalogue, references: References) -> Rule:
    """The rule (a ``Rule`` or its JSON form) checked against a workspace, in canonical form.

    Refuses unknown fields, values of the wrong type, operators the field's type does not have, empty groups,
    unknown tags/lists/segments and segment cycles. Every problem is collected; raises ``InvalidRule``.
    """
    parsed = rule if isinstance(rule, _RuleClasses) else parse_rule_json(rule)
    validator = _Validator(catalogue=catalogue, references=references)
    checked = validator.rule(parsed, "")
    if validator.errors:
        raise InvalidRule(validator.errors)
    return checked
