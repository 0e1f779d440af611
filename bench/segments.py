"""The 50 dynamic segments of the benchmark, in the text form of the rule language.

They mix property-only rules (columns and custom fields), relative and absolute dates, behaviour rules (counts,
sums, maxima, first/last over orders, refunds and events, with where filters and windows), tags and lists,
and/or/not combinations, and segments of segments (three levels deep at most). Each has a hand-written SQL
equivalent in ``bench.baselines.SEGMENT_SQL`` under the same name.

Segments are listed so that every segment comes after the segments it names: creating them in this order works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["property", "date", "behaviour", "label", "combination", "segments"]


@dataclass(frozen=True)
class BenchSegment:
    name: str
    kind: Kind
    rule_text: str


SEGMENTS: tuple[BenchSegment, ...] = (
    # --- property-only ---
    BenchSegment("Spent over 100", "property", "total_spent > 100"),
    BenchSegment("High-Spenders", "property", "total_spent > 200"),
    BenchSegment("Buyers", "property", "lifecycle_stage in (customer, advocate)"),
    BenchSegment("Advocates", "property", "lifecycle_stage = advocate"),
    BenchSegment("Repeat buyers", "property", "purchase_count >= 2"),
    BenchSegment("Frequent buyers", "property", "purchase_count > 5"),
    BenchSegment("From subscription", "property", "source = subscription"),
    BenchSegment("US fans", "property", 'country = "US"'),
    BenchSegment("European fans", "property", "country in (GB, DE, FR, NL, SE, ES, IT, IE)"),
    BenchSegment("Gmail users", "property", 'email ends_with "@gmail.com"'),
    BenchSegment("Rock fans", "property", "favourite_genre = rock"),
    BenchSegment("Fan club flag", "property", "fan_club_member is_true"),
    BenchSegment("Merch credit", "property", "merch_credit > 20"),
    BenchSegment("No city", "property", "city is_not_set"),
    BenchSegment("Seen 3 shows", "property", "shows_seen >= 3"),
    # --- dates ---
    BenchSegment("Active 7d", "date", "last_active_at within_last 7 days"),
    BenchSegment("Active 30d", "date", "last_active_at within_last 30 days"),
    BenchSegment("Inactive", "date", "not last_active_at within_last 30 days and created_at more_than 30 days ago"),
    BenchSegment("New this month", "date", "created_at within_last 30 days"),
    BenchSegment("Lapsed buyers", "date", "purchase_count > 0 and last_purchase_at more_than 180 days ago"),
    BenchSegment("Joined in 2025", "date", "created_at between 2025-01-01 and 2025-12-31"),
    BenchSegment("Early VIPs", "date", "vip_since before 2025-06-01"),
    # --- behaviour ---
    BenchSegment("Gig goers", "behaviour", 'count(events where type = "gig_attended" within 365 days) >= 2'),
    BenchSegment("Engaged Fans", "behaviour", "count(events within 30 days) >= 3"),
    BenchSegment("Openers 30d", "behaviour", 'count(events where type = "email_opened" within 30 days) >= 1'),
    BenchSegment("Silent 90d", "behaviour", "count(events within 90 days) = 0"),
    BenchSegment("Course completers", "behaviour", 'count(events where type = "course_completed") >= 1'),
    BenchSegment("Merch spenders", "behaviour", 'sum(amount of orders where category = "merch") > 100'),
    BenchSegment("Ticket buyers 180d", "behaviour", 'count(orders where category = "ticket" within 180 days) >= 2'),
    BenchSegment("Refunders", "behaviour", "count(refunds) >= 1"),
    BenchSegment("Serial refunders", "behaviour", "count(refunds within 365 days) >= 2"),
    BenchSegment("Big order", "behaviour", "max(amount of orders) >= 100"),
    BenchSegment("Recent buyers", "behaviour", "last(orders) within_last 30 days"),
    BenchSegment(
        "Paris gig", "behaviour", 'count(events where type = "gig_attended" and properties.city = "Paris") >= 1'
    ),
    BenchSegment(
        "Clickers not openers",
        "behaviour",
        'count(events where type = "link_clicked" within 90 days) >= 2 '
        'and count(events where type = "email_opened" within 90 days) = 0',
    ),
    BenchSegment(
        "Course and club spend",
        "behaviour",
        'sum(amount of orders where category = "course" or category = "membership" within 365 days) >= 150',
    ),
    BenchSegment("First order in 2025", "behaviour", "first(orders) between 2025-01-01 and 2025-12-31"),
    # --- tags and lists ---
    BenchSegment("VIP tagged", "label", 'tag "VIP"'),
    BenchSegment("Discord superfans", "label", 'tag "Superfan" and tag "Discord"'),
    BenchSegment("Presale list", "label", 'list "Presale"'),
    BenchSegment("Newsletter bounced", "label", 'list "Newsletter" status bounced'),
    BenchSegment("Tour alerts only", "label", 'list "Tour Alerts" and not list "Newsletter"'),
    # --- combinations ---
    BenchSegment(
        "Lapsed merch VIPs",
        "combination",
        'lifecycle_stage in (customer, advocate) and total_spent > 100 and (tag "VIP" or list "Fan Club") '
        'and count(orders where category = "merch" within 365 days) >= 2 and last_active_at more_than 30 days ago',
    ),
    BenchSegment(
        "Anglo gig goers",
        "combination",
        '(country = "US" or country = "GB") and count(events where type = "gig_attended" within 180 days) >= 1 '
        'and not tag "Press"',
    ),
    BenchSegment(
        "Win-back",
        "combination",
        'purchase_count >= 2 and not last_active_at within_last 90 days and list "Newsletter"',
    ),
    # --- segments of segments ---
    BenchSegment("High value active", "segments", 'segment "High-Spenders" and segment "Engaged Fans"'),
    BenchSegment("VIPs at risk", "segments", 'segment "VIP tagged" and segment "Inactive"'),
    BenchSegment("European gig goers", "segments", 'segment "European fans" and segment "Gig goers"'),
    BenchSegment("Buyers gone quiet", "segments", 'segment "Buyers" and not segment "Active 30d"'),
    BenchSegment(
        "Champions",
        "segments",
        'segment "High value active" or segment "Discord superfans" or segment "European gig goers"',
    ),
)

SEGMENTS_BY_NAME = {segment.name: segment for segment in SEGMENTS}

# The two rules whose preview is measured against hand-written SQL.
PROPERTY_RULE = "Spent over 100"
BEHAVIOUR_RULE = "Gig goers"
# Segments the naive (Mautic-style) rebuild is timed on: a property rule, a behaviour rule, a combination.
NAIVE_SEGMENTS = ("Spent over 100", "Gig goers", "Lapsed merch VIPs")
# A handful for the smoke test: one of each kind, closed under the segments they name.
SMOKE_SEGMENTS = (
    "Spent over 100",
    "High-Spenders",
    "Rock fans",
    "Active 30d",
    "Gig goers",
    "Engaged Fans",
    "Silent 90d",
    "Lapsed merch VIPs",
    "High value active",
)


def referenced(names: tuple[str, ...] | list[str]) -> list[BenchSegment]:
    """The named segments in creation order (a valid order, since SEGMENTS is one)."""
    wanted = set(names)
    unknown = wanted - set(SEGMENTS_BY_NAME)
    if unknown:
        raise KeyError(f"unknown bench segments: {sorted(unknown)}")
    return [segment for segment in SEGMENTS if segment.name in wanted]
