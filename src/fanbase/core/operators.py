"""The one operator table. It drives validation, the text grammar, the Python evaluator, the SQL compiler and
the English description: adding an operator is adding one row to ``OPERATORS``.

How a backend uses it
---------------------
A backend implements ``Primitives[E]`` over its expression type ``E`` (plain Python values and bools for the
evaluator; SQLAlchemy column expressions for ``fanbase.db.rule_sql``) and calls::

    build_condition(p, column, field_type=comparison_type(spec, op, value), op=op, value=value, now=now)

``build_condition`` resolves relative times against ``now`` into plain UTC datetimes, folds text constants,
turns money constants into the backend's representation (``p.money``), applies the missing-value guard and
calls the row's ``build``. Backends never see a ``RelativeTime``, a ``Duration`` or a ``date``.

Semantics (the SQL compiler must reproduce exactly these)
---------------------------------------------------------
- **Missing values make every leaf two-valued.** A comparison whose subject is missing (SQL NULL, a property
  that is absent, JSON null or of another JSON type) is **false**, for every operator except ``is_set``,
  ``is_not_set`` and ``is_empty``, which are defined on missing values. ``build_condition`` adds
  ``not_null(subject) AND …`` to every other operator, so SQL's three-valued logic never leaks: ``not`` flips a
  leaf cleanly, and ``not (last_active_at within_last 30 days)`` includes fans who were never active.
  ``!=`` and ``not_in`` are false on a missing value too: ``country != "FR"`` does not select fans with no
  country (``not (country = "FR")`` does).
- **Text** comparisons fold ASCII A-Z to a-z on both sides and nothing else ('É' stays 'É'): this is the one
  case folding that SQLite's ``lower()``, PostgreSQL's ``lower(x COLLATE "C")`` and Python can all do the same.
  ``contains`` / ``starts_with`` / ``ends_with`` are literal substring tests on the folded text: ``%`` and ``_``
  are ordinary characters (the SQL side must escape them or use instr/position). ``is_empty`` is NULL or ''.
- **Enums** compare exactly: validation rewrites rule values to the declared spelling of the choice.
- **Money** is exact: rule values are ``Decimal`` major units with at most 2 decimal places, passed through
  ``Primitives.money`` (the SQL side stores integer cents and returns ``int(amount * 100)``).
- **Numbers** (non-money) compare as IEEE doubles when not integers: a ``Decimal`` constant becomes a ``float``,
  because custom numbers and event properties come out of JSON as doubles on SQLite and PostgreSQL alike.
  Integers stay integers (``purchase_count``, ``count(...)``).
- **Numbers and ranges:** ``between low and high`` is inclusive on both ends.
- **Times** (see ``fanbase.core.time``): ``before X`` is ``t < first instant of X``; ``after X`` is
  ``t > last instant of X``; ``between A and B`` is ``first(A) <= t <= last(B)``; ``within_last N`` is
  ``now - N <= t <= now`` (future times are outside); ``more_than N ago`` is ``t < now - N`` (a readable
  synonym of ``before N ago`` that only takes a relative time).
- **Booleans:** ``is_true`` / ``is_false`` / ``= true`` / ``!= false`` compare with the boolean; missing is
  neither true nor false.
- **Event properties** (type ``ANY``) are compared according to the rule's value: a text value compares the
  property as text (and only if the property's JSON value is a string), a number value as a double (only if
  the JSON value is a number; JSON booleans are not numbers), a boolean value as a boolean (only if the JSON
  value is a boolean). A property of another JSON type is *missing* for that comparison, so it never matches,
  whatever the operator — ``properties.seats != 2`` is false for ``"seats": "two"``. ``is_set`` means the key
  is present with a non-null value. ``comparison_type`` tells a backend which of those typed views to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from decimal import Decimal
from enum import Enum
from enum import StrEnum
from typing import Protocol
from typing import TypeAlias
from typing import TypeVar
from typing import assert_never

from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.core.time import Duration
from fanbase.core.time import RelativeTime
from fanbase.core.time import TimePoint
from fanbase.core.time import first_instant
from fanbase.core.time import is_time_point
from fanbase.core.time import last_instant
from fanbase.core.time import resolve_between
from fanbase.core.time import resolve_last


class Op(StrEnum):
    """Operator names: the JSON ``op`` and the text keyword are the same string."""

    EQ = "="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    BETWEEN = "between"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    IS_EMPTY = "is_empty"
    IN = "in"
    NOT_IN = "not_in"
    BEFORE = "before"
    AFTER = "after"
    WITHIN_LAST = "within_last"
    MORE_THAN = "more_than"
    IS_TRUE = "is_true"
    IS_FALSE = "is_false"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"


class ValueShape(StrEnum):
    """What an operator takes as its value; also selects the grammar rule of the text form."""

    NONE = "none"  # city is_set
    SCALAR = "scalar"  # total_spent > 100
    LIST = "list"  # lifecycle_stage in (customer, advocate)
    RANGE = "range"  # created_at between 2024-01-01 and 2024-06-30 (numbers or times)
    TIME_POINT = "time_point"  # last_active_at before 30 days ago / before 2024-01-01
    RELATIVE_TIME = "relative_time"  # last_active_at more_than 30 days ago
    DURATION = "duration"  # last_active_at within_last 30 days


class Edge(Enum):
    """Which instant of a time point an operator compares with (a date covers a whole day)."""

    FIRST = "first"
    LAST = "last"


# Values a backend receives: never a date, RelativeTime or Duration (those are resolved first).
Constant: TypeAlias = str | int | float | Decimal | bool | datetime
Operand: TypeAlias = Constant | tuple[Constant, ...] | None
# Values as written in a rule (validated). Lists are tuples; ranges are (low, high).
Scalar: TypeAlias = bool | int | Decimal | str
RuleValue: TypeAlias = Scalar | TimePoint | Duration | tuple[Scalar | TimePoint, ...] | None

E = TypeVar("E")


class Primitives(Protocol[E]):
    """The small vocabulary every operator is written in; one implementation per backend.

    ``E`` is the backend's boolean-or-value expression type. Comparisons take a constant on the right; they
    need not be NULL-safe on their own (``build_condition`` guards them), but must not raise on missing values
    in the Python backend.
    """

    def eq(self, left: E, right: Constant) -> E: ...
    def ne(self, left: E, right: Constant) -> E: ...
    def lt(self, left: E, right: Constant) -> E: ...
    def le(self, left: E, right: Constant) -> E: ...
    def gt(self, left: E, right: Constant) -> E: ...
    def ge(self, left: E, right: Constant) -> E: ...
    def in_(self, left: E, choices: tuple[Constant, ...]) -> E: ...
    def is_null(self, value: E) -> E: ...
    def not_null(self, value: E) -> E: ...
    def guard(self, value: E) -> E:
        """``not_null`` as the missing-value guard of another comparison on the same value (never used to find
        rows by itself)."""
        ...

    def fold(self, value: E) -> E:
        """ASCII-only lowercase of a text expression (A-Z → a-z; NULL stays NULL)."""
        ...

    def contains(self, text: E, fragment: str) -> E:
        """Literal substring test (no wildcards); both sides are already folded."""
        ...

    def starts_with(self, text: E, prefix: str) -> E: ...
    def ends_with(self, text: E, suffix: str) -> E: ...
    def and_(self, *parts: E) -> E: ...
    def or_(self, *parts: E) -> E: ...
    def not_(self, part: E) -> E: ...
    def true(self) -> E: ...
    def false(self) -> E: ...
    def money(self, amount: Decimal) -> Constant:
        """A money constant in the backend's representation (Python: the Decimal; SQL: integer cents)."""
        ...


class Build(Protocol):
    """A row's expression builder: written once against ``Primitives``, used by every backend."""

    def __call__(self, p: Primitives[E], subject: E, operand: Operand, /) -> E: ...


def _one(operand: Operand) -> Constant:
    assert operand is not None and not isinstance(operand, tuple), operand
    return operand


def _pair(operand: Operand) -> tuple[Constant, Constant]:
    assert isinstance(operand, tuple) and len(operand) == 2, operand
    return operand[0], operand[1]


def _many(operand: Operand) -> tuple[Constant, ...]:
    assert isinstance(operand, tuple), operand
    return operand


def _text(operand: Operand) -> str:
    value = _one(operand)
    assert isinstance(value, str), value
    return value


def _build_closed_range(p: Primitives[E], subject: E, operand: Operand) -> E:
    low, high = _pair(operand)
    return p.and_(p.ge(subject, low), p.le(subject, high))


def _build_is_empty(p: Primitives[E], subject: E, operand: Operand) -> E:
    return p.or_(p.is_null(subject), p.eq(subject, ""))


@dataclass(frozen=True)
class Operator:
    """One row of the table.

    ``phrase`` is English with ``{value}`` (or ``{low}``/``{high}`` for ranges) for the described value.
    ``edge`` says which instant of a time point the operator compares with. ``accepts_missing`` marks the
    operators that are defined on a missing value; every other operator is false on one.
    """

    op: Op
    shape: ValueShape
    field_types: frozenset[FieldType]
    phrase: str
    build: Build
    accepts_missing: bool = False
    edge: Edge = Edge.FIRST
    # How list values are joined in English ("customer or advocate").
    list_joiner: str = "or"

    @property
    def keyword(self) -> str:
        return self.op.value


_T = FieldType
_ALL_TYPES = frozenset(FieldType)
_EQUATABLE = frozenset({_T.TEXT, _T.NUMBER, _T.MONEY, _T.ENUM, _T.BOOLEAN, _T.ANY})
_ORDERED = frozenset({_T.NUMBER, _T.MONEY, _T.ANY})
_TEXTS = frozenset({_T.TEXT, _T.ANY})
_LISTED = frozenset({_T.ENUM, _T.TEXT})
_TEXT = frozenset({_T.TEXT})
_DATETIME = frozenset({_T.DATETIME})
_BOOLEAN = frozenset({_T.BOOLEAN})
_V = ValueShape

# A row: operator, value shape, field types, English phrase, and how it is built from the backend's primitives
# (``p``) on the subject (``s``) and the resolved operand (``o``).
OPERATORS: dict[Op, Operator] = {
    row.op: row
    for row in (
        Operator(Op.EQ, _V.SCALAR, _EQUATABLE, "is {value}", lambda p, s, o: p.eq(s, _one(o))),
        Operator(Op.NE, _V.SCALAR, _EQUATABLE, "is not {value}", lambda p, s, o: p.ne(s, _one(o))),
        Operator(Op.GT, _V.SCALAR, _ORDERED, "is more than {value}", lambda p, s, o: p.gt(s, _one(o))),
        Operator(Op.GE, _V.SCALAR, _ORDERED, "is at least {value}", lambda p, s, o: p.ge(s, _one(o))),
        Operator(Op.LT, _V.SCALAR, _ORDERED, "is less than {value}", lambda p, s, o: p.lt(s, _one(o))),
        Operator(Op.LE, _V.SCALAR, _ORDERED, "is at most {value}", lambda p, s, o: p.le(s, _one(o))),
        Operator(Op.BETWEEN, _V.RANGE, _ORDERED | _DATETIME, "is between {low} and {high}", _build_closed_range),
        Operator(Op.CONTAINS, _V.SCALAR, _TEXTS, "contains {value}", lambda p, s, o: p.contains(s, _text(o))),
        Operator(Op.STARTS_WITH, _V.SCALAR, _TEXTS, "starts with {value}", lambda p, s, o: p.starts_with(s, _text(o))),
        Operator(Op.ENDS_WITH, _V.SCALAR, _TEXTS, "ends with {value}", lambda p, s, o: p.ends_with(s, _text(o))),
        Operator(Op.IS_EMPTY, _V.NONE, _TEXT, "is empty", _build_is_empty, accepts_missing=True),
        Operator(Op.IN, _V.LIST, _LISTED, "is {value}", lambda p, s, o: p.in_(s, _many(o))),
        Operator(Op.NOT_IN, _V.LIST, _LISTED, "is not {value}", lambda p, s, o: p.not_(p.in_(s, _many(o)))),
        Operator(Op.BEFORE, _V.TIME_POINT, _DATETIME, "is before {value}", lambda p, s, o: p.lt(s, _one(o))),
        Operator(
            Op.AFTER, _V.TIME_POINT, _DATETIME, "is after {value}", lambda p, s, o: p.gt(s, _one(o)), edge=Edge.LAST
        ),
        Operator(Op.WITHIN_LAST, _V.DURATION, _DATETIME, "is within the last {value}", _build_closed_range),
        Operator(Op.MORE_THAN, _V.RELATIVE_TIME, _DATETIME, "is more than {value}", lambda p, s, o: p.lt(s, _one(o))),
        Operator(Op.IS_TRUE, _V.NONE, _BOOLEAN, "is true", lambda p, s, o: p.eq(s, True)),
        Operator(Op.IS_FALSE, _V.NONE, _BOOLEAN, "is false", lambda p, s, o: p.eq(s, False)),
        Operator(Op.IS_SET, _V.NONE, _ALL_TYPES, "is set", lambda p, s, o: p.not_null(s), accepts_missing=True),
        Operator(Op.IS_NOT_SET, _V.NONE, _ALL_TYPES, "is not set", lambda p, s, o: p.is_null(s), accepts_missing=True),
    )
}


def operators_for(field_type: FieldType) -> tuple[Operator, ...]:
    """The operators a field of this type allows, in table order (for the builder UI and error messages)."""
    return tuple(row for row in OPERATORS.values() if field_type in row.field_types)


def operators_with_shape(shape: ValueShape) -> tuple[Operator, ...]:
    return tuple(row for row in OPERATORS.values() if row.shape is shape)


_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold_text(text: str) -> str:
    """ASCII-only lowercase, the one folding every backend can do identically ('É' stays 'É')."""
    return text.translate(_ASCII_FOLD)


def comparison_type(spec: FieldSpec, op: Op, value: RuleValue) -> FieldType:
    """The type a condition compares as. Only event properties (``ANY``) depend on the value.

    ``ANY`` is returned for ``is_set`` / ``is_not_set`` on a property: the backend then reads the raw JSON value
    (present and not JSON null). Otherwise the backend reads the property's TEXT, NUMBER or BOOLEAN view, which
    is missing when the JSON value has another type.
    """
    if spec.type is not FieldType.ANY or op in (Op.IS_SET, Op.IS_NOT_SET):
        return spec.type
    sample = value[0] if isinstance(value, tuple) and value else value
    if isinstance(sample, bool):
        return FieldType.BOOLEAN
    if isinstance(sample, str):
        return FieldType.TEXT
    if isinstance(sample, int | Decimal):
        return FieldType.NUMBER
    raise ValueError(f"no comparison type for a property compared with {value!r}")


def _time_point(value: object) -> TimePoint:
    assert isinstance(value, date | RelativeTime), value
    return value


def resolve_operand(operator: Operator, value: RuleValue, *, now: datetime) -> Operand:
    """The rule's value as backend constants: time points and durations become UTC datetimes."""
    match operator.shape:
        case ValueShape.NONE:
            return None
        case ValueShape.SCALAR:
            assert isinstance(value, bool | int | Decimal | str), value
            return value
        case ValueShape.LIST:
            assert isinstance(value, tuple), value
            return tuple(_scalar(item) for item in value)
        case ValueShape.RANGE:
            assert isinstance(value, tuple) and len(value) == 2, value
            low, high = value
            if is_time_point(low) and is_time_point(high):
                return resolve_between(_time_point(low), _time_point(high), now=now)
            return _scalar(low), _scalar(high)
        case ValueShape.TIME_POINT:
            point = _time_point(value)
            match operator.edge:
                case Edge.FIRST:
                    return first_instant(point, now=now)
                case Edge.LAST:
                    return last_instant(point, now=now)
                case _:
                    assert_never(operator.edge)
        case ValueShape.RELATIVE_TIME:
            assert isinstance(value, RelativeTime), value
            return value.resolve(now=now)
        case ValueShape.DURATION:
            assert isinstance(value, Duration), value
            return resolve_last(value, now=now)
        case _:
            assert_never(operator.shape)


def _scalar(value: object) -> Constant:
    assert isinstance(value, bool | int | Decimal | str), value
    return value


def _convert_constant(p: Primitives[E], constant: Constant, field_type: FieldType) -> Constant:
    if isinstance(constant, bool | datetime):
        return constant
    match field_type:
        case FieldType.TEXT:
            return fold_text(constant) if isinstance(constant, str) else constant
        case FieldType.MONEY:
            assert isinstance(constant, int | Decimal), constant
            return p.money(Decimal(constant))
        case FieldType.NUMBER:
            # Non-integers compare as doubles, like the JSON numbers they meet in both databases.
            return float(constant) if isinstance(constant, Decimal) else constant
        case FieldType.ENUM | FieldType.DATETIME | FieldType.BOOLEAN | FieldType.ANY:
            return constant
        case _:
            assert_never(field_type)


def convert_operand(p: Primitives[E], operand: Operand, field_type: FieldType) -> Operand:
    if operand is None:
        return None
    if isinstance(operand, tuple):
        return tuple(_convert_constant(p, item, field_type) for item in operand)
    return _convert_constant(p, operand, field_type)


def build_condition(
    p: Primitives[E],
    subject: E,
    *,
    field_type: FieldType,
    op: Op,
    value: RuleValue,
    now: datetime,
) -> E:
    """The expression for ``subject <op> value``: the single entry point for every backend.

    ``subject`` is the backend's expression for the field (for an event property: the view that
    ``comparison_type`` names); ``field_type`` is that comparison type. The result is two-valued.
    """
    operator = OPERATORS[op]
    operand = convert_operand(p, resolve_operand(operator, value, now=now), field_type)
    compared = p.fold(subject) if field_type is FieldType.TEXT else subject
    expression = operator.build(p, compared, operand)
    if operator.accepts_missing:
        return expression
    return p.and_(p.guard(subject), expression)


def combine(p: Primitives[E], parts: Sequence[E], *, is_all: bool) -> E:
    """AND/OR of parts; an empty group is true for all and false for any (validation refuses them anyway)."""
    if not parts:
        return p.true() if is_all else p.false()
    return p.and_(*parts) if is_all else p.or_(*parts)
