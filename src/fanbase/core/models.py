"""The domain's records: what services accept and return, and what the API and CLI speak.

Inputs refuse unknown fields (``extra="forbid"``) so a misspelt field is an error, not silently ignored.
Money is ``Decimal`` in major units here (``12.50``); storage uses integer minor units.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

LifecycleStage = Literal["subscriber", "lead", "customer", "advocate"]
Source = Literal["subscription", "direct_purchase", "import", "event", "social", "referral", "manual"]
OrderStatus = Literal["completed", "refunded"]
ListStatus = Literal["subscribed", "unsubscribed", "bounced"]
CustomFieldType = Literal["text", "number", "money", "enum", "datetime", "boolean"]

LIFECYCLE_STAGES: tuple[LifecycleStage, ...] = ("subscriber", "lead", "customer", "advocate")
SOURCES: tuple[Source, ...] = (
    "subscription",
    "direct_purchase",
    "import",
    "event",
    "social",
    "referral",
    "manual",
)
CORE_FAN_FIELDS = frozenset(
    {
        "id",
        "email",
        "first_name",
        "last_name",
        "lifecycle_stage",
        "source",
        "country",
        "city",
        "created_at",
        "updated_at",
        "total_spent",
        "purchase_count",
        "first_purchase_at",
        "last_purchase_at",
        "last_active_at",
        "custom_fields",
        "tags",
        "lists",
    }
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
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


def slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError("must be lower-case letters, digits and underscores, starting with a letter")
    return value


def country_code(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValueError("must be a two-letter ISO 3166 country code, e.g. FR")
    return code


def color(value: str) -> str:
    if not _COLOR.match(value):
        raise ValueError("must be a colour like #1a2b3c")
    return value


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


# --- workspaces and keys --------------------------------------------------------------------------


class Workspace(Record):
    id: int
    name: str
    currency: str
    created_at: datetime


class ApiKey(Record):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret. Shown once: only its hash is stored.")


class WorkspaceCreated(Record):
    workspace: Workspace
    api_key: ApiKeyCreated


# --- custom fields --------------------------------------------------------------------------------


class CustomFieldIn(Input):
    name: Slug
    type: CustomFieldType
    choices: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] | None = None

    @model_validator(mode="after")
    def _choices_fit_type(self) -> CustomFieldIn:
        if self.name in CORE_FAN_FIELDS:
            raise ValueError(f"name '{self.name}' is a core fan field")
        if self.type == "enum" and not self.choices:
            raise ValueError("an enum field needs at least one choice")
        if self.type != "enum" and self.choices is not None:
            raise ValueError("only enum fields take choices")
        return self


class CustomField(Record):
    id: int
    name: str
    type: CustomFieldType
    choices: tuple[str, ...] | None
    created_at: datetime


# --- fans -----------------------------------------------------------------------------------------


class FanIn(Input):
    email: Email
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    lifecycle_stage: LifecycleStage = "subscriber"
    source: Source = "manual"
    country: CountryCode | None = None
    city: ShortText | None = None
    created_at: UtcDatetime | None = Field(default=None, description="When the fan joined; default now.")
    custom_fields: dict[str, JsonScalar] = Field(default_factory=dict)
    tags: tuple[Name, ...] = Field(default=(), description="Tag names; missing tags are created.")
    lists: tuple[Name, ...] = Field(default=(), description="List names to subscribe to; created if missing.")


class FanPatch(Input):
    """Partial update: only the fields present change. A custom field set to null is removed."""

    email: Email | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    lifecycle_stage: LifecycleStage | None = None
    source: Source | None = None
    country: CountryCode | None = None
    city: ShortText | None = None
    custom_fields: dict[str, JsonScalar] | None = None


class Fan(Record):
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    lifecycle_stage: LifecycleStage
    source: Source
    country: str | None
    city: str | None
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    total_spent: Decimal
    purchase_count: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    last_active_at: datetime | None
    tags: tuple[str, ...] = ()
    lists: dict[str, ListStatus] = Field(default_factory=dict)


class FanFilter(Input):
    """Filters for the fan list; all given filters must hold."""

    tag: str | None = None
    list: str | None = None
    list_status: ListStatus = "subscribed"
    lifecycle_stage: LifecycleStage | None = None
    source: Source | None = None
    q: str | None = Field(default=None, max_length=200, description="Text search in email and names.")
    segment_id: int | None = Field(default=None, description="Members of this segment.")
    rule: RuleJson | None = Field(default=None, description="An ad-hoc rule (JSON form).")
    rule_text: RuleText | None = Field(default=None, description="An ad-hoc rule (text form).")


T = TypeVar("T")


class Page(Record, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


# --- orders and events ----------------------------------------------------------------------------


class FanReference(Input):
    """Who did it: an existing fan's id, or an email (a fan is created for an unknown email)."""

    fan_id: RowId | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> FanReference:
        if (self.fan_id is None) == (self.email is None):
            raise ValueError("give exactly one of fan_id or email")
        return self


class OrderIn(FanReference):
    amount: Money
    currency: str | None = Field(default=None, description="ISO 4217; default the workspace currency.")
    category: Annotated[str, Field(min_length=1, max_length=64)]
    product: ShortText | None = None
    status: OrderStatus = "completed"
    placed_at: UtcDatetime | None = Field(default=None, description="Default now.")
    external_id: ShortText | None = Field(default=None, description="Your shop's order id; unique.")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not _CURRENCY.match(value.upper()):
            raise ValueError("must be a three-letter ISO 4217 code, e.g. USD")
        return value.upper() if value else value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        return value.strip().lower()


class Order(Record):
    id: int
    fan_id: int
    amount: Decimal
    currency: str
    category: str
    product: str | None
    status: OrderStatus
    placed_at: datetime
    refunded_at: datetime | None
    external_id: str | None
    created_at: datetime


class EventIn(FanReference):
    type: Slug
    properties: dict[Annotated[str, Field(min_length=1, max_length=64)], JsonScalar] = Field(default_factory=dict)
    occurred_at: UtcDatetime | None = Field(default=None, description="Default now.")


class Event(Record):
    id: int
    fan_id: int
    type: str
    properties: dict[str, Any]
    occurred_at: datetime
    created_at: datetime


class BatchResult(Record):
    ids: list[int]
    created_fans: int = Field(description="Fans created for emails that were not known yet.")


# --- tags and lists -------------------------------------------------------------------------------


class TagIn(Input):
    name: Name
    color: Color | None = None
    category: Annotated[str, Field(max_length=64)] | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None


class TagPatch(Input):
    name: Name | None = None
    color: Color | None = None
    category: Annotated[str, Field(max_length=64)] | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None


class Tag(Record):
    id: int
    name: str
    color: str | None
    category: str | None
    description: str | None
    created_at: datetime
    fan_count: int = 0


class ListIn(Input):
    name: Name
    description: Annotated[str, Field(max_length=1000)] | None = None


class ListPatch(Input):
    name: Name | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None


class FanList(Record):
    id: int
    name: str
    description: str | None
    created_at: datetime
    subscribed: int = 0
    unsubscribed: int = 0
    bounced: int = 0


class FanIds(Input):
    fan_ids: tuple[RowId, ...] = Field(min_length=1, max_length=10_000)


class SubscriptionIn(Input):
    fan_ids: tuple[RowId, ...] = Field(min_length=1, max_length=10_000)
    status: ListStatus = "subscribed"
    consent_source: ShortText | None = Field(
        default=None, description="How consent was given, e.g. 'signup form', 'ticket checkout'."
    )
    consent_at: UtcDatetime | None = Field(default=None, description="When consent was given; default now.")


class ListMembership(Record):
    list_id: int
    list_name: str
    fan_id: int
    status: ListStatus
    consent_at: datetime | None
    consent_source: str | None
    status_changed_at: datetime


class Changed(Record):
    changed: int = Field(description="How many rows this call changed (already-present rows do not count).")


# --- CSV import -----------------------------------------------------------------------------------


class ImportRowError(Record):
    line: int
    email: str | None
    reason: str


class ImportReport(Record):
    rows: int
    created: int
    updated: int
    errors: list[ImportRowError]


# --- segments --------------------------------------------------------------------------------------------

SegmentKind = Literal["static", "dynamic"]


class RuleIn(Input):
    """A rule given either as JSON (`rule`) or in the text form (`rule_text`)."""

    rule: RuleJson | None = None
    rule_text: RuleText | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RuleIn:
        if (self.rule is None) == (self.rule_text is None):
            raise ValueError("give exactly one of rule (JSON) or rule_text")
        return self


class SegmentIn(Input):
    name: Name
    description: Annotated[str, Field(max_length=1000)] | None = None
    kind: SegmentKind = "dynamic"
    rule: RuleJson | None = None
    rule_text: RuleText | None = None

    @model_validator(mode="after")
    def _rule_fits_kind(self) -> SegmentIn:
        has_rule = self.rule is not None or self.rule_text is not None
        if self.kind == "static" and has_rule:
            raise ValueError("a static segment has no rule: add fans to it instead")
        if self.kind == "dynamic" and (self.rule is None) == (self.rule_text is None):
            raise ValueError("a dynamic segment needs exactly one of rule (JSON) or rule_text")
        return self


class SegmentPatch(Input):
    """Rename, describe, or edit the rule (dynamic segments); a rule edit is versioned and applied at once."""

    name: Name | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    rule: RuleJson | None = None
    rule_text: RuleText | None = None

    @model_validator(mode="after")
    def _one_rule_form(self) -> SegmentPatch:
        if self.rule is not None and self.rule_text is not None:
            raise ValueError("give at most one of rule (JSON) or rule_text")
        return self


class Segment(Record):
    id: int
    name: str
    description: str | None
    kind: SegmentKind
    rule: dict[str, Any] | None = Field(description="The rule's JSON form (dynamic segments).")
    rule_text: str | None = Field(description="The rule in the text form.")
    rule_english: str | None = Field(description="The rule in plain English.")
    rule_version: int
    size: int
    created_at: datetime
    updated_at: datetime
    last_evaluated_at: datetime | None
    last_error: str | None
    next_flip_at: datetime | None = Field(
        default=None,
        description="The next moment time alone can change this segment's members (rules with relative dates).",
    )


class ConditionCount(Record):
    path: str = Field(description="Where the condition sits in the rule, e.g. all[1].")
    description: str
    count: int = Field(description="Fans matching this condition alone.")


class Preview(Record):
    count: int
    sample: list[Fan]
    conditions: list[ConditionCount]
    rule: dict[str, Any]
    rule_text: str
    rule_english: str


class MembershipChange(Record):
    entered: int
    exited: int
    size: int


class SegmentTemplate(Record):
    key: str
    name: str
    description: str
    rule_text: str
    requires: tuple[str, ...] = Field(default=(), description="Templates this one is built on (segments of segments).")


class EmailsIn(Input):
    emails: tuple[Email, ...] = Field(min_length=1, max_length=10_000)


# --- history (the ledgers) ------------------------------------------------------------------------------

Bucket = Literal["hour", "day"]


class MembershipEvent(Record):
    """One line of the ledger: a fan entered or left a segment, when, and why."""

    segment_id: int
    segment_name: str
    fan_id: int
    fan_email: str
    entered: bool
    at: datetime
    cause: str = Field(description="write, time, manual, import, rule_edit, build or refresh")
    rule_version: int


class FanSegmentMembership(Record):
    """A segment a fan is in now: since when, and what put them there."""

    segment_id: int
    segment_name: str
    kind: SegmentKind
    since: datetime
    cause: str
    rule_version: int


class SizePoint(Record):
    at: datetime = Field(description="Start of the hour or day (UTC).")
    size: int = Field(description="Size at the end of the bucket.")
    entered: int
    exited: int


# --- webhooks --------------------------------------------------------------------------------------------

WebhookEvent = Literal[
    "segment.entered", "segment.exited", "tag.added", "tag.removed", "list.subscribed", "list.unsubscribed"
]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = (
    "segment.entered",
    "segment.exited",
    "tag.added",
    "tag.removed",
    "list.subscribed",
    "list.unsubscribed",
)
DeliveryStatus = Literal["pending", "retrying", "delivered", "skipped", "gave_up"]


def webhook_url(value: str) -> str:
    """The syntax half of target validation (http/https, a host, no credentials); which addresses the host may
    resolve to is checked by the service, which can resolve names."""
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials (user:password@); verify requests with the signature")
    if not parts.hostname:
        raise ValueError("must name a host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if any(character.isspace() for character in value):
        raise ValueError("must not contain whitespace")
    return value


class WebhookIn(Input):
    url: Annotated[
        str,
        Field(
            min_length=1,
            max_length=2000,
            description="Where to POST events: http(s), no credentials; private addresses are refused by default.",
        ),
        AfterValidator(webhook_url),
    ]
    events: tuple[WebhookEvent, ...] = Field(min_length=1, max_length=len(WEBHOOK_EVENTS))

    @field_validator("events")
    @classmethod
    def _canonical_events(cls, value: tuple[WebhookEvent, ...]) -> tuple[WebhookEvent, ...]:
        return tuple(event for event in WEBHOOK_EVENTS if event in value)


class Webhook(Record):
    id: int
    url: str
    events: list[WebhookEvent]
    created_at: datetime
    disabled_at: datetime | None = Field(description="Set when disabled; a disabled webhook receives nothing.")


class WebhookCreated(Webhook):
    secret: str = Field(
        description="The signing secret. Shown once: verify `Fanbase-Webhook-Signature` = "
        "v1=hex(HMAC-SHA256(secret, timestamp + '.' + body))."
    )


class Delivery(Record):
    id: int = Field(description="The delivery's own id (one per webhook and event).")
    event_id: str = Field(description="The event's id, sent as `Fanbase-Webhook-Id`; the same on every retry.")
    type: WebhookEvent
    status: DeliveryStatus = Field(
        description="pending (not tried yet), retrying (failed, will retry), delivered, skipped (its source was "
        "erased before delivery: nothing sent), gave_up (failed too many times: no more retries)."
    )
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When it will be tried next; null once finished.")
    last_error: str | None


class Impact(Record):
    """What saving a rule edit would do, before it is saved."""

    joining: int
    leaving: int
    size_after: int
    sample_joining: list[Fan]
    sample_leaving: list[Fan]


class SegmentDrift(Record):
    """A from-scratch recomputation compared with stored membership."""

    segment_id: int
    segment_name: str
    missing: int = Field(description="Fans the rule matches who are not stored as members.")
    extra: int = Field(description="Stored members the rule no longer matches.")
    pending_time: int = Field(
        description="Differences explained by time boundaries crossed since the last tick (applied at the next)."
    )

    @property
    def is_exact(self) -> bool:
        return self.missing == 0 and self.extra == 0
