"""English descriptions and the time dependencies the scheduler watches."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fanbase.core.dependencies import RuleReferences
from fanbase.core.dependencies import TimeDependency
from fanbase.core.dependencies import TimeDependencyKind
from fanbase.core.dependencies import collect_references
from fanbase.core.dependencies import is_time_dependent
from fanbase.core.dependencies import relative_time_conditions
from fanbase.core.describe import describe
from fanbase.core.fields import Aggregate
from fanbase.core.fields import Source
from fanbase.core.text import parse_rule_text
from strategies import CATALOGUE

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "english"),
    [
        (
            'lifecycle_stage in (customer, advocate) and total_spent > 100 and (tag "VIP" or list "Fan Club") '
            'and count(orders where category = "merch" within 365 days) >= 2 and last_active_at more_than 30 days ago',
            'Lifecycle stage is customer or advocate, and total spent is more than $100, and (has tag "VIP" or is '
            'subscribed to list "Fan Club"), and the number of orders where category is "merch" in the last 365 days '
            "is at least 2, and last activity is more than 30 days ago",
        ),
        ('not segment "Refund Abusers"', 'Is not in segment "Refund Abusers"'),
        ('not tag "VIP"', 'Does not have tag "VIP"'),
        ('list "News" status any', 'Is on list "News"'),
        (
            'sum(amount of orders where category = "merch") > 1000.5',
            'The total amount of orders where category is "merch" is more than $1,000.50',
        ),
        (
            "max(amount of refunds between 2024-01-01 and 2024-06-30) >= 50",
            "The largest amount of refunds between 2024-01-01 and 2024-06-30 is at least $50",
        ),
        (
            'last(events where type = "gig_attended") within_last 90 days',
            'The last event where type is "gig_attended" is within the last 90 days',
        ),
        ("created_at between 2024-01-01 and 2024-06-30", "Sign-up date is between 2024-01-01 and 2024-06-30"),
        ("created_at after 2024-03-01T12:30:00Z", "Sign-up date is after 2024-03-01 12:30 UTC"),
        ('email contains "@gmail" or city is_empty', 'Email contains "@gmail" or city is empty'),
        ("lifecycle_stage not_in (lead, subscriber, customer)", "Lifecycle stage is not lead, subscriber or customer"),
        ("not (city is_set and purchase_count >= 2)", "Not (city is set, and number of purchases is at least 2)"),
        (
            "newsletter_opt_in is_true and monthly_budget <= 20",
            "Newsletter opt in is true, and monthly budget is at most $20",
        ),
        ("all()", "Every fan"),
    ],
)
def test_describe(text: str, english: str) -> None:
    assert describe(parse_rule_text(text), catalogue=CATALOGUE) == english


def test_describe_uses_the_workspace_currency() -> None:
    assert describe(parse_rule_text("total_spent > 5"), currency_symbol="€") == "Total spent is more than €5"


def test_relative_time_conditions() -> None:
    rule = parse_rule_text(
        "last_active_at more_than 30 days ago and created_at before 2024-01-01 "
        'and (count(events where type = "gig_attended" within 2 weeks) = 0 '
        'or last(orders where placed_at after 7 days ago) within_last 1 month) and tag "VIP"'
    )
    assert relative_time_conditions(rule) == [
        TimeDependency(path="all[0]", kind=TimeDependencyKind.FIELD, field="last_active_at", offsets=(30 * DAY,)),
        TimeDependency(
            path="all[2].any[0]",
            kind=TimeDependencyKind.ROWS,
            source=Source.EVENTS,
            aggregate=Aggregate.COUNT,
            offsets=(timedelta(0), 14 * DAY),
        ),
        TimeDependency(
            path="all[2].any[1]",
            kind=TimeDependencyKind.ROWS,
            source=Source.ORDERS,
            aggregate=Aggregate.LAST,
            offsets=(7 * DAY,),
        ),
        TimeDependency(
            path="all[2].any[1]",
            kind=TimeDependencyKind.AGGREGATE,
            source=Source.ORDERS,
            aggregate=Aggregate.LAST,
            offsets=(timedelta(0), 30 * DAY),
        ),
    ]
    assert is_time_dependent(rule)
    assert not is_time_dependent(parse_rule_text("created_at between 2024-01-01 and 2024-06-30 and count(orders) > 1"))


def test_collect_references() -> None:
    rule = parse_rule_text(
        'tag "VIP" and not list "Fan Club" and segment "Refund Abusers" and city is_set and count(refunds) > 0'
    )
    assert collect_references(rule) == RuleReferences(
        fields=frozenset({"city"}),
        tags=frozenset({"vip"}),
        lists=frozenset({"fan club"}),
        segments=frozenset({"refund abusers"}),
        sources=frozenset({Source.REFUNDS}),
    )
