"""The field catalogue: which names a rule may mention, and the type of each.

Three families of fields:

- **fan fields**: the core fields below plus the workspace's custom fields (passed in to ``Catalogue``);
- **order fields** for behaviour over ``orders`` (completed orders) and ``refunds`` (refunded orders);
- **event fields** for behaviour over ``events``, including ``properties.<key>`` for any key of an event's JSON
  properties. A property has the type ``ANY``: how it is compared is decided by the rule's value (see
  ``fanbase.core.operators.comparison_type``).

The operators each type allows live in the one operator table (``fanbase.core.operators``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    MONEY = "money"
    ENUM = "enum"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    # Event properties: JSON values whose type is only known per event; see operators.comparison_type.
    ANY = "any"


class Source(StrEnum):
    """What a behaviour condition aggregates over."""

    ORDERS = "orders"
    REFUNDS = "refunds"
    EVENTS = "events"


class Aggregate(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    FIRST = "first"
    LAST = "last"


# Aggregates that read a numeric field of the rows (sum(amount of orders)); the others need no field.
MEASURING_AGGREGATES = frozenset({Aggregate.SUM, Aggregate.MIN, Aggregate.MAX})


class ListStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    # Only in rules: on the list with whatever status.
    ANY = "any"


# Order rows that each source reads. `orders` are completed orders only: a refunded order is reversed, exactly
# as it is in total_spent; `refunds` are the refunded ones. Orders in any other status belong to neither.
SOURCE_ORDER_STATUS: dict[Source, str] = {Source.ORDERS: "completed", Source.REFUNDS: "refunded"}

# The time column that windows, first() and last() read for each source. A refund has no time of its own in the
# data model, so refunds are placed in time by the order's placed_at.
SOURCE_TIME_FIELD: dict[Source, str] = {
    Source.ORDERS: "placed_at",
    Source.REFUNDS: "placed_at",
    Source.EVENTS: "occurred_at",
}

PROPERTY_PREFIX = "properties."
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class FieldSpec:
    """One field a rule can name. ``choices`` only for enums; ``is_integer`` refuses fractional values."""

    name: str
    type: FieldType
    choices: tuple[str, ...] = ()
    is_integer: bool = False
    # English label for descriptions; defaults to the name with spaces ("total_spent" → "total spent").
    label: str = ""

    def __post_init__(self) -> None:
        if self.type is FieldType.ENUM and not self.choices:
            raise ValueError(f"enum field {self.name!r} needs at least one choice")
        if self.type is not FieldType.ENUM and self.choices:
            raise ValueError(f"only enum fields have choices ({self.name!r} is {self.type})")
        folded = [choice.casefold() for choice in self.choices]
        if len(set(folded)) != len(folded):
            # Rules match choices case-insensitively, so two choices differing only by case would be ambiguous.
            raise ValueError(f"enum field {self.name!r} has choices that differ only by case")
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").replace(".", " "))

    def choice_named(self, value: str) -> str | None:
        """The declared spelling of an enum choice, matched case-insensitively."""
        folded = value.casefold()
        return next((choice for choice in self.choices if choice.casefold() == folded), None)


LIFECYCLE_STAGES = ("subscriber", "lead", "customer", "advocate")
FAN_SOURCES = ("subscription", "direct_purchase", "import", "event", "social", "referral", "manual")

# Events that record what fanbase did to a fan (a message sent to them, their address bouncing), not something they
# did (a stage moved by a purchase): they never make a fan active (``last_active_at``), though rules can count them
# like any other event.
NOT_ACTIVITY_EVENTS = ("message_sent", "email_bounced", "lifecycle_changed")

FAN_CORE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(name="email", type=FieldType.TEXT),
    FieldSpec(name="first_name", type=FieldType.TEXT),
    FieldSpec(name="last_name", type=FieldType.TEXT),
    # Ordered in the funnel; rules compare with in / not_in (lifecycle_stage in (customer, advocate)).
    FieldSpec(name="lifecycle_stage", type=FieldType.ENUM, choices=LIFECYCLE_STAGES, label="lifecycle stage"),
    FieldSpec(name="source", type=FieldType.ENUM, choices=FAN_SOURCES),
    FieldSpec(name="country", type=FieldType.TEXT),
    FieldSpec(name="city", type=FieldType.TEXT),
    FieldSpec(name="created_at", type=FieldType.DATETIME, label="sign-up date"),
    FieldSpec(name="total_spent", type=FieldType.MONEY),
    FieldSpec(name="purchase_count", type=FieldType.NUMBER, is_integer=True, label="number of purchases"),
    FieldSpec(name="first_purchase_at", type=FieldType.DATETIME, label="first purchase"),
    FieldSpec(name="last_purchase_at", type=FieldType.DATETIME, label="last purchase"),
    FieldSpec(name="last_active_at", type=FieldType.DATETIME, label="last activity"),
)
FAN_CORE_FIELD_NAMES = frozenset(spec.name for spec in FAN_CORE_FIELDS)

ORDER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(name="amount", type=FieldType.MONEY),
    FieldSpec(name="currency", type=FieldType.TEXT),
    FieldSpec(name="category", type=FieldType.TEXT),
    FieldSpec(name="product", type=FieldType.TEXT),
    FieldSpec(name="placed_at", type=FieldType.DATETIME, label="order date"),
)

EVENT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(name="type", type=FieldType.TEXT),
    FieldSpec(name="occurred_at", type=FieldType.DATETIME, label="event time"),
)

SOURCE_FIELDS: dict[Source, tuple[FieldSpec, ...]] = {
    Source.ORDERS: ORDER_FIELDS,
    Source.REFUNDS: ORDER_FIELDS,
    Source.EVENTS: EVENT_FIELDS,
}

COUNT_SPEC = FieldSpec(name="count", type=FieldType.NUMBER, is_integer=True)


def property_key(field_name: str) -> str | None:
    """``"properties.venue"`` → ``"venue"``; None for any other name.

    Keys usable in rules are identifiers so the SQL compiler can put them in a JSON path without quoting.
    """
    if not field_name.startswith(PROPERTY_PREFIX):
        return None
    key = field_name.removeprefix(PROPERTY_PREFIX)
    return key if IDENTIFIER_RE.match(key) else None


def property_spec(key: str) -> FieldSpec:
    return FieldSpec(name=PROPERTY_PREFIX + key, type=FieldType.ANY, label=f"property {key}")


def aggregate_result_spec(aggregate: Aggregate, measured: FieldSpec | None) -> FieldSpec:
    """The type an aggregate's result is compared as: count is an integer, first/last are times."""
    match aggregate:
        case Aggregate.COUNT:
            return COUNT_SPEC
        case Aggregate.SUM | Aggregate.MIN | Aggregate.MAX:
            if measured is None:
                raise ValueError(f"{aggregate} needs a field")
            return measured
        case Aggregate.FIRST | Aggregate.LAST:
            return FieldSpec(name=aggregate.value, type=FieldType.DATETIME)


@dataclass(frozen=True, kw_only=True)
class Catalogue:
    """The fields of one workspace: the core fan fields plus its declared custom fields."""

    custom_fields: tuple[FieldSpec, ...] = ()
    _fan_fields: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fan_fields = {spec.name: spec for spec in FAN_CORE_FIELDS}
        for spec in self.custom_fields:
            if spec.type is FieldType.ANY:
                raise ValueError(f"custom field {spec.name!r} needs a concrete type")
            if not IDENTIFIER_RE.match(spec.name):
                raise ValueError(f"custom field name {spec.name!r} must be letters, digits and underscores")
            if spec.name in fan_fields:
                raise ValueError(f"custom field {spec.name!r} clashes with another field")
            fan_fields[spec.name] = spec
        object.__setattr__(self, "_fan_fields", fan_fields)

    @property
    def fan_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(self._fan_fields.values())

    def fan_field(self, name: str) -> FieldSpec | None:
        return self._fan_fields.get(name)

    def is_custom(self, name: str) -> bool:
        return name in self._fan_fields and name not in FAN_CORE_FIELD_NAMES

    def source_field(self, source: Source, name: str) -> FieldSpec | None:
        """A field of the rows of ``source``; events also have ``properties.<key>``."""
        for spec in SOURCE_FIELDS[source]:
            if spec.name == name:
                return spec
        if source is Source.EVENTS and (key := property_key(name)) is not None:
            return property_spec(key)
        return None


CORE_CATALOGUE = Catalogue()
