"""Validation of a rule against a workspace: its catalogue of fields and the tags, lists and segments it may name.

``validate_rule`` returns the rule in canonical form (money as ``Decimal``, enum values in their declared spelling) or
raises ``InvalidRule`` with every problem, each named by its path into the tree ("all[3].count.where.field").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from decimal import InvalidOperation
from typing import TypeVar
from typing import assert_never

from fanbase.core.fields import MEASURING_AGGREGATES
from fanbase.core.fields import SOURCE_FIELDS
from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.core.fields import Source
from fanbase.core.fields import aggregate_result_spec
from fanbase.core.operators import OPERATORS
from fanbase.core.operators import Op
from fanbase.core.operators import RuleValue
from fanbase.core.operators import Scalar
from fanbase.core.operators import ValueShape
from fanbase.core.operators import operators_for
from fanbase.core.rule_limits import check_rule_json
from fanbase.core.rule_limits import check_rule_size
from fanbase.core.rule_values import describe_input
from fanbase.core.rules import RULE_CLASSES
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
from fanbase.core.rules import parse_rule_json
from fanbase.core.rules import reference_key
from fanbase.core.time import RelativeTime
from fanbase.core.time import TimePoint
from fanbase.core.time import first_instant
from fanbase.core.time import format_time_point
from fanbase.core.time import is_time_point
from fanbase.core.time import last_instant
from fanbase.core.time import parse_time_point
from fanbase.errors import InvalidRule
from fanbase.errors import RuleError

# Money and decimals survive JSON (a double) exactly up to 15 significant digits; beyond that we refuse.
MAX_SIGNIFICANT_DIGITS = 15
# Below 10^13 major units, cents fit a 64-bit integer and the amount keeps its 15 digits.
MAX_MONEY = Decimal(10) ** 13

_NUMERIC_TEXT_RE = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


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
        raise _Invalid(f"expected a number for {spec.name}, got {describe_input(value)}")
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
        raise _Invalid(f"expected an amount of money for {spec.name}, got {describe_input(value)}")
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
        raise _Invalid(f"expected a text for {spec.name}, got {describe_input(value)}")
    if is_fragment and not value:
        raise _Invalid("the text to look for must not be empty")
    return value


def _enum_choice(spec: FieldSpec, value: object) -> str:
    if isinstance(value, str) and (choice := spec.choice_named(value)) is not None:
        return choice
    raise _Invalid(f"{spec.name} is one of {', '.join(spec.choices)}; got {describe_input(value)}")


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
                raise _Invalid(f"expected true or false for {spec.name}, got {describe_input(value)}")
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


# A node of a group: a rule, or a where-condition of a behaviour query.
Node = TypeVar("Node", Rule, Where)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """ " (did you mean 'X'?)" for the known name closest to a misspelt one (case-insensitive), or "" when none is
    close. difflib's ratio, at 0.75: "VIPs" finds "VIP", "total_spend" "total_spent", "colour" not "country"."""
    by_key: dict[str, str] = {}
    for candidate in known:
        by_key.setdefault(reference_key(candidate), candidate)
    close = difflib.get_close_matches(reference_key(name), list(by_key), n=1, cutoff=0.75)
    return f" (did you mean {by_key[close[0]]!r}?)" if close else ""


class _Validator:
    def __init__(self, *, catalogue: Catalogue, references: References) -> None:
        self.catalogue = catalogue
        self.errors: list[RuleError] = []
        self.tag_names = list(references.tags)
        self.list_names = list(references.lists)
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

    def group(
        self, children: Sequence[Node], path: str, *, is_all: bool, check: Callable[[Node, str], Node]
    ) -> tuple[Node, ...]:
        """The checked members of an all/any group (of rules or of where-conditions); an empty group is an error."""
        key = "all" if is_all else "any"
        if not children:
            self.fail(_join(path, key), f"an '{key}' group needs at least one condition")
        return tuple(check(child, f"{_join(path, key)}[{index}]") for index, child in enumerate(children))

    def rule(self, rule: Rule, path: str) -> Rule:
        match rule:
            case AllOf(rules=children) | AnyOf(rules=children):
                checked = self.group(children, path, is_all=isinstance(rule, AllOf), check=self.rule)
                return rule.model_copy(update={"rules": checked})
            case Not(rule=child):
                return rule.model_copy(update={"rule": self.rule(child, _join(path, "not"))})
            case FieldCondition():
                spec = self.catalogue.fan_field(rule.field)
                if spec is None:
                    names = [spec.name for spec in self.catalogue.fan_fields]
                    self.fail(_join(path, "field"), f"unknown field {rule.field!r}{did_you_mean(rule.field, names)}")
                    return rule
                return rule.model_copy(update={"value": self.compared_value(spec, rule.op, rule.value, path)})
            case HasTag(tag=name):
                if reference_key(name) not in self.tags:
                    self.fail(_join(path, "tag"), f"unknown tag {name!r}{did_you_mean(name, self.tag_names)}")
                return rule
            case InList(list_name=name):
                if reference_key(name) not in self.lists:
                    self.fail(_join(path, "list"), f"unknown list {name!r}{did_you_mean(name, self.list_names)}")
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
            self.fail(path, f"unknown segment {name!r}{did_you_mean(name, self.segment_names.values())}")
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
                    self.fail(
                        _join(query_path, "field"),
                        f"unknown {_SOURCE_NOUNS[query.of]} field {query.field!r}"
                        + did_you_mean(query.field, [spec.name for spec in SOURCE_FIELDS[query.of]]),
                    )
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
                checked = self.group(
                    children,
                    path,
                    is_all=isinstance(where, WhereAllOf),
                    check=lambda child, child_path: self.where(child, source, child_path),
                )
                return where.model_copy(update={"conditions": checked})
            case WhereNot(condition=child):
                return where.model_copy(update={"condition": self.where(child, source, _join(path, "not"))})
            case FieldCondition():
                spec = self.catalogue.source_field(source, where.field)
                if spec is None:
                    self.fail(
                        _join(path, "field"),
                        f"unknown {_SOURCE_NOUNS[source]} field {where.field!r}"
                        + did_you_mean(where.field, [spec.name for spec in SOURCE_FIELDS[source]]),
                    )
                    return where
                return where.model_copy(update={"value": self.compared_value(spec, where.op, where.value, path)})
            case _:
                assert_never(where)


def validate_rule(rule: object, *, catalogue: Catalogue, references: References) -> Rule:
    """The rule (a ``Rule`` or its JSON form) checked against a workspace, in canonical form.

    Refuses unknown fields, values of the wrong type, operators the field's type does not have, empty groups,
    unknown tags/lists/segments and segment cycles. Every problem is collected; raises ``InvalidRule``.
    """
    if not isinstance(rule, RULE_CLASSES):
        check_rule_json(rule)
    parsed = rule if isinstance(rule, RULE_CLASSES) else parse_rule_json(rule)
    check_rule_size(parsed)
    validator = _Validator(catalogue=catalogue, references=references)
    checked = validator.rule(parsed, "")
    if validator.errors:
        raise InvalidRule(validator.errors)
    return checked


# The names a behaviour condition can filter on that only the workspace's data defines: an event's type, an order's
# category. A rule naming one not yet seen is valid (a tour's first gig can be segmented before it happens), so it
# gets a hint, not an error; a close seen name makes it a "did you mean".
NAMED_FIELDS: dict[Source, str] = {Source.EVENTS: "type", Source.ORDERS: "category", Source.REFUNDS: "category"}
_NAMED_NOUNS = {"type": "event type", "category": "order category"}


def unseen_names(rule: Rule, seen: Callable[[str], Collection[str]]) -> list[RuleError]:
    """A hint per event type or order category the rule compares with (``=``, ``in``) that the workspace has not
    seen; ``seen("type")`` and ``seen("category")`` give the values its data holds (case-sensitive, as stored), and
    are asked only for a field the rule compares."""
    hints: list[RuleError] = []

    def where(node: Where, field: str, path: str) -> None:
        match node:
            case WhereAllOf(conditions=children) | WhereAnyOf(conditions=children):
                key = "all" if isinstance(node, WhereAllOf) else "any"
                for index, child in enumerate(children):
                    where(child, field, f"{_join(path, key)}[{index}]")
            case WhereNot(condition=child):
                where(child, field, _join(path, "not"))
            case FieldCondition(field=name, op=Op.EQ | Op.IN, value=value) if name == field:
                values = value if isinstance(value, tuple) else (value,)
                known = seen(field)
                for item in values:
                    if isinstance(item, str) and item not in known:
                        noun = _NAMED_NOUNS[field]
                        hints.append(
                            RuleError(
                                _join(path, "value"),
                                f"no {noun} {item!r} has been recorded yet{did_you_mean(item, known)}",
                            )
                        )
            case _:
                pass

    def walk(node: Rule, path: str) -> None:
        match node:
            case AllOf(rules=children) | AnyOf(rules=children):
                key = "all" if isinstance(node, AllOf) else "any"
                for index, child in enumerate(children):
                    walk(child, f"{_join(path, key)}[{index}]")
            case Not(rule=child):
                walk(child, _join(path, "not"))
            case BehaviourAggregate():
                query = node.query
                if query.where is not None and query.of in NAMED_FIELDS:
                    where(query.where, NAMED_FIELDS[query.of], _join(_join(path, node.aggregate.value), "where"))
            case _:
                pass

    walk(rule, "")
    return hints
