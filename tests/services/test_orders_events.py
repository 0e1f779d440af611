from __future__ import annotations

import contextlib
import random
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest

from fanbase.db.engine import Database
from fanbase.db.repositories import fans as fans_repo
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.fans import FanIn
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.services import fans
from fanbase.services import orders_events


def snapshot_figures(database: Database, workspace_id: int) -> dict[int, tuple[object, ...]]:
    with database.transaction(workspace_id=None, write=False) as connection:
        return fans_repo.derived_figures(connection, workspace_id)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_figures_equal_a_recompute_after_random_writes(
    database: Database, workspace_id: int, now: datetime, seed: int
) -> None:
    rng = random.Random(seed)
    emails = [f"fan{index}@example.com" for index in range(8)]
    order_ids: list[int] = []
    for step in range(60):
        when = now - timedelta(days=rng.randint(0, 400), minutes=rng.randint(0, 1000))
        roll = rng.random()
        if roll < 0.35:
            reply = orders_events.record_order(
                database,
                workspace_id,
                OrderIn(
                    email=rng.choice(emails),
                    amount=Decimal(rng.randint(0, 20_000)) / 100,
                    category=rng.choice(["merch", "music", "ticket"]),
                    status="refunded" if rng.random() < 0.1 else "completed",
                    placed_at=when,
                ),
                now=now,
            )
            order_ids.append(reply.body["id"])
        elif roll < 0.5 and order_ids:
            order_id = rng.choice(order_ids)
            with contextlib.suppress(Conflict):  # already refunded: refused, and nothing changed
                orders_events.refund_order(database, workspace_id, order_id, now=now)
        elif roll < 0.65:
            batch = [
                OrderIn(
                    email=rng.choice(emails),
                    amount=Decimal(rng.randint(1, 5000)) / 100,
                    category="merch",
                    placed_at=when,
                )
                for _ in range(rng.randint(1, 5))
            ]
            orders_events.record_orders(database, workspace_id, batch, idempotency_key=f"orders-{seed}-{step}", now=now)
        else:
            batch_events = [
                EventIn(email=rng.choice(emails), type=rng.choice(["gig_attended", "email_opened"]), occurred_at=when)
                for _ in range(rng.randint(1, 4))
            ]
            orders_events.record_events(database, workspace_id, batch_events, now=now)
    incremental = snapshot_figures(database, workspace_id)
    assert fans.recompute_figures(database, workspace_id) == len(incremental)
    assert snapshot_figures(database, workspace_id) == incremental


def test_order_updates_figures_and_refund_reverses_them(database: Database, workspace_id: int, now: datetime) -> None:
    first = orders_events.record_order(
        database,
        workspace_id,
        OrderIn(email="a@x.co", amount=Decimal("60.10"), category="merch", placed_at=now - timedelta(days=3)),
        now=now,
    )
    second = orders_events.record_order(
        database,
        workspace_id,
        OrderIn(email="a@x.co", amount=Decimal("40.00"), category="Music", placed_at=now - timedelta(days=1)),
        now=now,
    )
    assert second.body["category"] == "music"
    fan = fans.get_fan(database, workspace_id, first.body["fan_id"])
    assert (fan.total_spent, fan.purchase_count, fan.source) == (Decimal("100.10"), 2, "direct_purchase")
    assert fan.last_purchase_at == now - timedelta(days=1)
    refunded = orders_events.refund_order(database, workspace_id, second.body["id"], now=now)
    assert refunded.status == "refunded" and refunded.refunded_at == now
    fan = fans.get_fan(database, workspace_id, fan.id)
    assert (fan.total_spent, fan.purchase_count) == (Decimal("60.10"), 1)
    assert fan.last_purchase_at == now - timedelta(days=3)
    assert fan.last_active_at == now - timedelta(days=1)  # placing the refunded order was still activity
    with pytest.raises(Conflict):
        orders_events.refund_order(database, workspace_id, second.body["id"], now=now)


def test_idempotent_batch_is_counted_once(database: Database, workspace_id: int, now: datetime) -> None:
    batch = [
        EventIn(email="b@x.co", type="gig_attended", occurred_at=now - timedelta(hours=index)) for index in range(3)
    ]
    first = orders_events.record_events(database, workspace_id, batch, idempotency_key="k1", now=now)
    again = orders_events.record_events(database, workspace_id, batch, idempotency_key="k1", now=now + timedelta(1))
    assert (first.replayed, again.replayed) == (False, True)
    assert again.body == first.body and again.status_code == 201
    fan_id = fans.list_fans(database, workspace_id, fans.FanFilter(q="b@x.co")).items[0].id
    assert len(fans.fan_events(database, workspace_id, fan_id, page=1, page_size=50)) == 3
    with pytest.raises(Conflict, match="Idempotency-Key"):
        orders_events.record_events(database, workspace_id, batch[:2], idempotency_key="k1", now=now)


def test_bad_references_are_refused_whole(database: Database, workspace_id: int, now: datetime) -> None:
    fan = fans.create_fan(database, workspace_id, FanIn(email="c@x.co"), now=now)
    with pytest.raises(NotFound, match=r"items\[1\].fan_id"):
        orders_events.record_events(
            database,
            workspace_id,
            [EventIn(fan_id=fan.id, type="page_viewed"), EventIn(fan_id=999_999, type="x")],
            now=now,
        )
    assert fans.fan_events(database, workspace_id, fan.id, page=1, page_size=10) == []
    with pytest.raises(InvalidInput, match=r"items\[0\].currency"):
        orders_events.record_order(
            database, workspace_id, OrderIn(fan_id=fan.id, amount=Decimal(1), currency="EUR", category="merch"), now=now
        )
    orders_events.record_order(
        database, workspace_id, OrderIn(fan_id=fan.id, amount=Decimal(1), category="merch", external_id="s-1"), now=now
    )
    with pytest.raises(Conflict, match="s-1"):
        orders_events.record_order(
            database,
            workspace_id,
            OrderIn(fan_id=fan.id, amount=Decimal(2), category="merch", external_id="s-1"),
            now=now,
        )
