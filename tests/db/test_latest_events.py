"""Each fan's latest event times per type (``fan_latest_events``): kept exact by every event insert, and read by the
set form for "at least N events of type T (in the last W)".

Whether the rules mean the same with the table is the cross-check's job (``test_rules_agree`` and the compiler's
cases compare the set form, which reads it, with the per-fan form, which reads the events, and the Python evaluator;
``strategies.event_type_counts`` draws the shape). Here: the table equals what the events say after any sequence of
inserts, the shapes that read it, and that erasing a fan erases its rows.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from rule_data import EventSpec
from rule_data import FanSpec
from rule_data import python_members
from rule_data import sql_members
from rule_data import write_dataset
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from fanbase.core.text import parse_rule_text
from fanbase.core.validation import References
from fanbase.core.validation import validate_rule
from fanbase.db.engine import Database
from fanbase.db.repositories import activity
from fanbase.db.repositories import bulk
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import latest_events
from fanbase.db.repositories import workspaces
from fanbase.db.repositories.fan_snapshots import load_snapshots
from fanbase.db.rule_sql import compile_rule_for_workspace
from fanbase.db.rule_sql.base import NO_REFERENCES
from fanbase.db.tables import fan_latest_events
from fanbase.db.tables import fans
from strategies import CATALOGUE

TYPES = ("gig_attended", "email_opened", "merch_viewed")
# Few distinct times, so that ties (several events in one instant) are common.
OFFSETS = st.integers(min_value=-5, max_value=2).map(lambda hours: timedelta(hours=hours))


def _stored(database: Database, workspace_id: int) -> set[tuple[object, ...]]:
    with database.transaction(workspace_id=None, write=False) as connection:
        table = fan_latest_events
        rows = connection.execute(
            select(table.c.fan_id, table.c.type, table.c.t1, table.c.t2, table.c.t3).where(
                table.c.workspace_id == workspace_id
            )
        )
        return {tuple(row) for row in rows}


def _rebuilt(database: Database, workspace_id: int) -> set[tuple[object, ...]]:
    """What the events say, recomputed in a transaction that is then undone."""
    with database.engine.connect() as connection, connection.begin() as transaction:
        latest_events.rebuild(connection, workspace_id)
        table = fan_latest_events
        rows = connection.execute(
            select(table.c.fan_id, table.c.type, table.c.t1, table.c.t2, table.c.t3).where(
                table.c.workspace_id == workspace_id
            )
        )
        found = {tuple(row) for row in rows}
        transaction.rollback()
    return found


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(
        st.tuples(
            st.booleans(),  # through the bulk writer (the demo's) or the write path's
            st.lists(st.tuples(st.integers(0, 2), st.sampled_from(TYPES), OFFSETS), min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_the_table_equals_what_the_events_say(
    database: Database, now: datetime, batches: list[tuple[bool, list[tuple[int, str, timedelta]]]]
) -> None:
    with database.transaction(workspace_id=None) as connection:
        workspace_id = workspaces.insert_workspace(connection, name="latest", currency="USD", now=now).id
        fan_ids = fans_repo.insert_fans(
            connection,
            workspace_id,
            [{"email": f"{uuid.uuid4().hex[:10]}@example.com", "created_at": now, "updated_at": now} for _ in range(3)],
        )
    for is_bulk, items in batches:
        rows = [
            {"fan_id": fan_ids[fan], "type": kind, "properties": {}, "occurred_at": now + offset, "created_at": now}
            for fan, kind, offset in items
        ]
        with database.transaction(workspace_id=None) as connection:
            (bulk.insert_events if is_bulk else activity.insert_events)(connection, workspace_id, rows)
        assert _stored(database, workspace_id) == _rebuilt(database, workspace_id)


def test_erasing_a_fan_erases_its_latest_times(database: Database, workspace_id: int, now: datetime) -> None:
    with database.transaction(workspace_id=None) as connection:
        (fan_id,) = fans_repo.insert_fans(
            connection, workspace_id, [{"email": "gone@example.com", "created_at": now, "updated_at": now}]
        )
        activity.insert_events(
            connection,
            workspace_id,
            [{"fan_id": fan_id, "type": "gig_attended", "properties": {}, "occurred_at": now, "created_at": now}],
        )
    assert _stored(database, workspace_id)
    with database.transaction(workspace_id=None) as connection:
        connection.execute(delete(fans).where(fans.c.workspace_id == workspace_id, fans.c.id == fan_id))
    assert _stored(database, workspace_id) == set()


_NO_NAMES = References(tags=frozenset(), lists=frozenset(), segments={})


def _reads_latest_times(text: str, now: datetime) -> bool:
    rule = validate_rule(parse_rule_text(text), catalogue=CATALOGUE, references=_NO_NAMES)
    compiled = compile_rule_for_workspace(
        rule, workspace_id=1, now=now, catalogue=CATALOGUE, references=NO_REFERENCES, dialect="postgresql"
    )
    return "fan_latest_events" in str(compiled.condition.compile(dialect=postgresql.dialect())) or any(
        "fan_latest_events" in str(table.compile(dialect=postgresql.dialect())) for table in compiled.joins
    )


def test_the_shapes_that_read_the_latest_times(now: datetime) -> None:
    reads = [
        'count(events where type = "gig_attended" within 365 days) >= 2',
        'count(events where type = "gig_attended" within 365 days) > 2',
        'count(events where type = "gig_attended") >= 3',
        'count(events where type = "Gig_Attended" within 30 days) >= 1',
        'count(events where type = "gig_attended" within 30 days) < 2',
        'count(events where type = "gig_attended") <= 1',
    ]
    reads_events = [
        'count(events where type = "gig_attended" within 365 days) >= 4',  # beyond the three times kept
        'count(events where type = "gig_attended" within 365 days) > 3',
        'count(events where type = "gig_attended" within 365 days) = 2',
        'count(events where type = "gig_attended" between 2026-01-01 and 2026-03-01) >= 2',
        'count(events where type = "gig_attended" and properties.city = "Paris" within 365 days) >= 2',
        "count(events within 365 days) >= 2",
        'count(orders where category = "merch") >= 2',
    ]
    assert [text for text in reads if not _reads_latest_times(text, now)] == []
    assert [text for text in reads_events if _reads_latest_times(text, now)] == []


DAY = timedelta(days=1)
# Events around now: "ahead" has one after now, which no "last W" window holds, so its latest times alone would
# misjudge it; "tied" has three events in one instant; "old" has more events than the table keeps.
_EVENT_FANS = {
    "ahead": (DAY, -2 * DAY, -3 * DAY, -400 * DAY),
    "tied": (-DAY, -DAY, -DAY),
    "old": (-40 * DAY, -50 * DAY, -60 * DAY, -70 * DAY, -80 * DAY),
    "edge": (-30 * DAY, -30 * DAY - timedelta(microseconds=1)),
    "none": (),
}
_EVENT_CASES = [
    ('count(events where type = "gig_attended" within 30 days) >= 1', {"ahead", "tied", "edge"}),
    ('count(events where type = "gig_attended" within 30 days) >= 2', {"ahead", "tied"}),
    ('count(events where type = "gig_attended" within 30 days) >= 3', {"tied"}),
    ('count(events where type = "gig_attended" within 30 days) < 2', {"old", "edge", "none"}),
    ('count(events where type = "gig_attended" within 90 days) > 2', {"tied", "old"}),
    ('count(events where type = "gig_attended") >= 3', {"ahead", "tied", "old"}),
    ('count(events where type = "gig_attended") >= 5', {"old"}),
    ('count(events where type = "gig_attended") <= 2', {"edge", "none"}),
    ('not count(events where type = "gig_attended" within 30 days) >= 2', {"old", "edge", "none"}),
]


@pytest.mark.parametrize(("text", "expected"), _EVENT_CASES, ids=[text for text, _ in _EVENT_CASES])
def test_every_form_counts_events_alike(database: Database, text: str, expected: set[str]) -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    specs = [
        FanSpec(
            email=f"{name}@example.com",
            events=tuple(EventSpec(type="gig_attended", occurred_at=now + offset) for offset in offsets),
        )
        for name, offsets in _EVENT_FANS.items()
    ]
    dataset = write_dataset(database, specs, now=now)
    names = dict(zip(dataset.fan_ids, _EVENT_FANS, strict=True))
    rule = validate_rule(parse_rule_text(text), catalogue=CATALOGUE, references=_NO_NAMES)
    with database.transaction(workspace_id=None, write=False) as connection:
        selected = sql_members(connection, dataset, rule, now=now)  # the set form against the per-fan and batch forms
        snapshots = load_snapshots(connection, dataset.workspace_id, catalogue=CATALOGUE)
    assert {names[fan_id] for fan_id in selected} == expected
    assert python_members(snapshots, rule, now=now) == selected
