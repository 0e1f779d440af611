"""A deterministic, realistic workspace for benchmarks: fans, orders, events, tags, lists.

Same ``(fans, seed, workspace_id, now)`` → byte-identical rows, whatever the chunk size: one ``random.Random(seed)``
is drawn from in a fixed order, fan by fan. numpy is not a dependency, so the distributions come from the standard
library (``lognormvariate``, ``paretovariate``, inverse-CDF sampling).

The shape of the data, and why:
- Fans signed up over three years, more of them recently (a growing artist); stages follow a funnel
  (half subscribers, a twentieth advocates); customers and advocates are the fans who bought.
- Engagement per fan is lognormal (most fans do little, a few do a lot); order counts of buyers are Pareto and
  amounts lognormal per fan times per order, so revenue is concentrated in a small head (what "VIP" rules look for).
- A fan's activity decays after sign-up (truncated exponential with a per-fan time constant) and only the last two
  years are kept, so recency rules ("active in the last 30 days") select a realistic minority.
- ~10 orders+events per fan on average; ~5 % of orders are refunded.
- Tags have Zipf-like popularity ("VIP" follows spend); list memberships mix statuses with their consent.

Rows are tuples in the column order of the ``*_COLUMNS`` constants, ready for COPY / executemany. Datetimes are
timezone-aware UTC ``datetime``s; JSON columns hold their serialised text (shared strings, so most rows cost
nothing to serialise). Derived figures on fans (total spent, purchase count, first/last purchase, last active) are
computed here, equal to what ``fans_repo.recompute_figures`` computes from the orders and events.
"""

from __future__ import annotations

import json
import math
import random
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from fanbase.db.types import format_stored_datetime

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 730  # orders and events span the two years before now
SIGNUP_DAYS = 3 * 365  # fans signed up over three years
CURRENCY = "USD"

Row = tuple[Any, ...]

CUSTOM_FIELD_COLUMNS = ("id", "workspace_id", "name", "type", "choices", "created_at")
TAG_COLUMNS = ("id", "workspace_id", "name", "name_key", "color", "category", "description", "created_at")
LIST_COLUMNS = ("id", "workspace_id", "name", "name_key", "description", "created_at")
FAN_COLUMNS = (
    "id",
    "workspace_id",
    "email",
    "first_name",
    "last_name",
    "lifecycle_stage",
    "source",
    "country",
    "city",
    "custom_fields",
    "created_at",
    "updated_at",
    "total_spent_cents",
    "purchase_count",
    "first_purchase_at",
    "last_purchase_at",
    "last_active_at",
)
ORDER_COLUMNS = (
    "id",
    "workspace_id",
    "fan_id",
    "external_id",
    "amount_cents",
    "currency",
    "category",
    "product",
    "status",
    "placed_at",
    "refunded_at",
    "created_at",
    "original_amount_cents",
    "original_currency",
    "exchange_rate",
    "original_refunded_cents",
)
EVENT_COLUMNS = ("id", "workspace_id", "fan_id", "type", "properties", "occurred_at", "created_at")
FAN_TAG_COLUMNS = ("workspace_id", "tag_id", "fan_id", "added_at")
LIST_MEMBER_COLUMNS = (
    "workspace_id",
    "list_id",
    "fan_id",
    "status",
    "consent_at",
    "consent_source",
    "status_changed_at",
)
SUBSCRIPTION_LOG_COLUMNS = ("id", "workspace_id", "list_id", "fan_id", "status", "source", "at")

# Load order respects the foreign keys.
COLUMNS: dict[str, tuple[str, ...]] = {
    "custom_fields": CUSTOM_FIELD_COLUMNS,
    "tags": TAG_COLUMNS,
    "lists": LIST_COLUMNS,
    "fans": FAN_COLUMNS,
    "orders": ORDER_COLUMNS,
    "events": EVENT_COLUMNS,
    "fan_tags": FAN_TAG_COLUMNS,
    "list_members": LIST_MEMBER_COLUMNS,
    "list_subscription_log": SUBSCRIPTION_LOG_COLUMNS,
}
CATALOGUE_TABLES = ("custom_fields", "tags", "lists")
FAN_TABLES = ("fans", "orders", "events", "fan_tags", "list_members", "list_subscription_log")
# Columns holding serialised JSON text, per table.
JSON_COLUMNS: dict[str, frozenset[str]] = {
    "custom_fields": frozenset({"choices"}),
    "fans": frozenset({"custom_fields"}),
    "events": frozenset({"properties"}),
}
# Tables whose ids the generator assigns, so the loader must move their sequences past them.
TABLES_WITH_IDS = ("custom_fields", "tags", "lists", "fans", "orders", "events", "list_subscription_log")

# --- the catalogue -----------------------------------------------------------------------------------------

STAGES = ("subscriber", "lead", "customer", "advocate")
STAGE_WEIGHTS = (0.50, 0.22, 0.23, 0.05)
STAGE_ENGAGEMENT = {"subscriber": 0.7, "lead": 1.0, "customer": 1.3, "advocate": 2.5}
SOURCES = ("subscription", "direct_purchase", "import", "event", "social", "referral", "manual")
SOURCE_WEIGHTS = (0.35, 0.20, 0.12, 0.10, 0.13, 0.06, 0.04)
BUYER_SOURCE_WEIGHTS = (0.15, 0.50, 0.10, 0.12, 0.06, 0.05, 0.02)

PLACES: tuple[tuple[str, str, float], ...] = (
    ("US", "New York", 9),
    ("US", "Los Angeles", 7),
    ("US", "Chicago", 4),
    ("US", "Austin", 3),
    ("US", "Nashville", 3),
    ("US", "Seattle", 2),
    ("GB", "London", 8),
    ("GB", "Manchester", 3),
    ("GB", "Glasgow", 2),
    ("DE", "Berlin", 5),
    ("DE", "Hamburg", 2),
    ("FR", "Paris", 5),
    ("FR", "Lyon", 1.5),
    ("CA", "Toronto", 3),
    ("CA", "Montreal", 2),
    ("AU", "Melbourne", 2),
    ("AU", "Sydney", 2),
    ("NL", "Amsterdam", 2),
    ("SE", "Stockholm", 1.5),
    ("ES", "Barcelona", 1.5),
    ("IT", "Milan", 1),
    ("IE", "Dublin", 1),
    ("BR", "São Paulo", 2),
    ("MX", "Mexico City", 2),
    ("JP", "Tokyo", 2),
)
NO_PLACE_SHARE = 0.04
VENUES: tuple[tuple[str, str], ...] = (
    ("Bowery Ballroom", "New York"),
    ("Brooklyn Steel", "New York"),
    ("The Troubadour", "Los Angeles"),
    ("The Fonda", "Los Angeles"),
    ("Metro", "Chicago"),
    ("Stubb's", "Austin"),
    ("Ryman Auditorium", "Nashville"),
    ("The Showbox", "Seattle"),
    ("O2 Academy Brixton", "London"),
    ("KOKO", "London"),
    ("Albert Hall", "Manchester"),
    ("Barrowland", "Glasgow"),
    ("Columbiahalle", "Berlin"),
    ("Astra", "Berlin"),
    ("Uebel & Gefährlich", "Hamburg"),
    ("La Cigale", "Paris"),
    ("Le Trianon", "Paris"),
    ("Le Transbordeur", "Lyon"),
    ("Danforth Music Hall", "Toronto"),
    ("MTelus", "Montreal"),
    ("Forum", "Melbourne"),
    ("Enmore Theatre", "Sydney"),
    ("Paradiso", "Amsterdam"),
    ("Debaser", "Stockholm"),
    ("Razzmatazz", "Barcelona"),
    ("Fabrique", "Milan"),
    ("Vicar Street", "Dublin"),
    ("Audio", "São Paulo"),
    ("Foro Indie Rocks!", "Mexico City"),
    ("Liquidroom", "Tokyo"),
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Alex Sam Jordan Taylor Morgan Casey Riley Jamie Avery Quinn Emma Olivia Ava Mia Sophia Liam Noah Oliver Elijah "
    "Lucas Léa Chloé Hugo Louis Mila Finn Lena Jonas Yuki Haruto Sofía Mateo Valentina Diego Aoife Seán Freya Oscar "
    "Isla Arthur Priya Arjun Zoe Leo Nora Ezra Maya Kai Ines Tomás"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Martin Bernard Dubois Müller Schmidt Schneider Fischer "
    "Rossi Russo Silva Santos Tanaka Suzuki Sato Murphy Kelly Walsh Andersson Johansson Jansen de_Vries Wilson "
    "Taylor Thomas Moore Jackson White Harris Clark Lewis Young Hall Allen King Wright Scott Green Baker Adams"
)
EMAIL_DOMAINS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me")

CATEGORIES = ("merch", "music", "ticket", "course", "membership")
CATEGORY_CUMULATIVE = (0.35, 0.60, 0.85, 0.90, 1.0)
BASE_PRICE_CENTS = {"merch": 3000, "music": 1000, "ticket": 4500, "course": 12000, "membership": 800}
PRODUCTS = {
    "merch": ("T-shirt", "Hoodie", "Poster", "Tote bag", "Cap"),
    "music": ("Vinyl LP", "CD", "Digital album", "Single"),
    "ticket": ("GA ticket", "VIP ticket"),
    "course": ("Songwriting course", "Production masterclass"),
    "membership": ("Fan club monthly", "Fan club yearly"),
}
REFUND_SHARE = 0.05

EVENT_TYPES = ("email_opened", "page_viewed", "link_clicked", "gig_attended", "course_completed")
EVENT_CUMULATIVE = (0.45, 0.70, 0.85, 0.96, 1.0)
EVENTS_PER_FAN = 10.8  # before the window's cut: ~9 events and ~0.9 orders per fan in all

TAGS: tuple[tuple[str, str], ...] = (
    ("VIP", "value"),
    ("Newsletter Reader", "engagement"),
    ("Local", "geo"),
    ("Festival Goer", "behaviour"),
    ("Vinyl Collector", "behaviour"),
    ("Superfan", "engagement"),
    ("Early Adopter", "engagement"),
    ("Discord", "community"),
    ("Merch Lover", "behaviour"),
    ("Street Team", "community"),
    ("Patreon", "community"),
    ("Course Alumni", "behaviour"),
    ("Beta Tester", "community"),
    ("Press", "industry"),
    ("Industry", "industry"),
)
TAG_COLORS = ("#e11d48", "#2563eb", "#16a34a", "#d97706", "#7c3aed")
VIP_SPEND_CENTS = 30_000
LISTS: tuple[tuple[str, float], ...] = (
    ("Newsletter", 0.75),
    ("Tour Alerts", 0.35),
    ("New Releases", 0.30),
    ("Presale", 0.20),
    ("Merch Drops", 0.15),
    ("Local Shows", 0.12),
    ("Fan Club", 0.10),
    ("Europe", 0.08),
    ("Course Updates", 0.05),
    ("Press", 0.01),
)
CONSENT_SOURCES = ("signup_form", "signup_form", "checkout", "import", "gig_signup")

GENRES = ("rock", "pop", "jazz", "electronic", "folk", "hip_hop")
CUSTOM_FIELDS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("favourite_genre", "enum", GENRES),
    ("fan_club_member", "boolean", None),
    ("merch_credit", "money", None),
    ("vip_since", "datetime", None),
    ("shows_seen", "number", None),
)

MICROSECONDS_PER_DAY = 86_400 * 1_000_000
EMPTY_JSON = "{}"


def _cumulative(weights: tuple[float, ...]) -> list[float]:
    total = sum(weights)
    running = 0.0
    result = []
    for weight in weights:
        running += weight
        result.append(running / total)
    result[-1] = 1.0
    return result


def _pick(values: tuple[Any, ...], cumulative: list[float] | tuple[float, ...], u: float) -> Any:
    """The value whose cumulative-weight bucket holds ``u`` (in [0, 1))."""
    return values[bisect_right(cumulative, u)]


@dataclass
class Chunk:
    """Rows for a block of fans, by table name (tables in ``COLUMNS`` order)."""

    rows: dict[str, list[Row]] = field(default_factory=lambda: {table: [] for table in FAN_TABLES})

    def count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


@dataclass(frozen=True)
class Spec:
    fans: int = 100_000
    seed: int = 6
    workspace_id: int = 1
    now: datetime = NOW
    chunk_size: int = 5_000


class Generator:
    """``catalogue()`` then ``chunks()``; ids are assigned here, starting at 1 in every table."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.random = random.Random(spec.seed)
        self.next_order_id = 1
        self.next_event_id = 1
        self.next_log_id = 1
        self.totals: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        self._places = tuple((country, city) for country, city, _ in PLACES)
        self._place_cumulative = _cumulative(tuple(weight for _, _, weight in PLACES))
        self._stage_cumulative = _cumulative(STAGE_WEIGHTS)
        self._source_cumulative = _cumulative(SOURCE_WEIGHTS)
        self._buyer_source_cumulative = _cumulative(BUYER_SOURCE_WEIGHTS)
        self._venues_by_city: dict[str, list[str]] = {}
        for venue, city in VENUES:
            self._venues_by_city.setdefault(city, []).append(venue)
        # One serialised string per venue: events share them instead of serialising per row.
        self._venue_json = {
            venue: json.dumps({"venue": venue, "city": city}, ensure_ascii=False) for venue, city in VENUES
        }
        self._tag_probability = [0.40 / (rank**0.9) for rank in range(1, len(TAGS) + 1)]
        self._engagement_mean = math.exp(0.5)  # mean of lognormvariate(0, 1)
        self._email_locals: dict[str, str] = {}

    def _email_local(self, first_name: str | None, last_name: str | None) -> str:
        """ASCII local part ("lea.muller"), as the email validator and most mail systems expect."""
        if first_name is None or last_name is None:
            return "fan"
        key = f"{first_name}.{last_name}"
        local = self._email_locals.get(key)
        if local is None:
            folded = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode()
            local = self._email_locals[key] = folded.replace(" ", "").lower()
        return local

    # --- catalogue ---

    def catalogue(self) -> dict[str, list[Row]]:
        workspace_id = self.spec.workspace_id
        created = self.spec.now - timedelta(days=SIGNUP_DAYS + 30)
        rows: dict[str, list[Row]] = {
            "custom_fields": [
                (index, workspace_id, name, kind, json.dumps(list(choices)) if choices else None, created)
                for index, (name, kind, choices) in enumerate(CUSTOM_FIELDS, start=1)
            ],
            "tags": [
                (
                    index,
                    workspace_id,
                    name,
                    name.casefold(),
                    TAG_COLORS[index % len(TAG_COLORS)],
                    category,
                    f"Fans who are {name.lower()}",
                    created,
                )
                for index, (name, category) in enumerate(TAGS, start=1)
            ],
            "lists": [
                (index, workspace_id, name, name.casefold(), f"The {name} list", created)
                for index, (name, _) in enumerate(LISTS, start=1)
            ],
        }
        for table, table_rows in rows.items():
            self.totals[table] += len(table_rows)
        return rows

    # --- fans ---

    def chunks(self) -> Iterator[Chunk]:
        size = self.spec.chunk_size
        for start in range(1, self.spec.fans + 1, size):
            chunk = Chunk()
            for fan_id in range(start, min(start + size, self.spec.fans + 1)):
                self._fan(fan_id, chunk.rows)
            for table, table_rows in chunk.rows.items():
                self.totals[table] += len(table_rows)
            yield chunk

    def _fan(self, fan_id: int, out: dict[str, list[Row]]) -> None:
        rnd = self.random.random
        spec = self.spec
        now = spec.now
        workspace_id = spec.workspace_id

        signup_age = int(SIGNUP_DAYS * MICROSECONDS_PER_DAY * rnd() ** 1.6)
        created_at = now - timedelta(microseconds=signup_age)
        stage: str = _pick(STAGES, self._stage_cumulative, rnd())
        is_buyer = stage in ("customer", "advocate")
        source: str = _pick(SOURCES, self._buyer_source_cumulative if is_buyer else self._source_cumulative, rnd())
        if rnd() < NO_PLACE_SHARE:
            country: str | None = None
            city: str | None = None
        else:
            country, city = _pick(self._places, self._place_cumulative, rnd())
        first_name: str | None = FIRST_NAMES[int(rnd() * len(FIRST_NAMES))]
        last_name: str | None = LAST_NAMES[int(rnd() * len(LAST_NAMES))].replace("_", " ")
        if rnd() < 0.05:
            first_name = last_name = None
        local = self._email_local(first_name, last_name)
        email = f"{local}{fan_id}@{EMAIL_DOMAINS[int(rnd() * len(EMAIL_DOMAINS))]}"

        # Activity: a truncated exponential after sign-up, restricted to the kept history window.
        window = HISTORY_DAYS * MICROSECONDS_PER_DAY
        start_offset = max(0, signup_age - window)  # µs after sign-up where history begins
        tau = max(1.0, self.random.lognormvariate(math.log(150.0), 1.0)) * MICROSECONDS_PER_DAY
        # The exponential is memoryless: truncated to [start, now] it is start + one truncated to [0, now - start].
        mass = 1.0 - math.exp(-(signup_age - start_offset) / tau)
        # Of a fan's lifetime activity, the share that falls inside the window: fans who signed up long ago and
        # faded keep few rows, instead of having a lifetime of activity squeezed into the window's first weeks.
        lifetime = 1.0 - math.exp(-signup_age / tau)
        kept = (math.exp(-start_offset / tau) - math.exp(-signup_age / tau)) / lifetime if lifetime > 0 else 1.0
        log = math.log

        def when() -> datetime:
            offset = start_offset - tau * log(1.0 - rnd() * mass)  # inverse CDF; 1 - u·mass > 0 as u < 1
            return created_at + timedelta(microseconds=min(int(offset), signup_age))

        engagement = self.random.lognormvariate(0.0, 1.0) / self._engagement_mean * STAGE_ENGAGEMENT[stage]
        event_count = int(EVENTS_PER_FAN * engagement * kept + rnd())
        last_active: datetime | None = None
        events = out["events"]
        gigs = 0
        venue_json = self._venue_json
        local_venues = self._venues_by_city.get(city or "", [])
        for _ in range(event_count):
            u = rnd()
            kind: str = _pick(EVENT_TYPES, EVENT_CUMULATIVE, u)
            properties = EMPTY_JSON
            if kind == "gig_attended":
                gigs += 1
                if local_venues and rnd() < 0.6:
                    venue = local_venues[int(rnd() * len(local_venues))]
                else:
                    venue = VENUES[int(rnd() * len(VENUES))][0]
                properties = venue_json[venue]
            at = when()
            events.append((self.next_event_id, workspace_id, fan_id, kind, properties, at, at))
            self.next_event_id += 1
            if last_active is None or at > last_active:
                last_active = at

        total_spent = 0
        purchases = 0
        first_purchase: datetime | None = None
        last_purchase: datetime | None = None
        if is_buyer:
            order_count = min(200, int(self.random.paretovariate(1.6)))
            if stage == "advocate":
                order_count += int(self.random.paretovariate(1.3) * 2)
            order_count = max(1, int(order_count * kept + rnd()))  # a customer keeps at least one order
            spend_level = self.random.lognormvariate(0.0, 0.6)
            orders = out["orders"]
            for _ in range(order_count):
                category: str = _pick(CATEGORIES, CATEGORY_CUMULATIVE, rnd())
                products = PRODUCTS[category]
                product = products[int(rnd() * len(products))]
                amount = int(BASE_PRICE_CENTS[category] * spend_level * self.random.lognormvariate(0.0, 0.3))
                amount = (amount // 100) * 100 + 99  # shop prices end in .99
                placed_at = when()
                refunded_at: datetime | None = None
                status = "completed"
                if rnd() < REFUND_SHARE:
                    status = "refunded"
                    refunded_at = min(now, placed_at + timedelta(days=1 + rnd() * 29))
                else:
                    total_spent += amount
                    purchases += 1
                    if first_purchase is None or placed_at < first_purchase:
                        first_purchase = placed_at
                    if last_purchase is None or placed_at > last_purchase:
                        last_purchase = placed_at
                # A refunded order was still activity (recompute_figures counts every order placed).
                if last_active is None or placed_at > last_active:
                    last_active = placed_at
                order_id = self.next_order_id
                self.next_order_id += 1
                orders.append(
                    (
                        order_id,
                        workspace_id,
                        fan_id,
                        f"shop-{order_id:09d}",
                        amount,
                        CURRENCY,
                        category,
                        product,
                        status,
                        placed_at,
                        refunded_at,
                        placed_at,
                        amount,
                        CURRENCY,
                        "1",
                        0,
                    )
                )

        custom: dict[str, Any] = {}
        if rnd() < 0.6:
            custom["favourite_genre"] = GENRES[int(rnd() * len(GENRES))]
        u = rnd()
        if u < 0.7:
            custom["fan_club_member"] = u < 0.2
        if rnd() < 0.1:
            custom["merch_credit"] = int(rnd() * 50) * 100
        if total_spent >= VIP_SPEND_CENTS and first_purchase is not None:
            custom["vip_since"] = format_stored_datetime(first_purchase)
        if gigs:
            custom["shows_seen"] = gigs
        custom_json = json.dumps(custom, ensure_ascii=False) if custom else EMPTY_JSON

        out["fans"].append(
            (
                fan_id,
                workspace_id,
                email,
                first_name,
                last_name,
                stage,
                source,
                country,
                city,
                custom_json,
                created_at,
                created_at,
                total_spent,
                purchases,
                first_purchase,
                last_purchase,
                last_active,
            )
        )

        known = now - created_at
        fan_tags = out["fan_tags"]
        for index, probability in enumerate(self._tag_probability, start=1):
            # VIP follows spend, with a few hand-picked exceptions; the other tags are independent.
            is_tagged = (total_spent >= VIP_SPEND_CENTS or rnd() < 0.005) if index == 1 else rnd() < probability
            if is_tagged:
                fan_tags.append((workspace_id, index, fan_id, created_at + known * rnd()))

        members = out["list_members"]
        log_rows = out["list_subscription_log"]
        for index, (_, probability) in enumerate(LISTS, start=1):
            if rnd() >= probability:
                continue
            consent_at = created_at + min(known, timedelta(minutes=1 + rnd() * 4 * 24 * 60))
            consent_source = CONSENT_SOURCES[int(rnd() * len(CONSENT_SOURCES))]
            u = rnd()
            status = "subscribed" if u < 0.85 else "unsubscribed" if u < 0.97 else "bounced"
            log_rows.append((self.next_log_id, workspace_id, index, fan_id, "subscribed", consent_source, consent_at))
            self.next_log_id += 1
            changed_at = consent_at
            if status != "subscribed":
                changed_at = consent_at + (now - consent_at) * rnd()
                change_source = "unsubscribe_link" if status == "unsubscribed" else "bounce"
                log_rows.append((self.next_log_id, workspace_id, index, fan_id, status, change_source, changed_at))
                self.next_log_id += 1
            members.append((workspace_id, index, fan_id, status, consent_at, consent_source, changed_at))
