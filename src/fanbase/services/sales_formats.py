"""How a sales file's rows become orders and events: the formats fanbase reads, recognised by their headers.

A format is a table: the header that identifies it (``signature``), which of its columns feed which of our fields
(``columns``, our field → its header), how rows group into one order (``group_by``: Shopify writes an order's line
items on consecutive rows, its order-level cells on the first only) and one function, ``read``, that turns a group
of rows into records with the format's own vocabulary (statuses, item types) looked up in small tables beside it.
The vendor formats are in ``vendor_formats``; the generic ones, fanbase's own columns, are here.

Cells are matched by header case-insensitively with spaces, hyphens and underscores alike (``column_key``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import tzinfo
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError

from fanbase.errors import InvalidInput
from fanbase.schemas.common import Properties
from fanbase.schemas.common import normalize_email
from fanbase.schemas.common import plain_message
from fanbase.schemas.common import slug
from fanbase.schemas.currencies import currency_code
from fanbase.schemas.sales import ImportFormat
from fanbase.schemas.sales import ImportKind
from fanbase.services.fan_csv import column_key
from fanbase.services.sales import Person
from fanbase.services.sales import SaleEvent
from fanbase.services.sales import SaleOrder
from fanbase.services.sales import SaleRefund


@dataclass(frozen=True)
class PartRefused:
    """Part of a row that cannot be written while the rest can (a check-in without a time beside its ticket):
    reported with the row's line, the rest written."""

    line: int
    email: str | None
    reason: str


Writable = SaleOrder | SaleEvent | SaleRefund
SaleRecord = Writable | PartRefused
MAX_TEXT = 200
_DECIMAL_COMMA = re.compile(r"^-?[\d.]*\d,\d{1,2}$")
_PROPERTIES: TypeAdapter[dict[str, Any]] = TypeAdapter(Properties)


class RowProblem(ValueError):
    """A row fanbase cannot read: reported with its line, the rest of the file goes on."""


class NotASale(Exception):
    """A row that records no purchase (a payout, an unpaid order): counted as skipped, not as an error."""


@dataclass(frozen=True)
class Row:
    line: int
    cells: Mapping[str, str]  # our field → the cell's text, stripped ("" when empty or absent)

    def text(self, name: str) -> str:
        return self.cells.get(name, "")

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise RowProblem(f"{name}: required")
        return value

    def optional(self, name: str) -> str | None:
        value = self.text(name)
        return value[:MAX_TEXT] if value else None


@dataclass(frozen=True)
class ImportOptions:
    """What a file may leave out and the person importing knows: the Eventbrite attendee summary names no venue,
    city or check-in time."""

    event_name: str | None = None
    venue: str | None = None
    city: str | None = None
    attended_at: datetime | None = None


@dataclass(frozen=True)
class Format:
    name: ImportFormat
    title: str
    document: str  # the published column documentation the table follows
    kinds: frozenset[ImportKind]  # the imports it serves
    signature: frozenset[str]  # column keys that identify it
    columns: Mapping[str, str | tuple[str, ...]]  # our field → its header (or the headers it has gone by)
    read: Callable[[Sequence[Row], ImportKind, ImportOptions], list[SaleRecord]]
    group_by: str | None = None  # our field whose value groups consecutive rows into one order
    carried: frozenset[str] = field(default_factory=frozenset)  # fields the group's first row gives for every row

    def reads(self, kind: ImportKind) -> bool:
        return kind in self.kinds


# --- cells ---------------------------------------------------------------------------------------------------


def email_of(row: Row, name: str = "email") -> str:
    try:
        return normalize_email(row.required(name))
    except ValueError as error:
        raise RowProblem(f"{name}: {error}") from None


def _plain_number(text: str) -> str:
    """A number as spreadsheets write it, in Python's form: "1,234.50" and "1.234,50" and "10,50" (a decimal comma:
    one or two digits after the last comma) are 1234.50, 1234.50 and 10.50; "1,234" is one thousand two hundred."""
    if "," not in text:
        return text.strip().replace(" ", "").replace("\u00a0", "")
    number = text.strip().replace(" ", "").replace("\u00a0", "")
    if _DECIMAL_COMMA.match(number):
        return number.replace(".", "").replace(",", ".")
    return number.replace(",", "")


def cents(text: str, name: str, *, negative: bool = False) -> int:
    """A money cell ("12.50", "-25.00", "1,234.50", "10,50") in cents; more than two decimals is refused, never
    rounded."""
    cleaned = _plain_number(text)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise RowProblem(f"{name}: '{text}' is not an amount") from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise RowProblem(f"{name}: '{text}' is not an amount in cents (at most 2 decimals)")
    if abs(amount) >= Decimal("1e13"):
        raise RowProblem(f"{name}: '{text}' is too large")
    if amount < 0 and not negative:
        raise RowProblem(f"{name}: must not be negative")
    return int(amount * 100)


def count(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise RowProblem(f"{name}: '{text}' is not a whole number") from None
    if not 0 < value <= 1_000_000:
        raise RowProblem(f"{name}: must be 1 to 1,000,000")
    return value


def currency_of(row: Row, name: str = "currency", *, default: str | None = None) -> str:
    """The row's ISO 4217 code (any case); ``default`` when the cell is empty (refused when that is None)."""
    text = row.text(name)
    if not text:
        if default is None:
            raise RowProblem(f"{name}: required")
        return default
    try:
        return currency_code(text)
    except ValueError as error:
        raise RowProblem(f"{name}: {error}") from None


def timestamp(text: str, name: str, *, formats: Sequence[str] = (), zone: tzinfo | None = None) -> datetime:
    """A time cell: ISO 8601 or one of ``formats``; a time without an offset is in ``zone`` (refused if None)."""
    if not text:
        raise RowProblem(f"{name}: required")
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        for pattern in formats:
            try:
                parsed = datetime.strptime(text.upper() if "%p" in pattern else text, pattern)
                break
            except ValueError:
                continue
    if parsed is None:
        raise RowProblem(f"{name}: '{text}' is not a date and time")
    if parsed.tzinfo is None:
        if zone is None:
            raise RowProblem(f"{name}: '{text}' has no timezone; write it like 2026-03-01T14:00:00+01:00")
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise RowProblem(f"{name}: '{text}' is out of range") from None


def category_of(text: str, name: str = "category") -> str:
    value = text.strip().lower()
    if not value or len(value) > 64:
        raise RowProblem(f"{name}: must be 1 to 64 characters")
    return value


def row_digest(*parts: object) -> str:
    """A stable id for a row that carries none: what it says, hashed (SHA-256, 24 hex digits)."""
    return hashlib.sha256(json.dumps([str(part) for part in parts]).encode()).hexdigest()[:24]


def person(row: Row, *, email: str = "email", name: str | None = None, address: str | None = None) -> Person:
    """The fan a row names; ``name`` is a full-name column, split at its first space; ``address``: the email, when
    the caller has read it already."""
    first, last = row.optional("first_name"), row.optional("last_name")
    if name is not None and not (first or last):
        full = row.text(name)
        first, _, rest = full.partition(" ")
        first, last = first or None, rest.strip() or None
    country = row.text("country").upper() or None
    return Person(
        email=address or email_of(row, email),
        first_name=first,
        last_name=last,
        country=country if country and len(country) == 2 and country.isalpha() and country.isascii() else None,
        city=row.optional("city"),
    )


# --- fanbase's own columns -----------------------------------------------------------------------------------

ORDER_STATUSES = {"completed": "completed", "paid": "completed", "refunded": "refunded"}


def _generic_orders(rows: Sequence[Row], kind: ImportKind, options: ImportOptions) -> list[SaleRecord]:
    (row,) = rows
    amount = cents(row.required("amount"), "amount")
    status_text = row.text("status").lower() or "completed"
    status = ORDER_STATUSES.get(status_text)
    if status is None:
        raise RowProblem(f"status: '{row.text('status')}' is not completed or refunded")
    refunded_text = row.text("refunded_amount")
    refunded = cents(refunded_text, "refunded_amount") if refunded_text else 0
    if refunded > amount:
        raise RowProblem("refunded_amount: is more than amount")
    placed_at = timestamp(row.required("placed_at"), "placed_at")
    currency = currency_of(row, default="") or None
    email = email_of(row)
    external_id = row.optional("external_id") or "row:" + row_digest(
        email, placed_at.isoformat(), amount, currency, row.text("category"), row.text("product")
    )
    return [
        SaleOrder(
            line=row.line,
            person=person(row, address=email),
            external_id=external_id,
            amount_cents=amount,
            currency=currency,
            category=category_of(row.required("category")),
            product=row.optional("product"),
            placed_at=placed_at,
            status="refunded" if status == "refunded" or (amount and refunded == amount) else "completed",
            refunded_cents=refunded,
        )
    ]


def _generic_events(rows: Sequence[Row], kind: ImportKind, options: ImportOptions) -> list[SaleRecord]:
    (row,) = rows
    try:
        event_type = slug(row.required("type").strip().lower())
    except ValueError as error:
        raise RowProblem(f"type: {error}") from None
    occurred_at = timestamp(row.required("occurred_at"), "occurred_at")
    properties: dict[str, Any] = {}
    if row.text("properties"):
        try:
            properties = json.loads(row.text("properties"))
        except json.JSONDecodeError:
            raise RowProblem("properties: is not a JSON object") from None
        if not isinstance(properties, dict):
            raise RowProblem("properties: is not a JSON object")
    for name, value in row.cells.items():
        if name.startswith("properties.") and value:
            properties[name.removeprefix("properties.")] = value
    try:
        properties = _PROPERTIES.validate_python(properties)
    except ValidationError as error:
        raise RowProblem("properties: " + plain_message(error.errors()[0]["msg"])) from None
    email = email_of(row)
    external_id = row.optional("external_id") or "row:" + row_digest(
        email, event_type, occurred_at.isoformat(), json.dumps(properties, sort_keys=True)
    )
    return [
        SaleEvent(
            line=row.line,
            person=person(row),
            external_id=external_id,
            type=event_type,
            occurred_at=occurred_at,
            properties=properties,
        )
    ]


_PEOPLE = ("first_name", "last_name", "country", "city")


def _own(*names: str) -> dict[str, str]:
    """fanbase's own columns: each is the field of its name."""
    return {name: name for name in (*names, *_PEOPLE)}


def _generic(
    kind: ImportKind,
    signature: set[str],
    columns: dict[str, str],
    read: Callable[[Sequence[Row], ImportKind, ImportOptions], list[SaleRecord]],
) -> Format:
    """fanbase's own CSV of ``kind``, as the README documents it."""
    return Format(
        name="generic",
        title=f"fanbase {kind} CSV",
        document="README.md, 'Sales in: imports, webhooks, currencies'",
        kinds=frozenset({kind}),
        signature=frozenset(signature),
        columns=columns,
        read=read,
    )


GENERIC_ORDERS = _generic(
    "orders",
    {"email", "amount", "placed_at"},
    _own("email", "amount", "currency", "category", "product", "status", "placed_at", "external_id", "refunded_amount"),
    _generic_orders,
)
GENERIC_EVENTS = _generic(
    "events",
    {"email", "type", "occurred_at"},
    _own("email", "type", "occurred_at", "external_id", "properties"),
    _generic_events,
)


def generic_for(kind: ImportKind) -> Format:
    return GENERIC_ORDERS if kind == "orders" else GENERIC_EVENTS


def detect(header: Sequence[str], kind: ImportKind, formats: Sequence[Format]) -> Format:
    """The format whose signature the header has (vendors first), for this kind of import."""
    keys = {column_key(cell) for cell in header}
    for candidate in formats:
        if candidate.reads(kind) and candidate.signature <= keys:
            return candidate
    generic = generic_for(kind)
    missing = sorted(generic.signature - keys)
    vendors = ", ".join(f.title for f in formats if f.reads(kind) and f.name != "generic")
    raise InvalidInput(
        f"the header matches no format for {kind}: a fanbase {kind} file needs the column"
        f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}; the vendor formats read are {vendors}",
        field="file",
    )


def headers_of(chosen: Format, ours: str) -> tuple[str, ...]:
    theirs = chosen.columns[ours]
    return (theirs,) if isinstance(theirs, str) else theirs


def column_positions(header: Sequence[str], chosen: Format) -> dict[str, int]:
    """Our field → its column's position in this header (fields whose column is absent are left out)."""
    positions = {column_key(cell): index for index, cell in reversed(list(enumerate(header)))}
    found: dict[str, int] = {}
    for ours in chosen.columns:
        for theirs in headers_of(chosen, ours):
            if column_key(theirs) in positions:
                found[ours] = positions[column_key(theirs)]
                break
    if chosen is GENERIC_EVENTS:
        found.update((key, index) for key, index in positions.items() if key.startswith("properties.") and key[11:])
    return found
