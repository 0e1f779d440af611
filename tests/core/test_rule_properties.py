"""Properties over generated rules: every face round-trips, validation is the identity on valid rules."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from decimal import Decimal

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings

from fanbase.core.describe import describe
from fanbase.core.evaluate import EventSnapshot
from fanbase.core.evaluate import FanSnapshot
from fanbase.core.evaluate import OrderSnapshot
from fanbase.core.evaluate import evaluate
from fanbase.core.rules import Not
from fanbase.core.rules import Rule
from fanbase.core.rules import parse_rule_json
from fanbase.core.rules import rule_to_json
from fanbase.core.text import format_rule
from fanbase.core.text import parse_rule_text
from fanbase.core.validation import validate_rule
from strategies import CATALOGUE
from strategies import REFERENCES
from strategies import rules

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SOME_FAN = FanSnapshot(
    email="Ana@Example.com",
    lifecycle_stage="customer",
    country="FR",
    created_at=datetime(2024, 1, 1, tzinfo=UTC),
    total_spent=Decimal("120.50"),
    purchase_count=2,
    last_active_at=datetime(2026, 5, 20, tzinfo=UTC),
    custom_fields={"shoe_size": 42, "favourite_genre": "rock", "newsletter_opt_in": True},
    tags=frozenset({"vip"}),
    lists={"Fan Club": "subscribed"},
    segments=frozenset({"Refund Abusers"}),
    orders=(
        OrderSnapshot(
            amount=Decimal("100.50"), currency="EUR", category="merch", placed_at=datetime(2026, 1, 1, tzinfo=UTC)
        ),
        OrderSnapshot(
            amount=Decimal("20"),
            currency="EUR",
            category="music",
            status="refunded",
            placed_at=datetime(2025, 1, 1, tzinfo=UTC),
        ),
    ),
    events=(
        EventSnapshot(
            type="gig_attended", occurred_at=datetime(2026, 5, 20, tzinfo=UTC), properties={"city": "Paris", "seats": 2}
        ),
    ),
)


@PROPERTY_SETTINGS
@given(rules())
def test_text_form_round_trips(rule: Rule) -> None:
    assert parse_rule_text(format_rule(rule)) == rule


@PROPERTY_SETTINGS
@given(rules())
def test_json_form_round_trips_through_json_text(rule: Rule) -> None:
    data = rule_to_json(rule)
    assert parse_rule_json(data) == rule
    assert parse_rule_json(json.dumps(data)) == rule


@PROPERTY_SETTINGS
@given(rules())
def test_generated_rules_are_valid_and_canonical(rule: Rule) -> None:
    assert validate_rule(rule, catalogue=CATALOGUE, references=REFERENCES) == rule
    assert validate_rule(rule_to_json(rule), catalogue=CATALOGUE, references=REFERENCES) == rule


@PROPERTY_SETTINGS
@given(rules())
def test_evaluation_is_two_valued_and_describe_never_fails(rule: Rule) -> None:
    for fan in (FanSnapshot(), SOME_FAN):
        assert evaluate(Not(rule=rule), fan, now=NOW, catalogue=CATALOGUE) is not evaluate(
            rule, fan, now=NOW, catalogue=CATALOGUE
        )
    assert describe(rule, catalogue=CATALOGUE)
