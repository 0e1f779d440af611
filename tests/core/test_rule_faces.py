"""The text and JSON faces: the brief's examples, canonical formatting, syntax errors, the JSON Schema."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import BaseModel

from fanbase.core.fields import ListStatus
from fanbase.core.rule_builders import all_of
from fanbase.core.rule_builders import any_of
from fanbase.core.rule_builders import behaviour
from fanbase.core.rule_builders import condition
from fanbase.core.rule_builders import has_tag
from fanbase.core.rule_builders import in_list
from fanbase.core.rule_builders import in_segment
from fanbase.core.rule_builders import negate
from fanbase.core.rules import RULE_ADAPTER
from fanbase.core.rules import AllOf
from fanbase.core.rules import CountOf
from fanbase.core.rules import FieldCondition
from fanbase.core.rules import Rule
from fanbase.core.rules import parse_rule_json
from fanbase.core.rules import rule_json_schema
from fanbase.core.rules import rule_to_json
from fanbase.core.text import format_rule
from fanbase.core.text import parse_rule_text
from fanbase.core.time import Duration
from fanbase.core.time import RelativeTime
from fanbase.core.time import TimeUnit
from fanbase.errors import InvalidRule

EXAMPLE_TEXT = (
    'lifecycle_stage in (customer, advocate) and total_spent > 100 and (tag "VIP" or list "Fan Club") '
    'and count(orders where category = "merch" within 365 days) >= 2 and last_active_at more_than 30 days ago'
)
EXAMPLE_RULE = all_of(
    condition("lifecycle_stage", "in", ["customer", "advocate"]),
    condition("total_spent", ">", 100),
    any_of(has_tag("VIP"), in_list("Fan Club")),
    behaviour("count", "orders", where=condition("category", "=", "merch"), within="365 days", op=">=", value=2),
    condition("last_active_at", "more_than", "30 days ago"),
)
EXAMPLE_JSON = {
    "all": [
        {"field": "lifecycle_stage", "op": "in", "value": ["customer", "advocate"]},
        {"field": "total_spent", "op": ">", "value": 100},
        {"any": [{"tag": "VIP"}, {"list": "Fan Club", "status": "subscribed"}]},
        {
            "count": {
                "of": "orders",
                "where": {"field": "category", "op": "=", "value": "merch"},
                "within": "365 days",
            },
            "op": ">=",
            "value": 2,
        },
        {"field": "last_active_at", "op": "more_than", "value": "30 days ago"},
    ]
}


def test_the_example_parses_to_the_tree_and_back() -> None:
    assert parse_rule_text(EXAMPLE_TEXT) == EXAMPLE_RULE
    assert format_rule(EXAMPLE_RULE) == EXAMPLE_TEXT
    assert rule_to_json(EXAMPLE_RULE) == EXAMPLE_JSON
    assert parse_rule_json(EXAMPLE_JSON) == EXAMPLE_RULE


def test_design_json_shorthands_are_accepted() -> None:
    rule = parse_rule_json(
        {
            "count": {"of": "orders", "where": {"field": "category", "op": "=", "value": "merch"}, "within": "365d"},
            "op": ">=",
            "value": 2,
        }
    )
    assert isinstance(rule, CountOf)
    assert rule.count.within == Duration(365, TimeUnit.DAYS)
    assert parse_rule_json({"list": "Fan Club"}) == in_list("Fan Club", status=ListStatus.SUBSCRIBED)


CANONICAL_TEXTS = [
    'not segment "Refund Abusers"',
    'sum(amount of orders where category = "merch") > 100',
    "last_active_at before 30 days ago",
    "created_at between 2024-01-01 and 2024-06-30",
    'email contains "@gmail"',
    "city is_set",
    "total_spent between 10.50 and 99.99",
    "max(amount of refunds between 2024-01-01 and 2024-06-30) >= 50",
    'last(events where type = "gig_attended" and properties.city = "Paris") within_last 90 days',
    'count(events where type = "email_opened" within 1 week) = 0',
    'first(orders where not (category = "merch" or amount < 5)) after 2024-03-01T12:30:00Z',
    'list "Newsletter" status bounced',
    'all(tag "VIP")',
    'any(tag "VIP")',
    'tag "VIP" or (tag "Early Bird" or tag "Merch Fan")',
    '(tag "VIP" and tag "Early Bird") or tag "Merch Fan"',
    'not not (city is_set and country = "FR")',
    "`count` > 3",
    'favourite_genre in (rock, "hip hop")',
    'nickname = "say \\"hi\\"\\n"',
    "newsletter_opt_in = false",
]


@pytest.mark.parametrize("text", CANONICAL_TEXTS)
def test_canonical_texts_round_trip(text: str) -> None:
    rule = parse_rule_text(text)
    assert format_rule(rule) == text
    assert parse_rule_json(json.loads(json.dumps(rule_to_json(rule)))) == rule


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a = 1 or b = 2 and c = 3",
            any_of(condition("a", "=", 1), all_of(condition("b", "=", 2), condition("c", "=", 3))),
        ),
        ("not a = 1 and b = 2", all_of(negate(condition("a", "=", 1)), condition("b", "=", 2))),
        ("not (a = 1 and b = 2)", negate(all_of(condition("a", "=", 1), condition("b", "=", 2)))),
        ('tag VIP and list "Fan Club" status any', all_of(has_tag("VIP"), in_list("Fan Club", status="any"))),
        ("segment Superfans", in_segment("Superfans")),
        ("x = 1.50", condition("x", "=", Decimal("1.50"))),
        ("x = -3", condition("x", "=", -3)),
        ("x = word", condition("x", "=", "word")),
        ("created_at after 2024-03-01T12:00:00+02:00", condition("created_at", "after", "2024-03-01T10:00:00Z")),
        ("last_active_at before 1 day ago", condition("last_active_at", "before", RelativeTime(1, TimeUnit.DAYS))),
        ("x  =\n  1", condition("x", "=", 1)),
    ],
)
def test_parsing(text: str, expected: Rule) -> None:
    assert parse_rule_text(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("total_spent >", "line 1, column 14: unexpected the end of the rule; expected one of:"),
        ("total_spent > > 3", "line 1, column 15: unexpected '>'; expected one of:"),
        (
            "city is_set and\n(tag",
            'line 2, column 5: unexpected the end of the rule; expected one of: a "quoted text", a name',
        ),
        ("x between 1", "line 1, column 12: unexpected the end of the rule; expected one of: 'and'"),
        ("x = @", "line 1, column 5: unexpected '@'"),
        ('count(orders where tag "x") > 1', "line 1, column 14: a where filter can only hold conditions"),
        ("count(things) > 1", "line 1, column 7: of: must be one of 'orders', 'refunds' or 'events'"),
        ("x before yesterday", "line 1, column 1: value: expected a date"),
        ("created_at after 2024-13-01", "line 1, column 18: 2024-13-01 is not a valid date"),
        ('list "a" status maybe', "line 1, column 17: list status is one of subscribed, unsubscribed, bounced, any"),
        ("x within_last 1.5 days", "line 1, column 15: an amount of time is a whole number"),
        ("   ", "the rule is empty"),
    ],
)
def test_syntax_errors_say_where_and_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(InvalidRule) as raised:
        parse_rule_text(text)
    assert len(raised.value.errors) == 1
    assert raised.value.errors[0].message.startswith(message), raised.value.errors[0].message


def test_rules_are_frozen_and_hashable() -> None:
    rule = parse_rule_text(EXAMPLE_TEXT)
    assert isinstance(rule, AllOf)
    with pytest.raises(ValueError, match="frozen"):
        rule.rules = ()  # type: ignore[misc]
    assert hash(rule) == hash(parse_rule_text(EXAMPLE_TEXT))


def test_json_schema_is_recursive_and_usable_in_openapi() -> None:
    schema = rule_json_schema()
    assert {"AllOf", "AnyOf", "Not", "FieldCondition", "CountOf", "WhereAllOf", "BehaviourQuery"} <= set(
        schema["$defs"]
    )
    assert {"$ref": "#/$defs/AllOf"} in schema["$defs"]["AllOf"]["properties"]["all"]["items"]["oneOf"]
    RULE_ADAPTER.json_schema(mode="serialization")

    class SegmentIn(BaseModel):
        name: str
        rule: Rule

    model_schema = SegmentIn.model_json_schema()
    assert "AllOf" in model_schema["$defs"]
    assert SegmentIn.model_validate({"name": "x", "rule": EXAMPLE_JSON}).rule == EXAMPLE_RULE
    assert isinstance(parse_rule_json('{"field": "city", "op": "is_set"}'), FieldCondition)
