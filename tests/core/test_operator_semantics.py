"""Every operator, through the Python evaluator, one table row per case (the SQL compiler must agree)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from fanbase.core.evaluate import EventSnapshot
from fanbase.core.evaluate import FanSnapshot
from fanbase.core.evaluate import OrderSnapshot
from fanbase.core.evaluate import evaluate
from fanbase.core.rules import Not
from fanbase.core.text import parse_rule_text
from fanbase.core.validation import validate_rule
from strategies import CATALOGUE
from strategies import REFERENCES

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)


def holds(text: str, *, now: datetime = NOW, **fan: Any) -> bool:
    rule = validate_rule(parse_rule_text(text), catalogue=CATALOGUE, references=REFERENCES)
    snapshot = FanSnapshot(**fan)
    result = evaluate(rule, snapshot, now=now, catalogue=CATALOGUE)
    # Every leaf is two-valued: `not` flips it exactly, whatever is missing.
    assert evaluate(Not(rule=rule), snapshot, now=now, catalogue=CATALOGUE) is not result
    return result


FIELD_CASES: list[tuple[str, dict[str, Any], bool]] = [
    # Numbers and money.
    ("total_spent > 100", {"total_spent": Decimal("100.50")}, True),
    ("total_spent > 100", {"total_spent": Decimal("100")}, False),
    ("total_spent >= 100", {"total_spent": Decimal("100")}, True),
    ("total_spent < 100", {"total_spent": Decimal("99.99")}, True),
    ("total_spent <= 100", {"total_spent": Decimal("100.01")}, False),
    ("total_spent = 100.5", {"total_spent": Decimal("100.50")}, True),
    ("total_spent != 100", {"total_spent": Decimal("100.00")}, False),
    ("total_spent between 50 and 100", {"total_spent": Decimal("50")}, True),
    ("total_spent between 50 and 100", {"total_spent": Decimal("100")}, True),
    ("total_spent between 50 and 100", {"total_spent": Decimal("100.01")}, False),
    ("total_spent = 0", {}, True),  # no orders: total_spent is 0, not missing
    ("purchase_count = 0", {}, True),
    ("purchase_count >= 2", {"purchase_count": 2}, True),
    ("shoe_size > 41.5", {"custom_fields": {"shoe_size": 42}}, True),
    ("shoe_size > 41.5", {}, False),  # missing: every comparison is false…
    ("shoe_size != 42", {}, False),  # …including != (use `not shoe_size = 42` to include missing)
    ("shoe_size = 42.1", {"custom_fields": {"shoe_size": 42.1}}, True),  # compared as doubles
    ("shoe_size = 1", {"custom_fields": {"shoe_size": True}}, False),  # a boolean is not a number
    ("shoe_size is_set", {"custom_fields": {"shoe_size": 0}}, True),
    ("shoe_size is_not_set", {}, True),
    ("monthly_budget = 10.10", {"custom_fields": {"monthly_budget": Decimal("10.1")}}, True),
    # Text: ASCII-only case folding, literal substrings, NULL or '' is empty.
    ('email = "ana@example.com"', {"email": "Ana@Example.COM"}, True),
    ('city = "évora"', {"city": "Évora"}, False),  # only A-Z fold
    ('city = "Évora"', {"city": "évora"}, False),
    ('city = "ÉVORA"', {"city": "Évora"}, True),
    ('email contains "@EXAMPLE"', {"email": "ana@example.com"}, True),
    ('email starts_with "ANA"', {"email": "ana@example.com"}, True),
    ('email ends_with ".COM"', {"email": "ana@example.com"}, True),
    ('email ends_with "ana"', {"email": "ana@example.com"}, False),
    ('nickname contains "%"', {"custom_fields": {"nickname": "a%b"}}, True),
    ('nickname contains "a_b"', {"custom_fields": {"nickname": "axb"}}, False),  # no wildcards
    ('nickname contains "b"', {}, False),
    ("city is_empty", {}, True),
    ("city is_empty", {"city": ""}, True),
    ("city is_empty", {"city": " "}, False),
    ("city is_set", {"city": ""}, True),
    ("city is_not_set", {"city": ""}, False),
    ('country != "FR"', {"country": "DE"}, True),
    ('country != "FR"', {}, False),
    ('not country = "FR"', {}, True),
    ('country in ("fr", "de")', {"country": "FR"}, True),
    ('country not_in ("fr", "de")', {"country": "ES"}, True),
    ('country not_in ("fr", "de")', {}, False),
    # Enums.
    ("lifecycle_stage in (customer, advocate)", {"lifecycle_stage": "customer"}, True),
    ("lifecycle_stage in (customer, advocate)", {"lifecycle_stage": "lead"}, False),
    ("lifecycle_stage in (customer, advocate)", {}, False),
    ("lifecycle_stage not_in (customer)", {"lifecycle_stage": "lead"}, True),
    ("lifecycle_stage not_in (customer)", {}, False),
    ("lifecycle_stage = CUSTOMER", {"lifecycle_stage": "customer"}, True),  # validation canonicalises
    ("lifecycle_stage != customer", {"lifecycle_stage": "advocate"}, True),
    ('favourite_genre in ("hip hop", jazz)', {"custom_fields": {"favourite_genre": "Jazz"}}, True),
    # Datetimes: relative.
    ("last_active_at within_last 30 days", {"last_active_at": NOW - 30 * DAY}, True),
    ("last_active_at within_last 30 days", {"last_active_at": NOW - 30 * DAY - MICROSECOND}, False),
    ("last_active_at within_last 30 days", {"last_active_at": NOW}, True),
    ("last_active_at within_last 30 days", {"last_active_at": NOW + MICROSECOND}, False),  # the future is outside
    ("last_active_at within_last 30 days", {}, False),
    ("not last_active_at within_last 30 days", {}, True),  # never active counts as inactive
    ("last_active_at within_last 1 month", {"last_active_at": NOW - 30 * DAY}, True),  # a month is 30 days
    ("last_active_at within_last 1 month", {"last_active_at": NOW - 31 * DAY}, False),
    ("last_active_at within_last 2 weeks", {"last_active_at": NOW - 14 * DAY}, True),
    ("last_active_at within_last 12 hours", {"last_active_at": NOW - timedelta(hours=13)}, False),
    ("last_active_at more_than 30 days ago", {"last_active_at": NOW - 30 * DAY}, False),
    ("last_active_at more_than 30 days ago", {"last_active_at": NOW - 30 * DAY - MICROSECOND}, True),
    ("last_active_at more_than 30 days ago", {}, False),
    ("last_active_at before 30 days ago", {"last_active_at": NOW - 31 * DAY}, True),
    ("last_active_at after 30 days ago", {"last_active_at": NOW - 30 * DAY}, False),
    ("last_active_at after 30 days ago", {"last_active_at": NOW - 30 * DAY + MICROSECOND}, True),
    ("last_active_at after 30 days ago", {"last_active_at": NOW + DAY}, True),
    ("last_active_at between 30 days ago and 7 days ago", {"last_active_at": NOW - 7 * DAY}, True),
    ("last_active_at between 30 days ago and 7 days ago", {"last_active_at": NOW - 6 * DAY}, False),
    # Datetimes: absolute. A date is the whole UTC day.
    ("created_at between 2024-01-01 and 2024-06-30", {"created_at": datetime(2024, 1, 1, tzinfo=UTC)}, True),
    ("created_at between 2024-01-01 and 2024-06-30", {"created_at": datetime(2024, 6, 30, 23, 59, tzinfo=UTC)}, True),
    ("created_at between 2024-01-01 and 2024-06-30", {"created_at": datetime(2024, 7, 1, tzinfo=UTC)}, False),
    (
        "created_at between 2024-01-01 and 2024-06-30",
        {"created_at": datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)},
        False,
    ),
    ("created_at before 2024-01-01", {"created_at": datetime(2023, 12, 31, 23, 59, tzinfo=UTC)}, True),
    ("created_at before 2024-01-01", {"created_at": datetime(2024, 1, 1, tzinfo=UTC)}, False),
    ("created_at after 2024-01-01", {"created_at": datetime(2024, 1, 1, 12, tzinfo=UTC)}, False),
    ("created_at after 2024-01-01", {"created_at": datetime(2024, 1, 2, tzinfo=UTC)}, True),
    ("created_at after 2024-01-01T12:00:00Z", {"created_at": datetime(2024, 1, 1, 12, tzinfo=UTC)}, False),
    ("created_at after 2024-01-01T12:00:00Z", {"created_at": datetime(2024, 1, 1, 12, 0, 1, tzinfo=UTC)}, True),
    ("created_at before 2024-01-01T12:00:00+02:00", {"created_at": datetime(2024, 1, 1, 9, 59, tzinfo=UTC)}, True),
    ("vip_since is_set", {"custom_fields": {"vip_since": datetime(2024, 1, 1, tzinfo=UTC)}}, True),
    # Booleans.
    ("newsletter_opt_in is_true", {"custom_fields": {"newsletter_opt_in": True}}, True),
    ("newsletter_opt_in is_false", {"custom_fields": {"newsletter_opt_in": False}}, True),
    ("newsletter_opt_in is_true", {}, False),
    ("newsletter_opt_in is_false", {}, False),
    ("newsletter_opt_in = true", {"custom_fields": {"newsletter_opt_in": 1}}, False),  # 1 is not a boolean
    ("newsletter_opt_in != true", {"custom_fields": {"newsletter_opt_in": False}}, True),
    ("newsletter_opt_in != true", {}, False),
    # Tags, lists and segments: names match case-insensitively; no status means subscribed.
    ('tag "vip"', {"tags": frozenset({"VIP"})}, True),
    ('tag "VIP"', {}, False),
    ('list "fan club"', {"lists": {"Fan Club": "subscribed"}}, True),
    ('list "Fan Club"', {"lists": {"Fan Club": "unsubscribed"}}, False),
    ('list "Fan Club" status unsubscribed', {"lists": {"Fan Club": "unsubscribed"}}, True),
    ('list "Fan Club" status bounced', {"lists": {"Fan Club": "subscribed"}}, False),
    ('list "Fan Club" status any', {"lists": {"Fan Club": "bounced"}}, True),
    ('list "Fan Club" status any', {}, False),
    ('segment "refund abusers"', {"segments": frozenset({"Refund Abusers"})}, True),
    ('not segment "Refund Abusers"', {}, True),
]


@pytest.mark.parametrize(("text", "fan", "expected"), FIELD_CASES)
def test_field_operators(text: str, fan: dict[str, Any], expected: bool) -> None:
    assert holds(text, **fan) is expected


def order(amount: str, placed_at: datetime, *, category: str = "merch", status: str = "completed") -> OrderSnapshot:
    return OrderSnapshot(amount=Decimal(amount), currency="EUR", category=category, status=status, placed_at=placed_at)


def event(kind: str, occurred_at: datetime, **properties: Any) -> EventSnapshot:
    return EventSnapshot(type=kind, occurred_at=occurred_at, properties=properties)


ORDERS = (
    order("30", NOW - 10 * DAY),
    order("70.50", NOW - 400 * DAY),
    order("20", NOW - 5 * DAY, category="music"),
    order("15", NOW - 3 * DAY, status="refunded"),
    order("99", NOW - 2 * DAY, status="pending"),
)
EVENTS = (
    event("gig_attended", NOW - 20 * DAY, city="Paris", seats=2, vip=True, price=12.5),
    event("gig_attended", NOW + DAY, city="Lyon"),  # clock skew: in the future
    event("email_opened", NOW - 40 * DAY, seats="2", vip=1, city=None),
)

BEHAVIOUR_CASES: list[tuple[str, dict[str, Any], bool]] = [
    # orders are completed orders only; refunds are the refunded ones; other statuses are neither.
    ("count(orders) = 3", {"orders": ORDERS}, True),
    ("count(refunds) = 1", {"orders": ORDERS}, True),
    ('count(orders where category = "MERCH") = 2', {"orders": ORDERS}, True),
    ('count(orders where category = "merch" within 365 days) >= 2', {"orders": ORDERS}, False),
    ('count(orders where category = "merch" within 400 days) >= 2', {"orders": ORDERS}, True),  # boundary is in
    ("sum(amount of orders) = 120.50", {"orders": ORDERS}, True),
    ('sum(amount of orders where category = "merch") > 100', {"orders": ORDERS}, True),
    ("sum(amount of refunds) = 15", {"orders": ORDERS}, True),
    ("min(amount of orders) = 20", {"orders": ORDERS}, True),
    ("max(amount of orders within 30 days) = 30", {"orders": ORDERS}, True),
    ("first(orders) before 365 days ago", {"orders": ORDERS}, True),
    ("last(orders) within_last 7 days", {"orders": ORDERS}, True),
    ("last(refunds) within_last 7 days", {"orders": ORDERS}, True),
    # Aggregates over no rows: count and sum are 0; min/max/first/last are missing (every comparison false).
    ("count(orders) = 0", {}, True),
    ("sum(amount of orders) = 0", {}, True),
    ("sum(amount of orders) < 1", {}, True),
    ("max(amount of orders) < 1", {}, False),
    ("not max(amount of orders) < 1", {}, True),
    ("first(orders) before 2030-01-01", {}, False),
    ("last(events) is_not_set", {}, True),
    # Windows: within excludes the future; no window keeps everything; between covers whole days.
    ('count(events where type = "gig_attended" within 30 days) = 1', {"events": EVENTS}, True),
    ('count(events where type = "gig_attended") = 2', {"events": EVENTS}, True),
    # The last gig is the future one: no window keeps it.
    ('last(events where type = "gig_attended") after 1 hours ago', {"events": EVENTS}, True),
    (
        "count(orders between 2026-05-22 and 2026-05-27) = 2",
        {"orders": ORDERS},
        True,
    ),
    # A window is literal: a new fan with no gig has a count of 0 within 30 days.
    ('count(events where type = "gig_attended" within 30 days) = 0', {"created_at": NOW - 2 * DAY}, True),
    # Event properties are compared according to the rule value's JSON type; other types never match.
    ("count(events where properties.seats = 2) = 1", {"events": EVENTS}, True),
    ('count(events where properties.seats = "2") = 1', {"events": EVENTS}, True),
    ("count(events where properties.seats != 2) = 0", {"events": EVENTS}, True),
    ("count(events where properties.seats > 1.5) = 1", {"events": EVENTS}, True),
    ("count(events where properties.price = 12.5) = 1", {"events": EVENTS}, True),
    ("count(events where properties.vip = true) = 1", {"events": EVENTS}, True),
    ("count(events where properties.vip = 1) = 1", {"events": EVENTS}, True),  # only the number 1, not true
    ('count(events where properties.city contains "PAR") = 1', {"events": EVENTS}, True),
    ("count(events where properties.city is_set) = 2", {"events": EVENTS}, True),  # JSON null is not set
    ("count(events where properties.missing is_not_set) = 3", {"events": EVENTS}, True),
    ('count(events where not properties.city = "Paris") = 2', {"events": EVENTS}, True),
]


@pytest.mark.parametrize(("text", "fan", "expected"), BEHAVIOUR_CASES)
def test_behaviour_conditions(text: str, fan: dict[str, Any], expected: bool) -> None:
    assert holds(text, **fan) is expected


def test_evaluation_refuses_a_naive_now() -> None:
    rule = parse_rule_text("city is_set")
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(rule, FanSnapshot(), now=datetime(2026, 1, 1))


def test_snapshots_refuse_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FanSnapshot(created_at=datetime(2026, 1, 1))
