"""Time values in rules: durations ("30 days"), relative times ("30 days ago"), absolute dates and instants.

Decisions — the Python evaluator and the SQL compiler both go through the functions here, so they agree:

- Every instant is timezone-aware UTC. A naive datetime in a rule is refused rather than read as UTC: a user who
  typed local time would otherwise get boundaries shifted by hours without any sign of it. Aware datetimes with
  another offset are accepted and converted to UTC, so a rule holds one canonical spelling.
- Units are fixed lengths: an hour is 3600 s, a day 24 h (UTC has no daylight saving), a week 7 days and a
  **month 30 days**. Calendar months would make "3 months ago" depend on the day of the month and would need
  calendar arithmetic that SQLite and PostgreSQL do differently.
- "N units ago" is ``now - N * unit`` where ``now`` is always passed in; nothing here reads the clock.
- A point in time covers an interval of instants: an absolute **date** D is the whole UTC day, from
  D 00:00:00 to D 23:59:59.999999 (microseconds are the finest resolution of Python, PostgreSQL and our SQLite
  storage alike); an instant, absolute or relative, is its own first and last instant. Operators use the
  first instant as a lower edge and the last instant as an upper edge, so ``between 2024-01-01 and 2024-06-30``
  includes the whole of June 30 and ``after 2024-06-30`` starts on July 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from enum import StrEnum
from typing import Any
from typing import ClassVar
from typing import Self
from typing import TypeAlias

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema
from pydantic_core import core_schema


class TimeUnit(StrEnum):
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


UNIT_LENGTHS: dict[TimeUnit, timedelta] = {
    TimeUnit.HOURS: timedelta(hours=1),
    TimeUnit.DAYS: timedelta(days=1),
    TimeUnit.WEEKS: timedelta(weeks=1),
    # A month is 30 days on purpose: see the module docstring.
    TimeUnit.MONTHS: timedelta(days=30),
}

# Every spelling a user may type for a unit; the canonical one is the plural.
UNIT_SPELLINGS: dict[str, TimeUnit] = {
    "h": TimeUnit.HOURS,
    "hour": TimeUnit.HOURS,
    "hours": TimeUnit.HOURS,
    "d": TimeUnit.DAYS,
    "day": TimeUnit.DAYS,
    "days": TimeUnit.DAYS,
    "w": TimeUnit.WEEKS,
    "week": TimeUnit.WEEKS,
    "weeks": TimeUnit.WEEKS,
    "mo": TimeUnit.MONTHS,
    "month": TimeUnit.MONTHS,
    "months": TimeUnit.MONTHS,
}

# Bounded so that ``now - duration`` can never leave datetime's range (10 000 months is about 820 years).
MAX_AMOUNT = 10_000

_UNIT_PATTERN = "|".join(sorted(UNIT_SPELLINGS, key=len, reverse=True))
_DURATION_RE = re.compile(rf"^\s*(\d+)\s*({_UNIT_PATTERN})\s*$", re.IGNORECASE)
_RELATIVE_RE = re.compile(rf"^\s*(\d+)\s*({_UNIT_PATTERN})\s+ago\s*$", re.IGNORECASE)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:?\d{2})?$")

DURATION_JSON_PATTERN = rf"^\s*\d+\s*({_UNIT_PATTERN})\s*$"
RELATIVE_JSON_PATTERN = rf"^\s*\d+\s*({_UNIT_PATTERN})\s+ago\s*$"


def _checked_amount(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError("the amount of time must be a whole number")
    if not 1 <= amount <= MAX_AMOUNT:
        raise ValueError(f"the amount of time must be between 1 and {MAX_AMOUNT}")
    return amount


def _unit_words(amount: int, unit: TimeUnit) -> str:
    # "1 day", "2 days": the singular reads better and parses back to the same unit.
    word = unit.value[:-1] if amount == 1 else unit.value
    return f"{amount} {word}"


@dataclass(frozen=True)
class _AmountOfTime:
    """A whole number of time units, whose JSON face is a string that ``_FACE`` reads."""

    amount: int
    unit: TimeUnit

    _FACE: ClassVar[re.Pattern[str]]
    _JSON_PATTERN: ClassVar[str]
    _EXAMPLE: ClassVar[str]

    def __post_init__(self) -> None:
        _checked_amount(self.amount)
        object.__setattr__(self, "unit", TimeUnit(self.unit))

    @classmethod
    def parse(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and (match := cls._FACE.match(value)):
            return cls(int(match.group(1)), UNIT_SPELLINGS[match.group(2).lower()])
        raise ValueError(f"expected {cls._EXAMPLE}, got {value!r}")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return _string_faced_schema(cls.parse, pattern=cls._JSON_PATTERN)


@dataclass(frozen=True)
class Duration(_AmountOfTime):
    """A length of time such as "30 days"; the JSON face is that string."""

    _FACE = _DURATION_RE
    _JSON_PATTERN = DURATION_JSON_PATTERN
    _EXAMPLE = "a duration such as '30 days'"

    @property
    def length(self) -> timedelta:
        return self.amount * UNIT_LENGTHS[self.unit]

    def __str__(self) -> str:
        return _unit_words(self.amount, self.unit)


@dataclass(frozen=True)
class RelativeTime(_AmountOfTime):
    """A point in time relative to ``now`` such as "30 days ago"; the JSON face is that string."""

    _FACE = _RELATIVE_RE
    _JSON_PATTERN = RELATIVE_JSON_PATTERN
    _EXAMPLE = "a relative time such as '30 days ago'"

    @property
    def duration(self) -> Duration:
        return Duration(self.amount, self.unit)

    def resolve(self, *, now: datetime) -> datetime:
        return require_aware(now, what="now") - self.duration.length

    def __str__(self) -> str:
        return f"{_unit_words(self.amount, self.unit)} ago"


def _string_faced_schema(parse: Any, *, pattern: str) -> CoreSchema:
    """A value that is an object in Python and a string in JSON (and in the JSON Schema)."""
    return core_schema.no_info_plain_validator_function(
        parse,
        json_schema_input_schema=core_schema.str_schema(pattern=pattern),
        serialization=core_schema.plain_serializer_function_ser_schema(
            str, return_schema=core_schema.str_schema(), when_used="json"
        ),
    )


# A date is a whole UTC day; a datetime is an instant; a RelativeTime is an instant once ``now`` is known.
# ``datetime`` is a subclass of ``date``: always test for datetime first.
TimePoint: TypeAlias = datetime | date | RelativeTime


def require_aware(value: datetime, *, what: str = "datetime") -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC); got naive {value.isoformat()}")
    return value


def to_utc(value: datetime) -> datetime:
    try:
        return require_aware(value).astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before the first representable UTC instant
        raise ValueError(f"{value.isoformat()} is out of range") from None


def parse_time_point(value: object) -> TimePoint:
    """Read a date, an aware datetime or "N units ago" from Python objects or their JSON strings."""
    if isinstance(value, RelativeTime):
        return value
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _RELATIVE_RE.match(text):
            return RelativeTime.parse(text)
        if _DATE_RE.match(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{value!r} is not a valid date") from None
        if _DATETIME_RE.match(text):
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{value!r} is not a valid datetime") from None
            if parsed.tzinfo is None:
                raise ValueError(f"datetime {value!r} needs a timezone, e.g. {text}Z for UTC")
            return to_utc(parsed)
    raise ValueError(
        f"expected a date (2024-01-31), a UTC datetime (2024-01-31T18:00:00Z) or 'N days ago', got {value!r}"
    )


def format_time_point(point: TimePoint) -> str:
    """The canonical spelling, shared by the JSON and the text faces."""
    if isinstance(point, RelativeTime):
        return str(point)
    if isinstance(point, datetime):
        return to_utc(point).isoformat().replace("+00:00", "Z")
    return point.isoformat()


def is_time_point(value: object) -> bool:
    """A date, an instant or a relative time (``datetime`` is a ``date``)."""
    return isinstance(value, date | RelativeTime)


def first_instant(point: TimePoint, *, now: datetime) -> datetime:
    """The earliest instant the point covers (midnight for a date)."""
    if isinstance(point, RelativeTime):
        return point.resolve(now=now)
    if isinstance(point, datetime):
        return to_utc(point)
    return datetime.combine(point, time.min, tzinfo=UTC)


def last_instant(point: TimePoint, *, now: datetime) -> datetime:
    """The latest instant the point covers (the day's last microsecond for a date)."""
    if isinstance(point, RelativeTime):
        return point.resolve(now=now)
    if isinstance(point, datetime):
        return to_utc(point)
    return datetime.combine(point, time.max, tzinfo=UTC)


def resolve_last(duration: Duration, *, now: datetime) -> tuple[datetime, datetime]:
    """``within the last N units`` is the closed interval [now - N units, now].

    Closed at ``now`` so that an order placed in the same instant as the evaluation counts; closed at the far end
    so that ``within_last N`` and ``more_than N ago`` split the past exactly in two. Times after ``now`` (clock skew,
    scheduled imports) are outside every "last N" window.
    """
    require_aware(now, what="now")
    return now - duration.length, now


def resolve_between(low: TimePoint, high: TimePoint, *, now: datetime) -> tuple[datetime, datetime]:
    """``between A and B`` is the closed interval [first instant of A, last instant of B]."""
    return first_instant(low, now=now), last_instant(high, now=now)
