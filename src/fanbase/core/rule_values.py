"""Rule values: their JSON (or text) spelling read into typed Python values, decided by the operator's value
shape alone, and written back; and the annotations the tree's value fields carry for pydantic."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import Annotated
from typing import Any
from typing import assert_never

from pydantic import JsonValue
from pydantic import PlainSerializer
from pydantic import PlainValidator
from pydantic import WithJsonSchema

from fanbase.core.operators import RuleValue
from fanbase.core.operators import Scalar
from fanbase.core.operators import ValueShape
from fanbase.core.time import Duration
from fanbase.core.time import RelativeTime
from fanbase.core.time import TimePoint
from fanbase.core.time import format_time_point
from fanbase.core.time import is_time_point
from fanbase.core.time import parse_time_point

# The message of a condition left without a value (the dashboard holds it back while the user is still typing).
MISSING_VALUE = "this operator needs a value"


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
    raise ValueError(f"expected a text, a number or true/false, got {describe_input(raw)}")


def _range_item(raw: object) -> Scalar | TimePoint:
    if is_time_point(raw):
        return parse_time_point(raw)
    if isinstance(raw, str):
        try:
            return parse_time_point(raw)
        except ValueError:
            return raw  # perhaps a money amount such as "10.50"; validation decides.
    return _json_scalar(raw)


def describe_input(raw: object) -> str:
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
                raise ValueError(MISSING_VALUE)
            return _json_scalar(raw)
        case ValueShape.LIST:
            if not isinstance(raw, list | tuple) or not raw:
                raise ValueError(f"expected a non-empty list of values, got {describe_input(raw)}")
            return tuple(_json_scalar(item) for item in raw)
        case ValueShape.RANGE:
            if not isinstance(raw, list | tuple) or len(raw) != 2:
                raise ValueError(f"expected [low, high], got {describe_input(raw)}")
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
