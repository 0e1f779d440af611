"""Segment sizes are sums of recorded changes (migration 0009's triggers on segment_members): after any sequence of
writes — events and orders, static members added and removed, fans erased, segments edited and deleted, refreshes,
folds — every segment's size equals the count of its members."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from decimal import Decimal

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy import select

from fanbase.db.engine import Database
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.tables import segment_members
from fanbase.db.tables import segment_size_changes
from fanbase.errors import FanbaseError
from fanbase.schemas.fans import FanIn
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.segments import SegmentPatch
from fanbase.services import fans
from fanbase.services import orders_events
from fanbase.services import segments
from fanbase.services import workspaces

STEPS = st.sampled_from(
    ("event", "order", "add static", "remove static", "erase fan", "edit rule", "delete segment", "refresh", "fold")
)
RULES = ("total_spent > 20", 'count(events where type = "gig_attended") >= 1', "purchase_count >= 2")


def _sizes_hold(database: Database, workspace_id: int) -> None:
    with database.transaction(workspace_id=None, write=False) as connection:
        counted = dict(
            connection.execute(
                select(segment_members.c.segment_id, func.count())
                .where(segment_members.c.workspace_id == workspace_id)
                .group_by(segment_members.c.segment_id)
            ).all()
        )
        recorded = connection.execute(
            select(segment_size_changes.c.segment_id).where(segment_size_changes.c.workspace_id == workspace_id)
        ).scalars()
        known = set(recorded)
    listed = {segment.id: segment.size for segment in segments.list_segments(database, workspace_id)}
    assert listed == {segment_id: counted.get(segment_id, 0) for segment_id in listed}
    assert known <= set(listed), "no size rows are left for deleted segments"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(STEPS, st.integers(0, 9)), min_size=1, max_size=14))
def test_every_size_is_the_count_of_members(database: Database, now: datetime, steps: list[tuple[str, int]]) -> None:
    workspace_id = workspaces.create_workspace(database, name="sizes", now=now).workspace.id
    fan_ids = [fans.create_fan(database, workspace_id, FanIn(email=f"f{i}@example.com"), now=now).id for i in range(6)]
    dynamic = [
        segments.create_segment(database, workspace_id, SegmentIn(name=f"Dynamic {i}", rule_text=rule), now=now).id
        for i, rule in enumerate(RULES)
    ]
    static = segments.create_segment(database, workspace_id, SegmentIn(name="Picked", kind="static"), now=now).id
    for step, pick in steps:
        fan_id = fan_ids[pick % len(fan_ids)]
        with suppress(FanbaseError):  # a fan or segment already gone
            match step:
                case "event":
                    orders_events.record_event(
                        database, workspace_id, EventIn(fan_id=fan_id, type="gig_attended"), now=now
                    )
                case "order":
                    order = OrderIn(fan_id=fan_id, amount=Decimal(pick * 7), category="merch")
                    orders_events.record_order(database, workspace_id, order, now=now)
                case "add static":
                    segments.add_fans(database, workspace_id, static, fan_ids[: pick % 4 + 1], now=now)
                case "remove static":
                    segments.remove_fans(database, workspace_id, static, fan_ids[pick % 3 :], now=now)
                case "erase fan":
                    fans.delete_fan(database, workspace_id, fan_id, now=now)
                case "edit rule":
                    patch = SegmentPatch(rule_text=RULES[pick % len(RULES)])
                    segments.update_segment(database, workspace_id, dynamic[pick % len(dynamic)], patch, now=now)
                case "delete segment":
                    segments.delete_segment(database, workspace_id, dynamic[pick % len(dynamic)])
                case "refresh":
                    segments.refresh_all(database, workspace_id, now=now, is_full=pick % 2 == 0)
                case "fold":
                    segments.compact_sizes(database)
                    with database.transaction(workspace_id=None) as connection:  # again, with nothing gathered since
                        segments_repo.compact_sizes(connection, workspace_id)
        _sizes_hold(database, workspace_id)
