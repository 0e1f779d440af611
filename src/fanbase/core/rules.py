"""The rule tree (frozen, typed, tagged pydantic models) and its JSON face.

Builders are in ``rule_builders``, value spelling in ``rule_values``, validation in ``validation``.

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

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Annotated
from typing import Any
from typing import ClassVar
from typing import TypeAlias

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Discriminator
from pydantic import Field
from pydantic import JsonValue
from pydantic import StringConstraints
from pydantic import Tag
from pydantic import TypeAdapter
from pydantic import ValidationError
from pydantic import ValidationInfo
from pydantic import field_serializer
from pydantic import field_validator
from pydantic import model_validator
from pydantic_core import ErrorDetails

from fanbase.core.fields import Aggregate
from fanbase.core.fields import ListStatus
from fanbase.core.fields import Source
from fanbase.core.operators import OPERATORS
from fanbase.core.operators import Op
from fanbase.core.operators import RuleValue
from fanbase.core.rule_values import ConditionValue
from fanbase.core.rule_values import TimePointValue
from fanbase.core.rule_values import describe_input
from fanbase.core.rule_values import parse_value
from fanbase.core.rule_values import value_to_json
from fanbase.core.time import Duration
from fanbase.errors import InvalidRule
from fanbase.errors import RuleError

MAX_NAME_LENGTH = 200

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
RULE_CLASSES = AllOf | AnyOf | Not | FieldCondition | HasTag | InList | InSegment | BehaviourCondition

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
            return f"must be a text, got {describe_input(error['input'])}"
        case "tuple_type" | "list_type":
            return f"must be a list, got {describe_input(error['input'])}"
        case "model_type" | "model_attributes_type" | "dict_type":
            return f"must be an object, got {describe_input(error['input'])}"
        case _:
            return error["msg"]


def rule_errors_from_validation(error: ValidationError) -> list[RuleError]:
    """Pydantic's errors as path-named ``RuleError``s (union tags removed from the locations)."""
    errors: list[RuleError] = []
    for detail in error.errors(include_url=False):
        location = [step for step in detail["loc"] if not (isinstance(step, str) and step in _UNION_TAGS)]
        errors.append(RuleError(format_path(location), _friendly_message(detail)))
    return errors
