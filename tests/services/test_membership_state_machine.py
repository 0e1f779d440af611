"""Random writes, rule edits and clock advances; after every step every segment equals the oracle.

The oracle is the Python evaluator over each fan's full snapshot. Time-dependent segments are exact as of the last
scheduler tick, so every clock advance is followed by one tick (as the running scheduler would do), and writes
happen at the current clock.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import initialize
from hypothesis.stateful import invariant
from hypothesis.stateful import precondition
from hypothesis.stateful import rule

from fanbase.db.engine import Database
from fanbase.errors import Conflict
from fanbase.schemas.fans import FanIn
from fanbase.schemas.fans import FanPatch
from fanbase.schemas.lists import ListIn
from fanbase.schemas.lists import SubscriptionIn
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.segments import SegmentPatch
from fanbase.schemas.tags import TagIn
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import membership
from fanbase.services import orders_events
from fanbase.services import segments
from fanbase.services import tags
from fanbase.services import workspaces
from tests_support import members_of
from tests_support import oracle_members

START = datetime.fromisoformat("2026-03-01T09:00:00+00:00")
SEGMENTS = {
    "Big spenders": "total_spent > 60",
    "Active week": "last_active_at within_last 7 days",
    "Gig goers": 'count(events where type = "gig_attended" within 30 days) >= 2',
    "VIP clubbers": 'tag "VIP" and list "Club"',
    "Lapsed VIP": 'tag "VIP" and not segment "Active week"',
    "French merch": 'country = "FR" and sum(amount of orders where category = "merch") > 20',
    "Recent buyers": "last_purchase_at within_last 3 days or first(refunds) within_last 2 days",
}
EDITS = [
    "total_spent > 30",
    "total_spent >= 100 or purchase_count >= 2",
    'not tag "VIP"',
    'count(events within 2 days) >= 1 and not segment "Big spenders"',
]


class LiveMembership(RuleBasedStateMachine):
    database: Database

    @initialize()
    def start(self) -> None:
        self.now = START
        created = workspaces.create_workspace(self.database, name=f"sm {uuid.uuid4().hex[:6]}", now=self.now)
        self.workspace_id = created.workspace.id
        self.vip = tags.create_tag(self.database, self.workspace_id, TagIn(name="VIP"), now=self.now)
        self.club = lists.create_list(self.database, self.workspace_id, ListIn(name="Club"), now=self.now)
        self.segment_ids = [
            segments.create_segment(
                self.database, self.workspace_id, SegmentIn(name=name, rule_text=text), now=self.now
            ).id
            for name, text in SEGMENTS.items()
        ]
        self.fan_ids: list[int] = []
        self.order_ids: list[int] = []
        membership.apply_time(self.database, self.workspace_id, now=self.now)

    @rule(country=st.sampled_from([None, "FR", "DE"]))
    def add_fan(self, country: str | None) -> None:
        fan = fans.create_fan(
            self.database,
            self.workspace_id,
            FanIn(email=f"f{len(self.fan_ids)}@x.co", country=country),
            now=self.now,
        )
        self.fan_ids.append(fan.id)

    @precondition(lambda self: self.fan_ids)
    @rule(
        data=st.data(),
        cents=st.integers(1, 9000),
        category=st.sampled_from(["merch", "music"]),
        hours_ago=st.integers(0, 300),
    )
    def order(self, data: st.DataObject, cents: int, category: str, hours_ago: int) -> None:
        fan_id = data.draw(st.sampled_from(self.fan_ids))
        reply = orders_events.record_order(
            self.database,
            self.workspace_id,
            OrderIn(
                fan_id=fan_id,
                amount=Decimal(cents) / 100,
                category=category,
                placed_at=self.now - timedelta(hours=hours_ago),
            ),
            now=self.now,
        )
        self.order_ids.append(reply.body["id"])

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(self.order_ids))
        with contextlib.suppress(Conflict):  # already refunded: refused, nothing changed
            orders_events.refund_order(self.database, self.workspace_id, order_id, now=self.now)

    @precondition(lambda self: self.fan_ids)
    @rule(
        data=st.data(),
        kind=st.sampled_from(["gig_attended", "page_viewed"]),
        count=st.integers(1, 3),
        hours_ago=st.integers(0, 24 * 40),
    )
    def events(self, data: st.DataObject, kind: str, count: int, hours_ago: int) -> None:
        fan_id = data.draw(st.sampled_from(self.fan_ids))
        batch = [
            EventIn(fan_id=fan_id, type=kind, occurred_at=self.now - timedelta(hours=hours_ago + index))
            for index in range(count)
        ]
        orders_events.record_events(self.database, self.workspace_id, batch, now=self.now)

    @precondition(lambda self: self.fan_ids)
    @rule(data=st.data(), is_adding=st.booleans())
    def tag(self, data: st.DataObject, is_adding: bool) -> None:
        fan_ids = data.draw(st.lists(st.sampled_from(self.fan_ids), min_size=1, max_size=3, unique=True))
        if is_adding:
            tags.tag_fans(self.database, self.workspace_id, self.vip.id, fan_ids, now=self.now)
        else:
            tags.untag_fans(self.database, self.workspace_id, self.vip.id, fan_ids, now=self.now)

    @precondition(lambda self: self.fan_ids)
    @rule(data=st.data(), status=st.sampled_from(["subscribed", "unsubscribed", "bounced"]))
    def subscription(self, data: st.DataObject, status: str) -> None:
        fan_id = data.draw(st.sampled_from(self.fan_ids))
        lists.set_subscription(
            self.database,
            self.workspace_id,
            self.club.id,
            SubscriptionIn(fan_ids=(fan_id,), status=status),  # type: ignore[arg-type]
            now=self.now,
        )

    @precondition(lambda self: self.fan_ids)
    @rule(data=st.data(), country=st.sampled_from([None, "FR", "DE"]))
    def move(self, data: st.DataObject, country: str | None) -> None:
        fan_id = data.draw(st.sampled_from(self.fan_ids))
        fans.update_fan(self.database, self.workspace_id, fan_id, FanPatch(country=country), now=self.now)

    @rule(index=st.integers(0, len(EDITS) - 1))
    def edit_rule(self, index: int) -> None:
        # "Big spenders" is read by another segment's rule in one of the edits, so edit the first that isn't.
        segments.update_segment(
            self.database, self.workspace_id, self.segment_ids[5], SegmentPatch(rule_text=EDITS[index]), now=self.now
        )

    @rule(hours=st.sampled_from([1, 12, 24, 24 * 3, 24 * 8]))
    def advance_clock(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        membership.apply_time(self.database, self.workspace_id, now=self.now)

    @invariant()
    def every_segment_equals_the_oracle(self) -> None:
        if not hasattr(self, "workspace_id"):
            return
        for segment_id in self.segment_ids:
            expected = oracle_members(self.database, self.workspace_id, segment_id, now=self.now)
            assert members_of(self.database, self.workspace_id, segment_id) == expected, segment_id
        assert all(item.is_exact for item in segments.verify(self.database, self.workspace_id, now=self.now))


@pytest.mark.parametrize("steps", [12])
def test_segments_stay_equal_to_the_oracle(database: Database, steps: int) -> None:
    LiveMembership.database = database
    LiveMembership.TestCase.settings = settings(
        max_examples=10,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    LiveMembership.TestCase().runTest()
