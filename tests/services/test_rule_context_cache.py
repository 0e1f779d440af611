"""The write path's rule contexts, cached per process by each workspace's rules token (migration 0008).

A cached context must always equal a fresh load: after any sequence of changes to segments, tags, lists and custom
fields, whoever makes them, the context the write path uses is the one the database holds. And a write that changes
none of them reuses the context instead of loading it again.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from fanbase.db.engine import Database
from fanbase.db.engine import IntegrityError
from fanbase.db.tables import segments as segments_table
from fanbase.db.tables import tags as tags_table
from fanbase.db.tables import workspaces as workspaces_table
from fanbase.errors import FanbaseError
from fanbase.schemas.custom_fields import CustomFieldIn
from fanbase.schemas.fans import FanIn
from fanbase.schemas.lists import ListIn
from fanbase.schemas.lists import ListPatch
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.segments import SegmentPatch
from fanbase.schemas.tags import TagIn
from fanbase.schemas.tags import TagPatch
from fanbase.services import custom_fields
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import orders_events
from fanbase.services import rule_context
from fanbase.services import segments
from fanbase.services import tags
from fanbase.services import workspaces

NAMES = ("Alpha", "Beta", "Gamma")
RULES = (
    "total_spent > 10",
    'tag "Alpha" or tag "Beta"',
    'list "Alpha" and count(events where type = "gig_attended") >= 1',
    'segment "Alpha" or segment "Beta"',
    "custom.level > 2",
)
OPERATIONS = st.sampled_from(
    (
        "create tag",
        "rename tag",
        "delete tag",
        "create list",
        "rename list",
        "delete list",
        "create segment",
        "edit segment",
        "rename segment",
        "delete segment",
        "create field",
        "direct tag insert",
        "direct segment rule",
        "bookkeeping",
    )
)


def _essence(context: rule_context.RuleContext) -> tuple[Any, ...]:
    """What a context holds that rules are compiled and evaluated with."""
    return (
        context.catalogue,
        context.tag_ids,
        context.list_ids,
        context.segment_ids,
        context.segment_rules,
        {segment_id: (row.name, row.kind, row.rule_version) for segment_id, row in context.segment_rows.items()},
        context.segment_refs,
    )


def _apply(database: Database, workspace_id: int, operation: str, pick: int, now: datetime) -> None:
    name = NAMES[pick % len(NAMES)]
    other = NAMES[(pick + 1) % len(NAMES)]
    tag_ids = {tag.name: tag.id for tag in tags.TAGS.list_all(database, workspace_id)}
    list_ids = {group.name: group.id for group in lists.LISTS.list_all(database, workspace_id)}
    segment_ids = {segment.name: segment.id for segment in segments.list_segments(database, workspace_id)}
    match operation:
        case "create tag":
            tags.TAGS.create(database, workspace_id, TagIn(name=name), now=now)
        case "rename tag" if name in tag_ids:
            tags.TAGS.update(database, workspace_id, tag_ids[name], TagPatch(name=f"{name} {pick}"))
        case "delete tag" if name in tag_ids:
            tags.TAGS.delete(database, workspace_id, tag_ids[name])
        case "create list":
            lists.LISTS.create(database, workspace_id, ListIn(name=name), now=now)
        case "rename list" if name in list_ids:
            lists.LISTS.update(database, workspace_id, list_ids[name], ListPatch(name=f"{name} {pick}"))
        case "delete list" if name in list_ids:
            lists.LISTS.delete(database, workspace_id, list_ids[name])
        case "create segment":
            rule = RULES[pick % len(RULES)]
            segments.create_segment(database, workspace_id, SegmentIn(name=name, rule_text=rule), now=now)
        case "edit segment" if name in segment_ids:
            patch = SegmentPatch(rule_text=RULES[pick % len(RULES)])
            segments.update_segment(database, workspace_id, segment_ids[name], patch, now=now)
        case "rename segment" if name in segment_ids:
            segments.update_segment(database, workspace_id, segment_ids[name], SegmentPatch(name=other), now=now)
        case "delete segment" if name in segment_ids:
            segments.delete_segment(database, workspace_id, segment_ids[name])
        case "create field":
            custom_fields.create_custom_field(
                database, workspace_id, CustomFieldIn(name="level", type="number"), now=now
            )
        case "direct tag insert":  # a writer that is not fanbase's services: the database still renews the token
            with database.transaction(workspace_id=None) as connection:
                connection.execute(
                    insert(tags_table).values(
                        workspace_id=workspace_id, name=f"Direct {pick}", name_key=f"direct {pick}", created_at=now
                    )
                )
        case "direct segment rule" if name in segment_ids:
            with database.transaction(workspace_id=None) as connection:
                connection.execute(
                    update(segments_table)
                    .where(segments_table.c.id == segment_ids[name])
                    .values(rule={"field": "purchase_count", "op": ">=", "value": pick}, rule_version=pick + 100)
                )
        case "bookkeeping":  # what refreshes write of a segment: no rule changes, so the token stays
            with database.transaction(workspace_id=None) as connection:
                connection.execute(
                    update(segments_table)
                    .where(segments_table.c.workspace_id == workspace_id)
                    .values(last_evaluated_at=now, needs_evaluation=False)
                )


def _token(database: Database, workspace_id: int) -> int:
    with database.transaction(workspace_id=None, write=False) as connection:
        return int(
            connection.execute(
                select(workspaces_table.c.rules_token).where(workspaces_table.c.id == workspace_id)
            ).scalar_one()
        )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(OPERATIONS, st.integers(0, 5)), min_size=1, max_size=12))
def test_the_cached_context_is_always_a_fresh_load(
    database: Database, now: datetime, steps: list[tuple[str, int]]
) -> None:
    workspace_id = workspaces.create_workspace(database, name="cached", now=now).workspace.id
    for operation, pick in steps:
        before = _token(database, workspace_id)
        # Refused (a name taken, a tag a rule uses): nothing changed, which must hold too.
        with suppress(FanbaseError, IntegrityError):
            _apply(database, workspace_id, operation, pick, now)
        with database.transaction(workspace_id=None, write=False) as connection:
            cached = rule_context.current_context(connection, workspace_id)
            fresh = rule_context.load_context(connection, workspace_id)
        assert _essence(cached) == _essence(fresh), (operation, pick)
        if operation == "bookkeeping":
            assert _token(database, workspace_id) == before


def test_a_new_workspace_gets_its_own_token(database: Database, now: datetime) -> None:
    tokens = {workspaces.create_workspace(database, name=f"w{index}", now=now).workspace.id for index in range(3)}
    assert len({_token(database, workspace_id) for workspace_id in tokens}) == 3


def test_a_write_reuses_the_context_and_a_workspace_with_segments_can_be_deleted(
    database: Database, now: datetime
) -> None:
    workspace_id = workspaces.create_workspace(database, name="reuse", now=now).workspace.id
    segments.create_segment(database, workspace_id, SegmentIn(name="Fans", rule_text="total_spent >= 0"), now=now)
    tags.TAGS.create(database, workspace_id, TagIn(name="VIP"), now=now)
    fan = fans.create_fan(database, workspace_id, FanIn(email="cached@example.com"), now=now)
    reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM segments" in statement or "FROM custom_fields" in statement:
            reads.append(statement)

    orders_events.record_event(database, workspace_id, EventIn(fan_id=fan.id, type="gig_attended"), now=now)
    event.listen(database.engine, "before_cursor_execute", count)
    try:
        orders_events.record_event(database, workspace_id, EventIn(fan_id=fan.id, type="gig_attended"), now=now)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert reads == []
    # The triggers run while a workspace's rows go with it (cascades), on both databases.
    with database.transaction(workspace_id=None) as connection:
        connection.execute(delete(workspaces_table).where(workspaces_table.c.id == workspace_id))
    with database.transaction(workspace_id=None, write=False) as connection:
        assert (
            connection.execute(select(segments_table.c.id).where(segments_table.c.workspace_id == workspace_id)).all()
            == []
        )
