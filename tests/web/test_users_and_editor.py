"""Without a browser: the users/sessions use cases (both databases) and the condition builder's JSON round trip."""

from __future__ import annotations

import uuid
from datetime import datetime
from datetime import timedelta

import pytest

from fanbase.core.fields import CORE_CATALOGUE
from fanbase.core.rules import parse_rule_json
from fanbase.core.rules import rule_to_json
from fanbase.core.text import format_rule
from fanbase.core.text import parse_rule_text
from fanbase.db.engine import Database
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import Unauthorized
from fanbase.services import users
from fanbase.web.builder_model import BEHAVIOURS
from fanbase.web.builder_model import BehaviourNode
from fanbase.web.builder_model import FieldNode
from fanbase.web.builder_model import GroupNode
from fanbase.web.builder_model import apply_what
from fanbase.web.builder_model import behaviour_what
from fanbase.web.builder_model import compile_tree
from fanbase.web.builder_model import main_filter
from fanbase.web.builder_model import new_condition
from fanbase.web.builder_model import set_main_filter
from fanbase.web.builder_model import tree_from_json

PASSWORD = "a long enough password"


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.com"


def test_sign_in_opens_a_session_that_names_the_workspace(database: Database, workspace_id: int, now: datetime) -> None:
    email = _email()
    users.create_user(database, workspace_id, email=email.upper(), password=PASSWORD, name="Ann", now=now)
    session = users.sign_in(database, email=email, password=PASSWORD, now=now)
    assert session.user.workspace_id == workspace_id
    assert session.user.email == email
    found = users.session_user(database, session.token, now=now + timedelta(days=1))
    assert found is not None and found.user_id == session.user.user_id
    # Only the token's hash is stored; the token itself is not a key.
    assert users.session_user(database, users.hash_token(session.token), now=now) is None


def test_wrong_password_and_unknown_email_are_refused_alike(
    database: Database, workspace_id: int, now: datetime
) -> None:
    email = _email()
    users.create_user(database, workspace_id, email=email, password=PASSWORD, now=now)
    with pytest.raises(Unauthorized, match="wrong email or password"):
        users.sign_in(database, email=email, password="not it at all", now=now)
    with pytest.raises(Unauthorized, match="wrong email or password"):
        users.sign_in(database, email=_email(), password=PASSWORD, now=now)


def test_sessions_expire_and_sign_out_ends_them(database: Database, workspace_id: int, now: datetime) -> None:
    email = _email()
    users.create_user(database, workspace_id, email=email, password=PASSWORD, now=now)
    session = users.sign_in(database, email=email, password=PASSWORD, now=now)
    assert users.session_user(database, session.token, now=now + users.SESSION_LIFETIME) is None
    users.sign_out(database, session.token)
    assert users.session_user(database, session.token, now=now) is None
    assert users.session_user(database, None, now=now) is None


def test_user_creation_checks_its_input(database: Database, workspace_id: int, now: datetime) -> None:
    email = _email()
    with pytest.raises(InvalidInput, match="at least 8"):
        users.create_user(database, workspace_id, email=email, password="short", now=now)
    with pytest.raises(InvalidInput):
        users.create_user(database, workspace_id, email="not an email", password=PASSWORD, now=now)
    users.create_user(database, workspace_id, email=email, password=PASSWORD, now=now)
    with pytest.raises(Conflict):
        users.create_user(database, workspace_id, email=email, password=PASSWORD, now=now)


RULES = [
    'lifecycle_stage in (customer, advocate) and not (tag "VIP" or list "Fan Club" status any)',
    'count(orders where category = "merch" and amount > 5 within 365 days) >= 2 and last_active_at before 30 days ago',
    "sum(amount of orders between 2024-01-01 and 60 days ago) > 5.5"
    " or last_active_at between 2024-01-01 and 3 days ago",
    'city in (a, b) and email is_empty and not segment "Refund Abusers" and created_at within_last 2 weeks',
    'last(events where type = "gig_attended" and properties.seats >= 2) within_last 30 days',
]


@pytest.mark.parametrize("text", RULES)
def test_the_builder_round_trips_rules(text: str) -> None:
    rule = rule_to_json(parse_rule_text(text))
    compiled = compile_tree(tree_from_json(rule), CORE_CATALOGUE)
    assert compiled.rule is not None
    assert format_rule(parse_rule_json(compiled.rule)) == format_rule(parse_rule_json(rule))


def test_errors_land_on_the_condition_they_name() -> None:
    root = GroupNode(kind="all")
    first = new_condition("field", CORE_CATALOGUE)
    nested = GroupNode(kind="any", is_negated=True, children=[FieldNode(field_name="country")])
    root.children = [first, nested]
    compiled = compile_tree(root, CORE_CATALOGUE)
    assert compiled.node_at("all[0].value") is first
    assert compiled.node_at("all[1].not.any[0].value") is nested.children[0]
    assert compiled.node_at("all[1].not.any") is nested
    assert compiled.node_at("all") is root


def test_a_lone_condition_is_the_whole_rule() -> None:
    condition = new_condition("field", CORE_CATALOGUE)
    compiled = compile_tree(GroupNode(kind="all", children=[condition]), CORE_CATALOGUE)
    assert compiled.rule is not None and "field" in compiled.rule
    assert compiled.node_at("value") is condition


@pytest.mark.parametrize("source", ["orders", "refunds", "events"])
@pytest.mark.parametrize("aggregate", ["count", "sum", "min", "max", "first", "last"])
def test_every_behaviour_has_its_sentence(source: str, aggregate: str) -> None:
    """Any stored behaviour condition the rule language allows has its words in the builder."""
    if source == "events" and aggregate in ("sum", "min", "max"):
        return  # events have nothing to add up: the rule language refuses these
    key = behaviour_what(BehaviourNode(aggregate=aggregate, source=source))
    assert BEHAVIOURS[key][1:3] == (aggregate, source)


def test_an_activitys_type_is_the_sentences_main_filter() -> None:
    text = 'count(events where type = "gig_attended" and properties.seats >= 2 within 365 days) >= 2'
    (node,) = tree_from_json(rule_to_json(parse_rule_text(text))).children
    assert isinstance(node, BehaviourNode) and behaviour_what(node) == "activity"
    chosen = main_filter(node)
    assert chosen is not None and chosen.comparison.value == "gig_attended"

    set_main_filter(node, "type", "email_opened")
    set_main_filter(node, "type", "")
    compiled = compile_tree(GroupNode(kind="all", children=[node]), CORE_CATALOGUE)
    assert compiled.rule is not None
    assert (
        format_rule(parse_rule_json(compiled.rule)) == "count(events where properties.seats >= 2 within 365 days) >= 2"
    )

    set_main_filter(node, "type", "gig_attended")
    apply_what(node, "spent", CORE_CATALOGUE)  # another source: its filters go
    assert (node.aggregate, node.source, node.measure, node.where) == ("sum", "orders", "amount", [])


def test_a_new_behaviour_condition_has_no_silent_time_window() -> None:
    node = new_condition("behaviour", CORE_CATALOGUE)
    assert isinstance(node, BehaviourNode) and node.window == "all_time"
