from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from decimal import Decimal

from fanbase.db.engine import Database
from fanbase.db.repositories import scheduler as scheduler_repo
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
from fanbase.services import history
from fanbase.services import lists
from fanbase.services import membership
from fanbase.services import orders_events
from fanbase.services import segments
from fanbase.services import tags
from tests_support import members_of
from tests_support import oracle_members


def test_an_order_moves_its_fan_into_a_segment_in_the_same_call(
    database: Database, workspace_id: int, now: datetime
) -> None:
    big = segments.create_segment(database, workspace_id, SegmentIn(name="Big", rule_text="total_spent > 100"), now=now)
    fan = fans.create_fan(database, workspace_id, FanIn(email="a@x.co"), now=now)
    assert members_of(database, workspace_id, big.id) == set()
    later = now + timedelta(minutes=5)
    orders_events.record_order(
        database, workspace_id, OrderIn(fan_id=fan.id, amount=Decimal("120"), category="merch"), now=later
    )
    assert members_of(database, workspace_id, big.id) == {fan.id}
    (why,) = history.fan_segments(database, workspace_id, fan.id)
    assert (why.segment_name, why.since, why.cause, why.rule_version) == ("Big", later, "write", 1)
    refund_at = later + timedelta(hours=1)
    order_id = fans.fan_orders(database, workspace_id, fan.id, page=1, page_size=1)[0].id
    orders_events.refund_order(database, workspace_id, order_id, now=refund_at)
    assert members_of(database, workspace_id, big.id) == set()
    log = history.segment_history(database, workspace_id, big.id, page=1, page_size=10).items
    assert [(event.entered, event.at, event.cause) for event in log] == [
        (False, refund_at, "write"),
        (True, later, "write"),
    ]


def test_every_kind_of_write_keeps_segments_true(database: Database, workspace_id: int, now: datetime) -> None:
    tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
    club = lists.create_list(database, workspace_id, ListIn(name="Club"), now=now)
    rules = {
        "vip": 'tag "VIP"',
        "club": 'list "Club"',
        "gigs": 'count(events where type = "gig_attended") >= 2',
        "fr": 'country = "FR"',
        "vip-club": 'segment "vip" and segment "club"',
    }
    created = {
        name: segments.create_segment(database, workspace_id, SegmentIn(name=name, rule_text=text), now=now)
        for name, text in rules.items()
    }
    fan = fans.create_fan(database, workspace_id, FanIn(email="b@x.co", tags=("VIP",)), now=now)
    tag_id = tags.list_tags(database, workspace_id)[0].id
    lists.set_subscription(database, workspace_id, club.id, SubscriptionIn(fan_ids=(fan.id,)), now=now)
    orders_events.record_events(
        database, workspace_id, [EventIn(fan_id=fan.id, type="gig_attended") for _ in range(2)], now=now
    )
    fans.update_fan(database, workspace_id, fan.id, FanPatch(country="FR"), now=now)
    for segment in created.values():
        assert members_of(database, workspace_id, segment.id) == {fan.id}, segment.name
    tags.untag_fans(database, workspace_id, tag_id, [fan.id], now=now)
    lists.set_subscription(
        database, workspace_id, club.id, SubscriptionIn(fan_ids=(fan.id,), status="unsubscribed"), now=now
    )
    for segment in created.values():
        assert members_of(database, workspace_id, segment.id) == oracle_members(
            database, workspace_id, segment.id, now=now
        ), segment.name
    assert members_of(database, workspace_id, created["vip-club"].id) == set()


def test_time_alone_moves_a_fan_into_inactive_within_one_tick(
    database: Database, workspace_id: int, now: datetime
) -> None:
    fan = fans.create_fan(database, workspace_id, FanIn(email="c@x.co", created_at=now - timedelta(days=90)), now=now)
    orders_events.record_event(
        database,
        workspace_id,
        EventIn(fan_id=fan.id, type="email_opened", occurred_at=now - timedelta(days=29)),
        now=now,
    )
    inactive = segments.create_from_template(database, workspace_id, "inactive", now=now)
    assert members_of(database, workspace_id, inactive.id) == set()
    first = membership.apply_time(database, workspace_id, now=now)
    assert first.segments == 1
    boundary = now + timedelta(days=1)
    assert segments.get_segment(database, workspace_id, inactive.id).next_flip_at == boundary
    report = membership.apply_time(database, workspace_id, now=boundary + timedelta(seconds=15))
    assert (report.entered, report.exited) == (1, 0)
    assert members_of(database, workspace_id, inactive.id) == {fan.id}
    (why,) = history.fan_segments(database, workspace_id, fan.id)
    assert (why.segment_name, why.cause) == ("Inactive", "time")
    # Activity brings the fan back at once (a write), and the ledger says so.
    orders_events.record_event(
        database, workspace_id, EventIn(fan_id=fan.id, type="page_viewed"), now=boundary + timedelta(1)
    )
    assert members_of(database, workspace_id, inactive.id) == set()


def test_time_flips_reach_segments_built_on_them(database: Database, workspace_id: int, now: datetime) -> None:
    fan = fans.create_fan(database, workspace_id, FanIn(email="d@x.co", tags=("VIP",)), now=now)
    orders_events.record_event(
        database, workspace_id, EventIn(fan_id=fan.id, type="page_viewed", occurred_at=now - timedelta(days=6)), now=now
    )
    segments.create_segment(
        database, workspace_id, SegmentIn(name="Active", rule_text="last_active_at within_last 7 days"), now=now
    )
    lapsed = segments.create_segment(
        database, workspace_id, SegmentIn(name="Lapsed VIP", rule_text='tag "VIP" and not segment "Active"'), now=now
    )
    assert members_of(database, workspace_id, lapsed.id) == set()
    membership.apply_time(database, workspace_id, now=now)
    membership.apply_time(database, workspace_id, now=now + timedelta(days=2))
    assert members_of(database, workspace_id, lapsed.id) == {fan.id}


def test_a_tick_carries_to_dependents_only_what_time_moved(
    database: Database, workspace_id: int, now: datetime
) -> None:
    fan = fans.create_fan(database, workspace_id, FanIn(email="e@x.co", tags=("VIP",)), now=now)
    active = segments.create_segment(
        database, workspace_id, SegmentIn(name="Active", rule_text="last_active_at within_last 7 days"), now=now
    )
    segments.create_segment(
        database, workspace_id, SegmentIn(name="Active VIP", rule_text='tag "VIP" and segment "Active"'), now=now
    )
    # A write at the tick's own instant moves the fan (and, in the same call, its dependents).
    orders_events.record_event(database, workspace_id, EventIn(fan_id=fan.id, type="page_viewed"), now=now)
    with database.transaction(workspace_id=None) as connection:
        assert scheduler_repo.fans_moved_at(connection, workspace_id, [active.id], at=now) == []
    membership.apply_time(database, workspace_id, now=now)
    with database.transaction(workspace_id=None) as connection:
        assert scheduler_repo.fans_moved_at(connection, workspace_id, [active.id], at=now) == []
    exit_at = now + timedelta(days=8)
    membership.apply_time(database, workspace_id, now=exit_at)
    with database.transaction(workspace_id=None) as connection:
        assert scheduler_repo.fans_moved_at(connection, workspace_id, [active.id], at=exit_at) == [fan.id]
    assert {why.segment_name for why in history.fan_segments(database, workspace_id, fan.id)} == set()


def test_history_sizes_and_members_as_of(database: Database, workspace_id: int, now: datetime) -> None:
    segment = segments.create_segment(
        database, workspace_id, SegmentIn(name="Buyers", rule_text="purchase_count > 0"), now=now
    )
    day = timedelta(days=1)
    ids = []
    for index in range(3):
        ids.append(fans.create_fan(database, workspace_id, FanIn(email=f"e{index}@x.co"), now=now).id)
        orders_events.record_order(
            database, workspace_id, OrderIn(fan_id=ids[-1], amount=Decimal(5), category="music"), now=now + index * day
        )
    segments.update_segment(
        database,
        workspace_id,
        segment.id,
        SegmentPatch(rule_text='purchase_count > 0 and email != "e0@x.co"'),
        now=now + 3 * day,
    )
    sizes = history.segment_sizes(database, workspace_id, segment.id, start=now - day, end=now + 4 * day, bucket="day")
    # Day buckets from midnight before `start` up to `end` (noon to noon four days later: six days).
    assert [(point.size, point.entered, point.exited) for point in sizes] == [
        (0, 0, 0),
        (1, 1, 0),
        (2, 1, 0),
        (3, 1, 0),
        (2, 0, 1),
        (2, 0, 0),
    ]
    earlier = history.members_as_of(database, workspace_id, segment.id, at=now + day, page=1, page_size=10)
    assert {fan.id for fan in earlier.items} == set(ids[:2])
    log = history.segment_history(database, workspace_id, segment.id, page=1, page_size=1).items
    assert (log[0].cause, log[0].rule_version, log[0].fan_email) == ("rule_edit", 2, "e0@x.co")
    hourly = history.segment_sizes(
        database, workspace_id, segment.id, start=now, end=now + timedelta(hours=2), bucket="hour"
    )
    assert [point.size for point in hourly] == [1, 1]


def test_tag_and_list_sizes_over_time(database: Database, workspace_id: int, now: datetime) -> None:
    tag = tags.create_tag(database, workspace_id, TagIn(name="Crew"), now=now)
    club = lists.create_list(database, workspace_id, ListIn(name="Club"), now=now)
    a = fans.create_fan(database, workspace_id, FanIn(email="f@x.co"), now=now).id
    b = fans.create_fan(database, workspace_id, FanIn(email="g@x.co"), now=now).id
    day = timedelta(days=1)
    tags.tag_fans(database, workspace_id, tag.id, [a, b], now=now)
    tags.untag_fans(database, workspace_id, tag.id, [a], now=now + day)
    lists.set_subscription(database, workspace_id, club.id, SubscriptionIn(fan_ids=(a, b)), now=now)
    lists.set_subscription(
        database, workspace_id, club.id, SubscriptionIn(fan_ids=(a,), status="unsubscribed"), now=now + day
    )
    lists.set_subscription(
        database, workspace_id, club.id, SubscriptionIn(fan_ids=(a,), status="bounced"), now=now + 2 * day
    )
    lists.remove_from_list(database, workspace_id, club.id, [b], now=now + 2 * day)
    tag_sizes = history.tag_sizes(database, workspace_id, tag.id, start=now, end=now + 2 * day, bucket="day")
    assert [(p.size, p.entered, p.exited) for p in tag_sizes] == [(2, 2, 0), (1, 0, 1), (1, 0, 0)]
    list_sizes = history.list_sizes(database, workspace_id, club.id, start=now, end=now + 3 * day, bucket="day")
    assert [(p.size, p.entered, p.exited) for p in list_sizes] == [(2, 2, 0), (1, 0, 1), (0, 0, 1), (0, 0, 0)]
