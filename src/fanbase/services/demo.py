"""A realistic, deterministic demo workspace: the artist "Aurora Lane" and a few thousand fans.

Everything is drawn from ``random.Random(seed)`` and placed relative to ``now``, so the same seed and ``now`` give
the same workspace (same fans, orders, events, counts and sums) on either database. The whole plan is built in
Python first, then written set-based in one transaction, and the derived figures are recomputed from the written
orders and events so they are exact.

The shape is chosen so that the segment templates of the guides all have members, and none has everyone:
most fans spend little and a few a lot (a long tail of order counts), activity decays with time (some fans active
this week, most quiet for more than a month), and a cohort of "superfans" buys merch and goes to gigs (the guide's
"spent over $100 on merch and attended at least two gigs").
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Database
from fanbase.db.repositories import bulk as bulk_repo
from fanbase.db.repositories import custom_fields as custom_fields_repo
from fanbase.db.repositories import exchange_rates as rates_repo
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import lists as lists_repo
from fanbase.db.repositories import tags as tags_repo
from fanbase.errors import InvalidInput
from fanbase.schemas.common import JsonScalar
from fanbase.schemas.currencies import ExchangeRateIn
from fanbase.schemas.custom_fields import CustomField
from fanbase.schemas.custom_fields import CustomFieldIn
from fanbase.schemas.fans import FanSource
from fanbase.schemas.fans import LifecycleStage
from fanbase.schemas.lists import SubscriptionStatus
from fanbase.schemas.messages import MailSettingsPatch
from fanbase.schemas.messages import Message
from fanbase.schemas.messages import MessageIn
from fanbase.schemas.workspaces import WorkspaceCreated
from fanbase.services import currencies
from fanbase.services import custom_fields as custom_fields_service
from fanbase.services import lists
from fanbase.services import messages
from fanbase.services import segments
from fanbase.services import webhooks
from fanbase.services import workspaces as workspaces_service

DEMO_WORKSPACE_NAME = "Demo — Aurora Lane"
MAX_DEMO_FANS = 100_000

FIRST_NAMES = (
    "Ada", "Alex", "Amara", "Ana", "Ben", "Camille", "Chloé", "Dan", "Elena", "Emma", "Felix", "Grace", "Hana",
    "Ines", "Isaac", "Jade", "Jonas", "Kai", "Lars", "Léa", "Liam", "Lucía", "Maya", "Mateo", "Mia", "Nadia",
    "Noah", "Olivia", "Omar", "Priya", "Rosa", "Sam", "Sofia", "Theo", "Yara", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Bauer", "Brown", "Chen", "Costa", "Dubois", "Evans", "Fischer", "García", "Hansen", "Ito", "Jensen",
    "Kim", "Kowalski", "Lopez", "Martin", "Müller", "Nakamura", "Novak", "O'Brien", "Patel", "Rossi", "Santos",
    "Silva", "Smith", "Taylor", "Walsh", "Weber", "Wilson", "Young",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
PLACES = (
    ("US", "New York", 14), ("US", "Los Angeles", 8), ("US", "Chicago", 5), ("GB", "London", 12),
    ("GB", "Manchester", 5), ("FR", "Paris", 8), ("DE", "Berlin", 7), ("NL", "Amsterdam", 5), ("CA", "Toronto", 5),
    ("AU", "Melbourne", 4), ("ES", "Madrid", 4), ("SE", "Stockholm", 3), ("JP", "Tokyo", 3), ("BR", "São Paulo", 3),
)  # fmt: skip
VENUES = (
    ("The Roundhouse", "London"), ("Bowery Ballroom", "New York"), ("La Cigale", "Paris"), ("Paradiso", "Amsterdam"),
    ("Columbiahalle", "Berlin"), ("The Fillmore", "San Francisco"), ("Metro", "Chicago"), ("Massey Hall", "Toronto"),
)  # fmt: skip
# The demo workspace records dollars; its fans in these countries pay in their own currency, at these rates.
COUNTRY_CURRENCIES = {"GB": "GBP", "FR": "EUR", "DE": "EUR", "NL": "EUR", "ES": "EUR"}
DEMO_RATES = {"EUR": Decimal("1.08"), "GBP": Decimal("1.27")}
ALBUMS = ("Northern Static", "Glasshouse", "Low Tide Radio", "Paper Satellites")
SOURCES: tuple[tuple[FanSource, int], ...] = (
    ("subscription", 30), ("direct_purchase", 18), ("social", 17), ("event", 14), ("referral", 9), ("import", 7),
    ("manual", 5),
)  # fmt: skip
# category → (weight, [(product, price in dollars, weight)])
CATALOGUE: dict[str, tuple[int, tuple[tuple[str, str, int], ...]]] = {
    "music": (34, (
        ("Single download", "1.29", 30), ("Album download", "9.99", 35), ("CD", "12.99", 15),
        ("Vinyl LP", "29.99", 15), ("Signed vinyl box", "89.00", 5),
    )),
    "merch": (30, (
        ("Sticker pack", "5.00", 20), ("Tote bag", "18.00", 20), ("Tour T-shirt", "28.00", 30),
        ("Poster", "15.00", 15), ("Hoodie", "55.00", 15),
    )),
    "ticket": (22, (("Standing ticket", "35.00", 55), ("Seated ticket", "55.00", 35), ("VIP package", "150.00", 10))),
    "membership": (9, (("Fan club (monthly)", "6.00", 70), ("Fan club (yearly)", "60.00", 30))),
    "course": (5, (("Songwriting basics", "49.00", 50), ("Production masterclass", "199.00", 35),
                   ("Vocal coaching pack", "299.00", 15))),
}  # fmt: skip
SUPERFAN_MERCH = (("Tour T-shirt", "28.00"), ("Hoodie", "55.00"), ("Poster", "15.00"), ("Tote bag", "18.00"))
TAGS: tuple[tuple[str, str, str, str], ...] = (
    ("Product Tag", "#6c5ce7", "purchase", "Bought merchandise"),
    ("Course Student", "#00b894", "learning", "Enrolled in a course"),
    ("Masterclass Attendee", "#00cec9", "learning", "Joined a live masterclass"),
    ("Ticket Buyer", "#e17055", "purchase", "Bought a gig ticket"),
    ("Event Organizer", "#fdcb6e", "industry", "Books or organises shows"),
    ("Promoter", "#e84393", "industry", "Promotes shows"),
    ("Press Contact", "#636e72", "industry", "Journalist, blogger or radio"),
    ("Newsletter Subscriber", "#0984e3", "engagement", "Reads the newsletter"),
    ("Social Media Follower", "#74b9ff", "engagement", "Follows on social media"),
    ("Exclusive Content Member", "#a29bfe", "membership", "Has a fan club membership"),
    ("VIP", "#d63031", "value", "Top spenders"),
)
LISTS: tuple[tuple[str, str, str], ...] = (
    ("Album Buyers", "Bought an album or single", "checkout"),
    ("Merch Fans", "Bought merchandise", "checkout"),
    ("Course Students", "Enrolled in a course", "course sign-up"),
    ("Gig Attendees", "Came to a show", "ticket checkout"),
    ("VIPs", "Top spenders and superfans", "manual"),
    ("Event Organizers", "Bookers and organisers", "manual"),
    ("Collaborators", "Musicians, producers and friends of the band", "manual"),
    ("Press Contacts", "Press, blogs and radio", "press kit form"),
    ("Newsletter Subscribers", "The monthly newsletter", "signup form"),
    ("Fan Club Members", "Members of the fan club", "fan club checkout"),
)
# What a purchase category says about a fan, in the order the tags and lists are given (the order keeps the seeded
# random draws, and so the demo data, the same).
_CATEGORY_TAGS = {
    "merch": "Product Tag",
    "course": "Course Student",
    "ticket": "Ticket Buyer",
    "membership": "Exclusive Content Member",
}
_CATEGORY_LISTS = {"music": "Album Buyers", "merch": "Merch Fans", "course": "Course Students"}
CUSTOM_FIELDS = (
    CustomFieldIn(name="tshirt_size", type="enum", choices=("XS", "S", "M", "L", "XL", "XXL"), label="T-shirt size"),
    CustomFieldIn(name="favourite_album", type="text", label="Favourite album"),
    CustomFieldIn(name="newsletter_opt_in", type="boolean", label="Newsletter opt-in"),
    CustomFieldIn(name="birthday", type="datetime", label="Birthday"),
)


@dataclass
class _PlannedFan:
    row: dict[str, Any]
    custom: dict[str, JsonScalar] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)


def _weighted(rng: random.Random, choices: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([value for value, _ in choices], weights=[weight for _, weight in choices])[0]


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, seconds))


class _Planner:
    """Draws the whole workspace in memory; the order of draws is fixed, so a seed fixes the result."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.orders_since = self.now - timedelta(days=730)

    def fan(self, index: int) -> _PlannedFan:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        country, city, _ = rng.choices(PLACES, weights=[weight for *_, weight in PLACES])[0]
        age_days = 1 + int(1099 * rng.betavariate(1.3, 1.7))
        created_at = self.now - timedelta(days=age_days, seconds=rng.randint(0, 86_399))
        is_superfan = rng.random() < 0.045
        is_buyer = is_superfan or rng.random() < 0.5
        source: FanSource = "direct_purchase" if is_buyer and rng.random() < 0.35 else _weighted(rng, SOURCES)
        ascii_first = first.encode("ascii", "ignore").decode().lower()
        ascii_last = last.encode("ascii", "ignore").decode().lower().replace("'", "")
        planned = _PlannedFan(
            row={
                "email": f"{ascii_first}.{ascii_last}.{index}@{rng.choice(EMAIL_DOMAINS)}",
                "first_name": first,
                "last_name": last,
                "source": source,
                "country": country if rng.random() < 0.9 else None,
                "city": city if rng.random() < 0.8 else None,
                "created_at": created_at,
                "updated_at": self.now,
            }
        )
        last_active = self._last_activity(created_at, is_superfan=is_superfan)
        gigs = 0
        if last_active is not None:
            engagement = rng.paretovariate(1.8)  # ≥ 1; a few fans are very engaged
            if is_buyer:
                self._orders(planned, created_at, last_active, engagement, is_superfan=is_superfan)
            gigs = self._events(planned, created_at, last_active, engagement, is_superfan=is_superfan)
        self._profile(planned, is_superfan=is_superfan, gigs=gigs)
        return planned

    def _last_activity(self, created_at: datetime, *, is_superfan: bool) -> datetime | None:
        """When the fan was last seen; activity decays: a fifth this week, most over a month ago, some never."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.08 and not is_superfan:
            return None
        age_days = (self.now - created_at).days
        if roll < 0.27 or (is_superfan and roll < 0.6):
            days_ago = rng.uniform(0, 7)
        elif roll < 0.45:
            days_ago = rng.uniform(7, 30)
        else:
            days_ago = 31 + rng.expovariate(1 / 150)
        days_ago = min(days_ago, max(age_days - 0.5, 0))
        return max(created_at, self.now - timedelta(days=days_ago))

    def _order(self, fan: _PlannedFan, category: str, product: str, price: str, placed_at: datetime) -> None:
        refunded = self.rng.random() < 0.05
        # Fans in Europe pay in their currency, converted at the demo's rates (the price list is in dollars).
        currency = COUNTRY_CURRENCIES.get(fan.row["country"] or "", "USD")
        rate = DEMO_RATES.get(currency, Decimal(1))
        charged = int((Decimal(price) * 100 / rate).quantize(Decimal(1)))
        fan.orders.append(
            {
                "amount_cents": currencies.to_cents(charged, rate),
                "currency": "USD",
                "original_amount_cents": charged,
                "original_currency": currency,
                "exchange_rate": currencies.rate_text(rate),
                "original_refunded_cents": charged if refunded else 0,
                "category": category,
                "product": product,
                "status": "refunded" if refunded else "completed",
                "placed_at": placed_at,
                "refunded_at": min(placed_at + timedelta(days=self.rng.randint(1, 20)), self.now) if refunded else None,
                "external_id": None,
                "created_at": placed_at,
            }
        )

    def _orders(
        self, fan: _PlannedFan, created_at: datetime, last_active: datetime, engagement: float, *, is_superfan: bool
    ) -> None:
        rng = self.rng
        start = max(created_at, self.orders_since)
        if start > last_active:
            return
        count = min(int(rng.paretovariate(1.7) * (1.0 + engagement / 4)), 30)
        for _ in range(count):
            category = rng.choices(list(CATALOGUE), weights=[weight for weight, _ in CATALOGUE.values()])[0]
            products = CATALOGUE[category][1]
            product, price, _ = rng.choices(products, weights=[weight for *_, weight in products])[0]
            self._order(fan, category, product, price, _between(rng, start, last_active))
        if is_superfan:
            for _ in range(rng.randint(3, 6)):
                product, price = rng.choice(SUPERFAN_MERCH)
                self._order(fan, "merch", product, price, _between(rng, start, last_active))

    def _events(
        self, fan: _PlannedFan, created_at: datetime, last_active: datetime, engagement: float, *, is_superfan: bool
    ) -> int:
        rng = self.rng
        # Older activity is sparser: draw times skewed towards the fan's last activity.
        span = last_active - created_at

        def when() -> datetime:
            return last_active - span * math.pow(rng.random(), 0.6)

        for _ in range(int(rng.expovariate(1 / 5) * engagement)):
            kind = rng.choices(("email_opened", "page_viewed", "link_clicked"), weights=(50, 30, 20))[0]
            properties: dict[str, JsonScalar]
            if kind == "email_opened":
                properties = {"campaign": f"newsletter-{rng.randint(1, 24):02d}"}
            elif kind == "page_viewed":
                properties = {"path": rng.choice(("/", "/shop", "/tour", "/music", "/courses"))}
            else:
                properties = {"url": rng.choice(("https://example.com/tour", "https://example.com/shop"))}
            fan.events.append({"type": kind, "properties": properties, "occurred_at": when()})
        gigs = 0
        if is_superfan:
            gigs = rng.randint(2, 6)
        elif rng.random() < 0.28:
            gigs = min(1 + int(rng.expovariate(1 / 0.8)), 8)
        for _ in range(gigs):
            venue, city = rng.choice(VENUES)
            fan.events.append(
                {"type": "gig_attended", "properties": {"venue": venue, "city": city}, "occurred_at": when()}
            )
        for order in fan.orders:
            if order["category"] == "course" and rng.random() < 0.6:
                finished = _between(rng, order["placed_at"], last_active)
                course = {"course": order["product"]}
                fan.events.append({"type": "course_completed", "properties": course, "occurred_at": finished})
        # The fan's last activity is exactly last_active: one more visit then, unless an order was placed then.
        fan.events.append({"type": "page_viewed", "properties": {"path": "/"}, "occurred_at": last_active})
        return gigs

    def _profile(self, fan: _PlannedFan, *, is_superfan: bool, gigs: int) -> None:
        rng = self.rng
        categories = {order["category"] for order in fan.orders if order["status"] == "completed"}
        spent = sum(order["amount_cents"] for order in fan.orders if order["status"] == "completed")
        is_industry = rng.random()
        stage: LifecycleStage
        if is_superfan or (len(categories) >= 2 and rng.random() < 0.25) or is_industry < 0.02:
            stage = "advocate"
        elif categories:
            stage = "customer"
        elif len(fan.events) >= 4:
            stage = "lead"
        else:
            stage = "subscriber"
        fan.row["lifecycle_stage"] = stage

        tags = fan.tags
        for category, tag in _CATEGORY_TAGS.items():
            if category in categories:
                tags.append(tag)
                if category == "course" and rng.random() < 0.4:
                    tags.append("Masterclass Attendee")
        if is_industry < 0.01:
            tags.append("Event Organizer")
        elif is_industry < 0.03:
            tags.append("Promoter")
        elif is_industry < 0.045:
            tags.append("Press Contact")
        if fan.row["source"] == "social" or rng.random() < 0.3:
            tags.append("Social Media Follower")
        is_vip = spent >= 30_000 or (is_superfan and spent >= 20_000)
        if is_vip:
            tags.append("VIP")

        lists = fan.lists
        lists.extend(name for category, name in _CATEGORY_LISTS.items() if category in categories)
        if gigs:
            lists.append("Gig Attendees")
        if is_vip:
            lists.append("VIPs")
        if "Event Organizer" in tags:
            lists.append("Event Organizers")
        if "Press Contact" in tags:
            lists.append("Press Contacts")
        if rng.random() < 0.012:
            lists.append("Collaborators")
        if rng.random() < 0.6:
            lists.append("Newsletter Subscribers")
            tags.append("Newsletter Subscriber")
        if "membership" in categories or is_superfan:
            lists.append("Fan Club Members")

        custom = fan.custom
        if "merch" in categories and rng.random() < 0.7:
            custom["tshirt_size"] = rng.choices(("XS", "S", "M", "L", "XL", "XXL"), weights=(4, 15, 32, 29, 14, 6))[0]
        if rng.random() < 0.4:
            custom["favourite_album"] = rng.choice(ALBUMS)
        if rng.random() < 0.8:
            custom["newsletter_opt_in"] = "Newsletter Subscribers" in lists or rng.random() < 0.2
        if rng.random() < 0.3:
            born = datetime(rng.randint(1962, 2007), rng.randint(1, 12), rng.randint(1, 28), tzinfo=UTC)
            custom["birthday"] = born.isoformat()


def _memberships(
    rng: random.Random, planned: list[_PlannedFan], fan_ids: list[int], list_ids: dict[str, int], now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """List memberships with mixed statuses, and the consent log that explains each."""
    consent_sources = {name: source for name, _, source in LISTS}
    members: list[dict[str, Any]] = []
    log: list[dict[str, Any]] = []
    for fan, fan_id in zip(planned, fan_ids, strict=True):
        for name in fan.lists:
            consent_at = _between(rng, fan.row["created_at"], now)
            roll = rng.random()
            status: SubscriptionStatus = "subscribed" if roll < 0.88 else ("unsubscribed" if roll < 0.97 else "bounced")
            changed_at = consent_at if status == "subscribed" else _between(rng, consent_at, now)
            source = consent_sources[name]
            members.append(
                {
                    "list_id": list_ids[name],
                    "fan_id": fan_id,
                    "status": status,
                    "consent_at": consent_at,
                    "consent_source": source,
                    "status_changed_at": changed_at,
                }
            )
            entry = {"list_id": list_ids[name], "fan_id": fan_id}
            log.append({**entry, "status": "subscribed", "source": source, "at": consent_at})
            if status != "subscribed":
                log.append({**entry, "status": status, "source": "email provider", "at": changed_at})
    return members, log


def create_demo_workspace(database: Database, *, now: datetime, seed: int = 7, fans: int = 3000) -> WorkspaceCreated:
    """Create the demo workspace with its fans, orders, events, tags, lists and custom fields; one transaction."""
    if not 1 <= fans <= MAX_DEMO_FANS:
        raise InvalidInput(f"must be between 1 and {MAX_DEMO_FANS:,}", field="fans")
    rng = random.Random(seed)
    planner = _Planner(rng, now)
    planned = [planner.fan(index) for index in range(1, fans + 1)]
    # Scoped to the new workspace as soon as it exists (create_workspace_within).
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:
        created = workspaces_service.create_workspace_within(
            connection, name=DEMO_WORKSPACE_NAME, currency="USD", now=now
        )
        workspace_id = created.workspace.id
        rates_repo.write_rates(
            connection,
            workspace_id,
            [
                ExchangeRateIn(currency=code, valid_from=date(2020, 1, 1), rate=rate)
                for code, rate in DEMO_RATES.items()
            ],
            now=now,
        )
        fields: dict[str, CustomField] = {
            definition.name: custom_fields_repo.insert_custom_field(connection, workspace_id, definition, now=now)
            for definition in CUSTOM_FIELDS
        }
        rows = [
            {**fan.row, "custom_fields": custom_fields_service.encode_values(fields, fan.custom)} for fan in planned
        ]
        fan_ids = fans_repo.insert_fans(connection, workspace_id, rows)
        bulk_repo.insert_orders(
            connection,
            workspace_id,
            [{**order, "fan_id": fan_id} for fan, fan_id in zip(planned, fan_ids, strict=True) for order in fan.orders],
        )
        bulk_repo.insert_events(
            connection,
            workspace_id,
            [
                {**event, "fan_id": fan_id, "created_at": event["occurred_at"]}
                for fan, fan_id in zip(planned, fan_ids, strict=True)
                for event in fan.events
            ],
        )
        tag_ids = {
            name: tags_repo.insert_tag(
                connection,
                workspace_id,
                {"name": name, "color": color, "category": category, "description": text},
                now=now,
            )
            for name, color, category, text in TAGS
        }
        links = [
            {"tag_id": tag_ids[name], "fan_id": fan_id, "added_at": fan.row["created_at"]}
            for fan, fan_id in zip(planned, fan_ids, strict=True)
            for name in fan.tags
        ]
        bulk_repo.insert_tag_links(connection, workspace_id, links)
        webhooks.queue_tag_events(
            connection, workspace_id, {link["tag_id"] for link in links}, at=[link["added_at"] for link in links]
        )
        list_ids = {
            name: lists_repo.insert_list(connection, workspace_id, {"name": name, "description": text}, now=now)
            for name, text, _ in LISTS
        }
        members, log = _memberships(rng, planned, fan_ids, list_ids, planner.now)
        bulk_repo.insert_list_members(connection, workspace_id, members)
        bulk_repo.insert_subscription_log(connection, workspace_id, log)
        webhooks.queue_list_events(
            connection, workspace_id, {row["list_id"] for row in log}, at=[row["at"] for row in log]
        )
        fans_repo.recompute_figures(connection, workspace_id)
    database.refresh_statistics_after_write(
        {
            table: len(planned)
            for table in ("fans", "orders", "events", "fan_tags", "list_members", "list_subscription_log")
        }
    )
    return created


DEMO_MESSAGE_BODY = """\
Hi {{ first_name | default("friend") }},

We're going on tour this spring, and you're among the first to know.

**Presale** opens Friday at 10:00 for newsletter subscribers: [get tickets](https://tickets.example.com/aurora-lane)

See you down the front,
Aurora Lane
"""


def create_demo_message(database: Database, workspace_id: int, *, now: datetime) -> Message | None:
    """The demo's first message, sent: the tour announcement to the engaged fans who subscribed to the newsletter.
    With no SMTP relay configured (``make run``) the sender stores it in the local outbox, where the dashboard
    shows it. None when the demo's segment or list is missing (a workspace changed by hand)."""
    segment = next((s for s in segments.list_segments(database, workspace_id) if s.name == "Engaged Fans"), None)
    newsletter = next(
        (
            fan_list
            for fan_list in lists.list_lists(database, workspace_id)
            if fan_list.name == "Newsletter Subscribers"
        ),
        None,
    )
    if segment is None or newsletter is None:
        return None
    messages.update_settings(
        database,
        workspace_id,
        MailSettingsPatch(sender_name="Aurora Lane", sender_address="hello@aurora-lane.example"),
        now=now,
    )
    message = messages.create_message(
        database,
        workspace_id,
        MessageIn(
            name="Spring tour announcement",
            subject="{{ first_name | default('Hey') }}, we're going on tour",
            preheader="Presale opens Friday for newsletter subscribers",
            body=DEMO_MESSAGE_BODY,
            segment_ids=(segment.id,),
            list_id=newsletter.id,
        ),
        now=now,
    )
    return messages.send_message(database, workspace_id, message.id, at=None, now=now)
