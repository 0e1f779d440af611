"""Validation: every kind of error, with its exact path; all errors are collected."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.core.rule_builders import condition
from fanbase.core.rule_builders import in_segment
from fanbase.core.rules import FieldCondition
from fanbase.core.rules import parse_rule_json
from fanbase.core.rules import reference_key
from fanbase.core.validation import References
from fanbase.core.validation import unseen_names
from fanbase.core.validation import validate_rule
from fanbase.errors import InvalidRule
from strategies import CATALOGUE
from strategies import REFERENCES


def errors_of(data: object, *, references: References = REFERENCES) -> list[str]:
    with pytest.raises(InvalidRule) as raised:
        validate_rule(data, catalogue=CATALOGUE, references=references)
    return [str(error) for error in raised.value.errors]


MERCH = {"field": "category", "op": "=", "value": "merch"}

ERROR_CASES: list[tuple[str, Any, str]] = [
    (
        "unknown order field in a count's filter",
        {
            "all": [
                {"tag": "VIP"},
                {"tag": "VIP"},
                {
                    "count": {"of": "orders", "where": {"field": "colour", "op": "=", "value": "red"}},
                    "op": ">",
                    "value": 1,
                },
            ]
        },
        "all[2].count.where.field: unknown order field 'colour'",
    ),
    ("unknown fan field", {"field": "colour", "op": "=", "value": "red"}, "field: unknown field 'colour'"),
    (
        "unknown event field in a nested filter",
        {"last": {"of": "events", "where": {"any": [MERCH]}}, "op": "is_set"},
        "last.where.any[0].field: unknown event field 'category'",
    ),
    (
        "text compared with a number",
        {"field": "email", "op": "=", "value": 5},
        "value: expected a text for email, got 5",
    ),
    (
        "money that is not a number",
        {"field": "total_spent", "op": ">", "value": "lots"},
        "value: expected an amount of money for total_spent, got 'lots'",
    ),
    (
        "money with 3 decimals",
        {"field": "total_spent", "op": ">", "value": "1.005"},
        "value: amounts have at most 2 decimal places, got 1.005",
    ),
    (
        "fractional integer",
        {"field": "purchase_count", "op": ">", "value": 1.5},
        "value: purchase_count is a whole number, got 1.5",
    ),
    (
        "unknown enum choice",
        {"field": "lifecycle_stage", "op": "in", "value": ["customer", "fan"]},
        "value: lifecycle_stage is one of subscriber, lead, customer, advocate; got 'fan'",
    ),
    (
        "boolean given a text",
        {"field": "newsletter_opt_in", "op": "=", "value": "yes"},
        "value: expected true or false for newsletter_opt_in, got 'yes'",
    ),
    (
        "empty substring",
        {"field": "email", "op": "contains", "value": ""},
        "value: the text to look for must not be empty",
    ),
    (
        "reversed range",
        {"field": "total_spent", "op": "between", "value": [100, 50]},
        "value: the range is empty: 100 is more than 50",
    ),
    (
        "reversed dates",
        {"field": "created_at", "op": "between", "value": ["2024-06-30", "2024-01-01"]},
        "value: the range is empty: 2024-06-30 is after 2024-01-01",
    ),
    (
        "numbers for a datetime range",
        {"field": "created_at", "op": "between", "value": [1, 2]},
        "value: expected two dates, UTC datetimes or relative times such as '30 days ago'",
    ),
    (
        "operator the type lacks",
        {"field": "email", "op": ">", "value": 5},
        "op: operator '>' does not apply to text field 'email' "
        "(use one of: =, !=, contains, starts_with, ends_with, is_empty, in, not_in, is_set, is_not_set)",
    ),
    (
        "ordering a datetime with >",
        {"field": "created_at", "op": ">", "value": 5},
        "op: operator '>' does not apply to datetime field 'created_at' "
        "(use one of: between, before, after, within_last, more_than, is_set, is_not_set)",
    ),
    (
        "count compared with a date",
        {"count": {"of": "orders"}, "op": "before", "value": "2024-01-01"},
        "op: operator 'before' does not apply to number field 'count' "
        "(use one of: =, !=, >, >=, <, <=, between, is_set, is_not_set)",
    ),
    (
        "sum without a field",
        {"sum": {"of": "orders"}, "op": ">", "value": 1},
        "sum.field: sum needs a field, e.g. amount",
    ),
    (
        "sum of a text field",
        {"sum": {"of": "orders", "field": "category"}, "op": ">", "value": 1},
        "sum.field: sum needs a number or money field",
    ),
    (
        "count with a field",
        {"count": {"of": "orders", "field": "amount"}, "op": ">", "value": 1},
        "count.field: count takes no field",
    ),
    ("empty all", {"all": []}, "all: an 'all' group needs at least one condition"),
    (
        "empty nested any",
        {"not": {"all": [{"any": []}]}},
        "not.all[0].any: an 'any' group needs at least one condition",
    ),
    (
        "empty filter group",
        {"count": {"of": "orders", "where": {"all": []}}, "op": ">", "value": 0},
        "count.where.all: an 'all' group needs at least one condition",
    ),
    ("missing tag", {"tag": "Nope"}, "tag: unknown tag 'Nope'"),
    ("missing list", {"any": [{"list": "Nope"}]}, "any[0].list: unknown list 'Nope'"),
    ("missing segment", {"not": {"segment": "Nope"}}, "not.segment: unknown segment 'Nope'"),
    # Structural (pydantic) errors get paths too.
    ("unknown operator", {"all": [{"field": "email", "op": "~"}]}, "all[0].op: must be one of"),
    ("missing value", {"field": "email", "op": "="}, "value: this operator needs a value"),
    (
        "value where none is taken",
        {"field": "email", "op": "is_set", "value": 1},
        "value: this operator takes no value",
    ),
    ("unknown key", {"field": "email", "op": "is_set", "colour": 1}, "colour: is not a known key here"),
    ("not a condition", {"all": [{"colour": 1}]}, "all[0]: expected a condition: an object with one of the keys"),
    (
        "naive datetime",
        {"field": "created_at", "op": "before", "value": "2024-01-01T10:00:00"},
        "value: datetime '2024-01-01T10:00:00' needs a timezone",
    ),
    (
        "unknown source",
        {"count": {"of": "tickets"}, "op": ">", "value": 1},
        "count.of: must be one of 'orders', 'refunds' or 'events'",
    ),
    (
        "two windows",
        {
            "count": {"of": "orders", "within": "30 days", "between": ["2024-01-01", "2024-02-01"]},
            "op": ">",
            "value": 1,
        },
        "count: give either 'within' or 'between', not both",
    ),
    (
        "bad duration",
        {"count": {"of": "orders", "within": "30 fortnights"}, "op": ">", "value": 1},
        "count.within: expected a duration such as '30 days'",
    ),
    (
        "amount out of range",
        {"field": "last_active_at", "op": "within_last", "value": "0 days"},
        "value: the amount of time must be between 1 and 10000",
    ),
]


@pytest.mark.parametrize(("case", "data", "expected"), ERROR_CASES, ids=[case for case, _, _ in ERROR_CASES])
def test_validation_errors_name_their_path(case: str, data: Any, expected: str) -> None:
    errors = errors_of(data)
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors[0]


def test_all_errors_are_collected() -> None:
    data = {
        "all": [
            {"field": "colour", "op": "=", "value": "red"},
            {"tag": "Nope"},
            {"any": []},
            {"count": {"of": "orders", "where": {"field": "colour", "op": "=", "value": 1}}, "op": ">", "value": 1},
        ]
    }
    assert errors_of(data) == [
        "all[0].field: unknown field 'colour'",
        "all[1].tag: unknown tag 'Nope'",
        "all[2].any: an 'any' group needs at least one condition",
        "all[3].count.where.field: unknown order field 'colour'",
    ]


SEGMENTS = References(
    segments={"Superfans": ["Big Spenders"], "Big Spenders": ["Refund Abusers"], "Refund Abusers": []},
    current_segment="Refund Abusers",
)


def test_a_reference_that_leads_back_is_a_cycle() -> None:
    assert errors_of({"not": {"segment": "superfans"}}, references=SEGMENTS) == [
        "not.segment: segment 'superfans' would make a cycle: "
        "Refund Abusers → Superfans → Big Spenders → Refund Abusers"
    ]


def test_a_segment_cannot_refer_to_itself() -> None:
    new_segment = References(segments={}, current_segment="Loyal")
    assert errors_of({"segment": "LOYAL"}, references=new_segment) == [
        "segment: segment 'LOYAL' would make a cycle: Loyal → Loyal"
    ]


def test_references_without_a_cycle_are_accepted() -> None:
    rule = validate_rule(
        in_segment("Refund Abusers"),
        catalogue=CATALOGUE,
        references=References(segments=SEGMENTS.segments, current_segment="Superfans"),
    )
    assert rule == in_segment("Refund Abusers")


def test_validation_returns_the_canonical_rule() -> None:
    data = {
        "all": [
            {"field": "total_spent", "op": ">", "value": "100.50"},
            {"field": "lifecycle_stage", "op": "in", "value": ["Customer", "ADVOCATE"]},
            {"field": "purchase_count", "op": ">=", "value": 2.0},
            {"tag": "vip"},
        ]
    }
    rule = validate_rule(data, catalogue=CATALOGUE, references=REFERENCES)
    money, stages, count, _ = rule.rules  # type: ignore[union-attr]
    assert isinstance(money, FieldCondition) and money.value == Decimal("100.50")
    assert isinstance(money.value, Decimal)
    assert isinstance(stages, FieldCondition) and stages.value == ("customer", "advocate")
    assert isinstance(count, FieldCondition) and count.value == 2 and isinstance(count.value, int)


def test_names_match_case_insensitively() -> None:
    assert reference_key("  Fan Club ") == reference_key("fan club") == "fan club"
    validate_rule({"list": "FAN CLUB"}, catalogue=CATALOGUE, references=REFERENCES)


def test_custom_fields_come_from_the_catalogue() -> None:
    catalogue = Catalogue(custom_fields=(FieldSpec(name="shoe_size", type=FieldType.NUMBER),))
    validate_rule(condition("shoe_size", ">", 40), catalogue=catalogue, references=References())
    with pytest.raises(InvalidRule, match="unknown field 'shoe_size'"):
        validate_rule(condition("shoe_size", ">", 40), catalogue=Catalogue(), references=References())


@pytest.mark.parametrize(
    "spec",
    [
        FieldSpec(name="email", type=FieldType.TEXT),
        FieldSpec(name="bad name", type=FieldType.TEXT),
    ],
)
def test_catalogue_refuses_bad_custom_fields(spec: FieldSpec) -> None:
    with pytest.raises(ValueError, match="custom field"):
        Catalogue(custom_fields=(spec,))


def test_parse_errors_are_rule_errors_not_pydantic_dumps() -> None:
    with pytest.raises(InvalidRule) as raised:
        parse_rule_json({"all": [{"field": "email", "op": "=", "value": {"a": 1}}]})
    assert [str(error) for error in raised.value.errors] == [
        "all[0].value: expected a text, a number or true/false, got an object"
    ]


SUGGESTIONS = References(tags=("VIP", "Press"), lists=("Newsletter",), segments={"High Spenders": ()})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"tag": "VIPs"}, "tag: unknown tag 'VIPs' (did you mean 'VIP'?)"),
        ({"list": "newsleter"}, "list: unknown list 'newsleter' (did you mean 'Newsletter'?)"),
        ({"segment": "high spender"}, "segment: unknown segment 'high spender' (did you mean 'High Spenders'?)"),
        (
            {"field": "total_spend", "op": ">", "value": 1},
            "field: unknown field 'total_spend' (did you mean 'total_spent'?)",
        ),
        (
            {
                "count": {"of": "orders", "where": {"field": "categry", "op": "=", "value": "merch"}},
                "op": ">",
                "value": 0,
            },
            "count.where.field: unknown order field 'categry' (did you mean 'category'?)",
        ),
        # Nothing close: no guess.
        ({"tag": "Zebra"}, "tag: unknown tag 'Zebra'"),
        ({"field": "colour", "op": "=", "value": "red"}, "field: unknown field 'colour'"),
    ],
)
def test_an_unknown_name_suggests_the_closest_known_one(rule: dict[str, Any], message: str) -> None:
    assert errors_of(rule, references=SUGGESTIONS) == [message]


def test_unseen_event_types_and_categories_are_hints_asked_for_only_when_named() -> None:
    asked: list[str] = []

    def seen(field: str) -> set[str]:
        asked.append(field)
        return {"type": {"gig_attended", "email_opened"}, "category": {"merch"}}[field]

    rule = parse_rule_json(
        {
            "not": {
                "any": [
                    {
                        "count": {"of": "events", "where": {"field": "type", "op": "=", "value": "Gig_Attended"}},
                        "op": ">",
                        "value": 0,
                    },
                    {
                        "count": {"of": "events", "where": {"not": {"field": "type", "op": "=", "value": "gig"}}},
                        "op": ">",
                        "value": 0,
                    },
                    {
                        "count": {"of": "events", "where": {"field": "type", "op": "!=", "value": "nope"}},
                        "op": ">",
                        "value": 0,
                    },
                ]
            }
        }
    )
    assert [str(hint) for hint in unseen_names(rule, seen)] == [
        "not.any[0].count.where.value: no event type 'Gig_Attended' has been recorded yet"
        " (did you mean 'gig_attended'?)",
        "not.any[1].count.where.not.value: no event type 'gig' has been recorded yet",
    ]
    assert set(asked) == {"type"}
    asked.clear()
    assert unseen_names(parse_rule_json({"field": "total_spent", "op": ">", "value": 1}), seen) == []
    assert asked == []  # a rule naming no event type or category reads nothing
