"""What every capability's records share: the base classes, the field types and their validators, a page.

Inputs refuse unknown fields (``extra="forbid"``) so a misspelt field is an error, not silently ignored.
Money is ``Decimal`` in major units here (``12.50``); storage uses integer minor units.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Annotated
from typing import Any
from typing import Generic
from typing import TypeVar

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import WithJsonSchema
from pydantic import field_validator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def normalize_email(value: str) -> str:
    """Emails are compared and stored lower-cased: fans are unique per workspace on lower(email)."""
    email = value.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise ValueError(f"'{value}' is not a valid email address")
    return email


def require_utc(value: datetime) -> datetime:
    """Accept an aware datetime and normalise it to UTC; a naive one is ambiguous, so refuse it."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a timezone, e.g. 2025-06-01T20:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before the first representable instant
        raise ValueError("is out of range") from None


def money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite amount")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("has more than 2 decimal places")
    if abs(value) >= Decimal("1e15"):
        raise ValueError("is too large")
    return value


def _matching(pattern: re.Pattern[str], message: str) -> Callable[[str], str]:
    """A validator that keeps a text ``pattern`` matches and refuses any other with ``message``."""

    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(message)
        return value

    return check


slug = _matching(_SLUG, "must be lower-case letters, digits and underscores, starting with a letter")


def country_code(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValueError("must be a two-letter ISO 3166 country code, e.g. FR")
    return code


color = _matching(_COLOR, "must be a colour like #1a2b3c")


NAME_LENGTH = 100


def name_text(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    # Names are unique by their case-folded form, stored in as many characters as the name; folding can lengthen
    # ("ß" → "ss"), so a name that fits could still overflow its key.
    if len(text.casefold()) > NAME_LENGTH:
        raise ValueError(f"must be at most {NAME_LENGTH} characters once case-folded")
    return text


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain the NUL character")
    elif isinstance(value, tuple | list | set | frozenset):
        for item in value:
            _without_nul(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _without_nul(key)
            _without_nul(item)
    return value


# Ids are 64-bit in storage: a larger number names nothing, and binding it would overflow the database driver.
MAX_ID = 2**63 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
Email = Annotated[str, AfterValidator(normalize_email)]
UtcDatetime = Annotated[datetime, AfterValidator(require_utc)]
Money = Annotated[Decimal, AfterValidator(money), Field(ge=0)]
Slug = Annotated[str, AfterValidator(slug)]
CountryCode = Annotated[str, AfterValidator(country_code)]
Color = Annotated[str, AfterValidator(color)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH), AfterValidator(name_text)]
ShortText = Annotated[str, Field(max_length=200)]
# JSON has no NaN or Infinity (Python's parser accepts them; PostgreSQL's JSONB refuses them).
JsonScalar = str | int | Annotated[float, Field(allow_inf_nan=False)] | bool | None

# An event's properties and a fan's custom fields are bounded, so no write can store (and no batch can make the
# server hold) more than MAX_PROPERTIES_BYTES per row: at most MAX_PROPERTIES keys of at most 64 characters, each
# text value at most MAX_PROPERTY_TEXT characters. A 1,000-item batch is then at most ~16 MB of properties.
MAX_PROPERTIES = 50
MAX_PROPERTY_TEXT = 1_000
MAX_PROPERTIES_BYTES = 16 * 1024
PropertyKey = Annotated[str, Field(min_length=1, max_length=64)]


def _bounded_text(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_PROPERTY_TEXT:
        raise ValueError(f"must be at most {MAX_PROPERTY_TEXT:,} characters, got {len(value):,}")
    return value


PropertyValue = Annotated[JsonScalar, AfterValidator(_bounded_text)]


def bounded_properties(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_PROPERTIES_BYTES:
        raise ValueError(f"must be at most {MAX_PROPERTIES_BYTES:,} bytes as JSON, got {size:,}")
    return value


Properties = Annotated[
    dict[PropertyKey, PropertyValue], Field(max_length=MAX_PROPERTIES), AfterValidator(bounded_properties)
]


# A rule's JSON face. Validation (with paths into the tree) is the service's job, so the model takes any object;
# its OpenAPI schema is the rule language's own, registered by the API as the `Rule` component.
RuleJson = Annotated[dict[str, Any], WithJsonSchema({"$ref": "#/components/schemas/Rule"})]
RuleText = Annotated[str, Field(min_length=1, max_length=10_000)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    # PostgreSQL text and JSONB cannot hold NUL; refusing it here keeps both databases storing the same things.
    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        return _without_nul(value)


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


T = TypeVar("T")


class Page(Record, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


class Changed(Record):
    changed: int = Field(description="How many rows this call changed (already-present rows do not count).")


class FanIds(Input):
    fan_ids: tuple[RowId, ...] = Field(min_length=1, max_length=10_000)


# What pydantic puts before the message of an error our validators raise: a user reads the message alone.
_LIBRARY_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain_message(message: object) -> str:
    """A validation error's message without pydantic's prefix ("Value error, must be …" → "must be …")."""
    text = str(message)
    for prefix in _LIBRARY_PREFIXES:
        text = text.removeprefix(prefix)
    return text
