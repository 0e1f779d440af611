"""The rule compiler, table-driven: one small dataset, each rule with the fans it must select, on both backends.

Every case also checks the negation selects exactly the other fans (the compiled expression is never NULL) and
that the Python evaluator, reading the same rows through ``load_snapshots``, agrees.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest
from rule_data import Dataset
from rule_data import EventSpec
from rule_data import FanSpec
from rule_data import OrderSpec
from rule_data import expected_snapshot
from rule_data import python_members
from rule_data import sql_members
from rule_data import write_dataset
from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from fanbase.core.rule_builders import negate
from fanbase.core.rules import Rule
from fanbase.core.text import parse_rule_text
from fanbase.core.validation import References
from fanbase.core.validation import validate_rule
from fanbase.db.engine import Database
from fanbase.db.repositories.fan_snapshots import load_snapshots
from fanbase.db.repositories.rule_evaluation import matching_ids_query
from fanbase.db.rule_sql import CompiledRule
from fanbase.db.rule_sql import ResolvedReferences
from fanbase.db.rule_sql import compile_rule
from fanbase.db.rule_sql import compile_rule_for_workspace
from fanbase.db.tables import fans
from strategies import CATALOGUE
from strategies import LIST_NAMES
from strategies import SEGMENT_NAMES
from strategies import TAG_NAMES

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)
REFERENCES = References(
    tags=(*TAG_NAMES, "Ghost"),
    lists=LIST_NAMES,
    segments=dict.fromkeys((*SEGMENT_NAMES, "Big Spenders"), ()),
)

FANS: dict[str, FanSpec] = {
    "ada": FanSpec(
        email="ada@example.com",
        first_name="ADA",
        last_name="Lovelace",
        lifecycle_stage="customer",
        country="FR",
        city="Paris",
        created_at=NOW - 30 * DAY,
        custom_fields={
            "shoe_size": 42,
            "monthly_budget": Decimal("100.01"),
            "favourite_genre": "rock",
            "vip_since": datetime(2025, 1, 1, 10, 0, tzinfo=UTC),
            "newsletter_opt_in": True,
            "nickname": "100%_sure",
        },
        tags=frozenset({"VIP"}),
        lists={"Fan Club": "subscribed"},
        orders=(
            OrderSpec(amount=Decimal("100.01"), category="merch", placed_at=NOW - 10 * DAY),
            OrderSpec(amount=Decimal("50.00"), category="merch", status="refunded", placed_at=NOW - 5 * DAY),
        ),
        events=(
            EventSpec(
                type="gig_attended",
                occurred_at=NOW - 30 * DAY,
                properties={"city": "Paris", "seats": 2, "vip": True, "price": 10.5},
            ),
        ),
    ),
    "emile": FanSpec(
        email="emile@example.com",
        first_name="Émile",
        lifecycle_stage="lead",
        country="FR",
        created_at=NOW - 30 * DAY - MICROSECOND,
        custom_fields={
            "monthly_budget": Decimal("100.00"),
            "newsletter_opt_in": False,
            "nickname": "a_b",
            "vip_since": datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=UTC),
        },
        tags=frozenset({"Early Bird"}),
        lists={"Fan Club": "unsubscribed", "Newsletter": "subscribed"},
        orders=(OrderSpec(amount=Decimal("100.00"), category="ticket", placed_at=NOW - 40 * DAY),),
        events=(
            EventSpec(
                type="email_opened",
                occurred_at=NOW + DAY,
                properties={"city": 5, "seats": "two", "vip": "yes"},
            ),
        ),
    ),
    "bob": FanSpec(
        email="bob@example.com",
        first_name="émile",
        created_at=NOW - 30 * DAY + MICROSECOND,
        lists={"Newsletter": "bounced"},
        segments=frozenset({"Refund Abusers"}),
    ),
    "cy": FanSpec(
        email="cy@example.com",
        last_name="",
        city="",
        created_at=NOW + DAY,
        custom_fields={"shoe_size": 38.5, "nickname": ""},
        segments=frozenset({"Big Spenders"}),
        orders=(OrderSpec(amount=Decimal("0.01"), category="music", placed_at=NOW - 365 * DAY),),
        events=(
            EventSpec(
                type="gig_attended",
                occurred_at=NOW - 30 * DAY - MICROSECOND,
                properties={"seats": 2.0, "price": None, "vip": False},
            ),
        ),
    ),
}
EVERYONE = frozenset(FANS)

CASES: list[tuple[str, set[str]]] = [
    # text: ASCII folding only, is_empty, missing values
    ('first_name = "ada"', {"ada"}),
    ('first_name = "émile"', {"bob"}),
    ('first_name = "ÉMILE"', {"emile"}),
    ('first_name != "ada"', {"emile", "bob"}),
    ("first_name is_set", {"ada", "emile", "bob"}),
    ("first_name is_not_set", {"cy"}),
    ("last_name is_empty", {"emile", "bob", "cy"}),
    ("city is_empty", {"emile", "bob", "cy"}),
    ('country = "fr"', {"ada", "emile"}),
    ('country in ("FR", "de")', {"ada", "emile"}),
    ('country not_in ("FR")', set()),
    # substring tests are literal: % and _ are ordinary characters
    ('nickname contains "%"', {"ada"}),
    ('nickname contains "_"', {"ada", "emile"}),
    ('nickname contains "0%S"', set()),
    ('nickname contains "0%_"', {"ada"}),
    ('nickname starts_with "1_0"', set()),
    ('nickname starts_with "A_"', {"emile"}),
    ('nickname ends_with "_SURE"', {"ada"}),
    ('nickname ends_with "b"', {"emile"}),
    ("nickname is_empty", {"bob", "cy"}),
    # NUL cannot be stored (and PostgreSQL cannot bind it): such a constant matches no stored text
    ('first_name = "a\\u0000"', set()),
    ('first_name != "a\\u0000"', {"ada", "emile", "bob"}),
    ('nickname contains "\\u0000"', set()),
    ('nickname starts_with "\\u0000"', set()),
    ('nickname ends_with "\\u0000"', set()),
    ('country in ("fr", "\\u0000")', {"ada", "emile"}),
    ('country in ("\\u0000")', set()),
    # enums compare exactly
    ("lifecycle_stage in (customer, lead)", {"ada", "emile"}),
    ("lifecycle_stage not_in (customer)", {"emile", "bob", "cy"}),
    ("favourite_genre = rock", {"ada"}),
    ("favourite_genre in (rock, pop)", {"ada"}),
    # money is exact, in cents; refunds are not spending
    ("total_spent > 100", {"ada"}),
    ("total_spent >= 100", {"ada", "emile"}),
    ("total_spent = 100.01", {"ada"}),
    ("total_spent = 0", {"bob"}),
    ("total_spent between 0.01 and 100", {"emile", "cy"}),
    ("monthly_budget > 100", {"ada"}),
    ("monthly_budget = 100.00", {"emile"}),
    ("monthly_budget is_not_set", {"bob", "cy"}),
    # numbers
    ("shoe_size > 40", {"ada"}),
    ("shoe_size < 40", {"cy"}),
    ("shoe_size = 38.5", {"cy"}),
    ("shoe_size between 38 and 42", {"ada", "cy"}),
    ("purchase_count = 1", {"ada", "emile", "cy"}),
    # booleans: missing is neither true nor false
    ("newsletter_opt_in is_true", {"ada"}),
    ("newsletter_opt_in is_false", {"emile"}),
    ("newsletter_opt_in != true", {"emile"}),
    # custom datetimes (stored as fixed-width text): a date covers its whole day
    ("vip_since before 2025-01-02", {"ada"}),
    ("vip_since after 2025-06-30", set()),
    ("vip_since after 2025-06-29", {"emile"}),
    ("vip_since between 2025-01-01 and 2025-06-30", {"ada", "emile"}),
    ("vip_since after 2025-06-30T23:59:59.999998Z", {"emile"}),
    # windows at their exact boundaries; the future is outside "within"
    ("created_at within_last 30 days", {"ada", "bob"}),
    ("created_at more_than 30 days ago", {"emile"}),
    ("created_at before 30 days ago", {"emile"}),
    ("created_at after 30 days ago", {"bob", "cy"}),
    ("last_active_at within_last 30 days", {"ada"}),
    ("last_active_at is_not_set", {"bob"}),
    ("last_active_at more_than 30 days ago", {"cy"}),
    ("last_active_at after 1 hour ago", {"emile"}),
    # tags, lists, segments (stored membership, not re-evaluated)
    ('tag "VIP"', {"ada"}),
    ('tag "vip"', {"ada"}),
    ('tag "Merch Fan"', set()),
    ('tag "Ghost"', set()),
    ('list "Fan Club"', {"ada"}),
    ('list "fan club" status unsubscribed', {"emile"}),
    ('list "Fan Club" status any', {"ada", "emile"}),
    ('list "Newsletter" status bounced', {"bob"}),
    ('list "Newsletter" status any', {"emile", "bob"}),
    ('segment "Refund Abusers"', {"bob"}),
    ('segment "Big Spenders"', {"cy"}),
    # behaviour: counts (EXISTS shortcuts and real counts), sums, extremes, first/last
    ("count(orders) >= 1", {"ada", "emile", "cy"}),
    ("count(orders) > 0", {"ada", "emile", "cy"}),
    ("count(orders) = 0", {"bob"}),
    ("count(orders) = 1", {"ada", "emile", "cy"}),
    ("count(orders) >= 2", set()),
    ("count(refunds) >= 1", {"ada"}),
    ('count(orders where category = "MERCH") = 1', {"ada"}),
    ('count(events where type = "gig_attended" within 30 days) >= 1', {"ada"}),
    ('count(events where type = "gig_attended") >= 1', {"ada", "cy"}),
    ("count(events within 30 days) = 0", {"emile", "bob", "cy"}),
    ("count(events) >= 1", {"ada", "emile", "cy"}),
    ("count(events between 30 days ago and 1 hour ago) >= 1", {"ada"}),
    ("count(orders between 2025-06-01 and 2026-05-22) >= 1", {"ada", "emile", "cy"}),
    ("count(orders between 2025-06-02 and 2026-05-21) >= 1", {"emile"}),
    ("sum(amount of orders) > 100", {"ada"}),
    ("sum(amount of orders) = 0", {"bob"}),
    ("sum(amount of refunds) = 50", {"ada"}),
    ('sum(amount of orders where category = "merch") >= 100.01', {"ada"}),
    ("max(amount of orders) >= 100", {"ada", "emile"}),
    ("min(amount of orders) < 1", {"cy"}),
    ("min(amount of refunds) is_not_set", {"emile", "bob", "cy"}),
    ("last(orders) within_last 30 days", {"ada"}),
    ("first(orders) more_than 300 days ago", {"cy"}),
    ("last(events) after 1 hour ago", {"emile"}),
    ("first(events) is_set", {"ada", "emile", "cy"}),
    # event properties: typed views, a JSON value of another type is missing
    ('count(events where properties.city = "paris") >= 1', {"ada"}),
    ("count(events where properties.city = 5) >= 1", {"emile"}),
    ("count(events where properties.seats = 2) >= 1", {"ada", "cy"}),
    ("count(events where properties.seats != 2) >= 1", set()),
    ("count(events where not properties.seats = 2) >= 1", {"emile"}),
    ('count(events where properties.seats = "two") >= 1', {"emile"}),
    ("count(events where properties.vip = true) >= 1", {"ada"}),
    ("count(events where properties.vip = false) >= 1", {"cy"}),
    ('count(events where properties.vip = "yes") >= 1', {"emile"}),
    ("count(events where properties.vip is_set) >= 1", {"ada", "emile", "cy"}),
    ("count(events where properties.price is_set) >= 1", {"ada"}),
    ("count(events where properties.city is_not_set) >= 1", {"cy"}),
    ("count(events where properties.price > 10) >= 1", {"ada"}),
    ('count(events where properties.city contains "AR") >= 1', {"ada"}),
    # groups
    ('tag "VIP" or segment "Refund Abusers"', {"ada", "bob"}),
    ('country = "fr" and not tag "VIP"', {"emile"}),
    ('any(list "Newsletter" status any, total_spent > 100) and last_active_at is_set', {"ada", "emile"}),
]

_datasets: dict[str, tuple[Dataset, dict[str, int]]] = {}


def _dataset(database: Database) -> tuple[Dataset, dict[str, int]]:
    """The fixture dataset, written once per backend."""
    backend = database.dialect
    if backend not in _datasets:
        dataset = write_dataset(database, list(FANS.values()), now=NOW)
        _datasets[backend] = (dataset, dict(zip(FANS, dataset.fan_ids, strict=True)))
    return _datasets[backend]


def _rule(text: str) -> Rule:
    return validate_rule(parse_rule_text(text), catalogue=CATALOGUE, references=REFERENCES)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text for text, _ in CASES])
def test_compiled_rule_selects(database: Database, text: str, expected: set[str]) -> None:
    dataset, ids = _dataset(database)
    names = {fan_id: name for name, fan_id in ids.items()}
    rule = _rule(text)
    with database.transaction(workspace_id=None, write=False) as connection:
        selected = {names[fan_id] for fan_id in sql_members(connection, dataset, rule, now=NOW)}
        excluded = {names[fan_id] for fan_id in sql_members(connection, dataset, negate(rule), now=NOW)}
        snapshots = load_snapshots(connection, dataset.workspace_id, catalogue=CATALOGUE)
    assert selected == expected
    # Two-valued: the negation selects exactly everyone else (no NULL swallows a fan on either side).
    assert excluded == EVERYONE - expected
    assert {names[fan_id] for fan_id in python_members(snapshots, rule, now=NOW)} == expected


def test_a_reference_missing_from_the_database_is_false(database: Database) -> None:
    dataset, ids = _dataset(database)
    rule = _rule('tag "VIP" or list "Fan Club" or segment "Refund Abusers"')
    nothing = ResolvedReferences(tags={}, lists={}, segments={})
    with database.transaction(workspace_id=None, write=False) as connection:
        for candidate in (rule, negate(rule)):
            expression = compile_rule(
                candidate,
                workspace_id=dataset.workspace_id,
                now=NOW,
                catalogue=CATALOGUE,
                references=nothing,
                dialect=database.dialect,
            )
            selected = set(
                connection.execute(
                    select(fans.c.id).where(fans.c.workspace_id == dataset.workspace_id, expression)
                ).scalars()
            )
            assert selected == (set() if candidate is rule else set(ids.values()))


def test_snapshots_hold_what_was_written(database: Database) -> None:
    dataset, ids = _dataset(database)
    with database.transaction(workspace_id=None, write=False) as connection:
        every = load_snapshots(connection, dataset.workspace_id, catalogue=CATALOGUE)
        some = load_snapshots(connection, dataset.workspace_id, catalogue=CATALOGUE, fan_ids=[ids["ada"], ids["cy"]])
    assert every == {ids[name]: expected_snapshot(spec) for name, spec in FANS.items()}
    assert some == {ids[name]: every[ids[name]] for name in ("ada", "cy")}


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_compiled_sql_is_parametrised_and_uses_exists(dialect: object) -> None:
    rule = _rule(
        'tag "VIP" and nickname contains "zz%q" and total_spent > 123.45 and created_at before 2021-03-04 '
        'and count(events where type = "gig_xyz" and properties.city = "Quimper" within 17 days) >= 3 '
        'and list "Newsletter" status bounced and favourite_genre = Jazz and vip_since after 2019-09-09'
    )
    references = ResolvedReferences(
        tags={"vip": 987654}, lists={"newsletter": 876543}, segments={"refund abusers": 765432}
    )
    expression = compile_rule(
        rule,
        workspace_id=4242,
        now=NOW,
        catalogue=CATALOGUE,
        references=references,
        dialect=dialect.name,  # type: ignore[attr-defined]
    )
    sql = str(select(fans.c.id).where(expression).compile(dialect=dialect))  # type: ignore[arg-type]
    for constant in (
        "zz%q",
        "12345",
        "123.45",
        "2021",
        "gig_xyz",
        "quimper",
        "bounced",
        "Jazz",
        "2019",
        "4242",
        "987654",
        "876543",
        "$.",
    ):
        assert constant not in sql, f"{constant!r} is written into the SQL:\n{sql}"
    assert "EXISTS (SELECT" in sql
    assert "fan_tags" in sql
    assert "count(" in sql.lower()


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_some_or_no_rows_is_asked_with_exists(dialect: object) -> None:
    references = ResolvedReferences(tags={}, lists={}, segments={})
    for text, keyword in (("count(orders) >= 1", "EXISTS"), ("count(events within 7 days) = 0", "NOT (EXISTS")):
        expression = compile_rule(
            _rule(text),
            workspace_id=1,
            now=NOW,
            catalogue=CATALOGUE,
            references=references,
            dialect=dialect.name,  # type: ignore[attr-defined]
        )
        sql = str(select(fans.c.id).where(expression).compile(dialect=dialect))  # type: ignore[arg-type]
        assert keyword in sql
        assert "count(" not in sql.lower()


def _set_form(text: str, dialect: object, references: ResolvedReferences) -> CompiledRule:
    return compile_rule_for_workspace(
        _rule(text),
        workspace_id=1,
        now=NOW,
        catalogue=CATALOGUE,
        references=references,
        dialect=dialect.name,  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_rows_a_rule_requires_are_joined_inner_when_selecting_its_fans(dialect: object) -> None:
    references = ResolvedReferences(tags={"vip": 1, "ghost": 2}, lists={"newsletter": 3}, segments={})
    text = '(tag "VIP" and count(orders) >= 1) and not list "Newsletter" and (tag "Ghost" or total_spent > 5)'
    compiled = _set_form(text, dialect, references)
    # The tag "VIP" and order tables are required (top-level "and" parts, nested "and" flattened); the list (under
    # "not") and the other tag (under "or") may be missing, so they stay LEFT JOINs.
    assert (len(compiled.joins), len(compiled.required)) == (4, 2)
    sql = str(matching_ids_query(1, compiled).compile(dialect=dialect))  # type: ignore[arg-type]
    assert sql.count("LEFT OUTER JOIN") == 2
    assert sql.count(" JOIN ") == 4


@pytest.mark.parametrize(
    ("dialect", "joins"), [(sqlite.dialect(), 1), (postgresql.dialect(), 0)], ids=["sqlite", "postgresql"]
)
def test_no_such_row_at_the_top_is_an_anti_join_on_postgresql(dialect: object, joins: int) -> None:
    references = ResolvedReferences(tags={}, lists={}, segments={})
    for text in ("count(events within 7 days) = 0", "not count(events within 7 days) >= 1"):
        compiled = _set_form(text, dialect, references)
        # PostgreSQL: NOT EXISTS (an anti join on the events); SQLite: the derived table of fans with such rows.
        assert len(compiled.joins) == joins, text
        sql = str(matching_ids_query(1, compiled).compile(dialect=dialect))  # type: ignore[arg-type]
        assert ("NOT (EXISTS" in sql) == (joins == 0), sql


@pytest.mark.parametrize(
    ("dialect", "guard"),
    [(sqlite.dialect(), "(+ fans.country) IS NOT NULL"), (postgresql.dialect(), "fans.country IS NOT NULL")],
    ids=["sqlite", "postgresql"],
)
def test_the_missing_value_guard_leaves_the_index_to_the_comparison(dialect: object, guard: str) -> None:
    expression = compile_rule(
        _rule("country in (FR, DE)"),
        workspace_id=1,
        now=NOW,
        catalogue=CATALOGUE,
        references=ResolvedReferences(tags={}, lists={}, segments={}),
        dialect=dialect.name,  # type: ignore[attr-defined]
    )
    sql = str(select(fans.c.id).where(expression).compile(dialect=dialect))  # type: ignore[arg-type]
    # SQLite would read a bare "country IS NOT NULL" as a range (country > NULL) and scan it instead of seeking
    # each country; "+" keeps the value and drops the range.
    assert guard in sql
    assert "fans.country IN" in sql
