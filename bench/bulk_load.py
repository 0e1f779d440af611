"""Bulk load then preview (issue 13): a new workspace, in the same database as the bench's, with 12 bench segments
live, is loaded with orders over HTTP (``POST /api/v1/orders/batch``, one client, batches of 1,000) that name their
fans by email, so the load creates its fans as it goes. Straight after, with no ANALYZE by the bench (the
statistics are whatever the load left: the product's own ``refresh_statistics_after_write`` or none), every
template rule and five behaviour shapes are previewed once each through ``services.previews.preview``: the first
run, on cold plans, is the figure.

Correctness is checked, never time: after the phase, the caller checks the 12 segments' stored membership against
their hand-written SQL in the new workspace (``bench.measure.check``).
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from starlette.testclient import TestClient

from bench.baselines import BENCH_RATE_LIMITS
from bench.segments import referenced
from bench.stats import summarise
from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.db.tables import fans
from fanbase.db.tables import orders
from fanbase.schemas.lists import ListIn
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import SegmentIn
from fanbase.services import lists as lists_service
from fanbase.services import previews
from fanbase.services import segments as segments_service
from fanbase.services import workspaces
from fanbase.services.segment_templates import TEMPLATES
from fanbase.settings import Settings

# Live during the load: rules on the figures orders move (total_spent, purchase_count, last_purchase_at,
# last_active_at) and on the email the load creates fans with, order behaviour, and event behaviour (events the
# load does not write: every new fan must still be evaluated against them). "High-Spenders" and "Engaged Fans" are
# also what the template "high-value-active" is built on, so that it can be previewed.
BULK_SEGMENTS = (
    "High-Spenders",
    "Repeat buyers",
    "Gmail users",
    "Active 30d",
    "Lapsed buyers",
    "Merch spenders",
    "Ticket buyers 180d",
    "Big order",
    "Recent buyers",
    "Gig goers",
    "Engaged Fans",
    "Silent 90d",
)
BEHAVIOUR_SHAPES = (
    "sum(amount of orders within 1509 weeks) > 50",
    'count(orders where category = "merch") >= 2',
    'count(events where type = "gig_attended" within 365 days) >= 2',
    "max(amount of orders) >= 100",
    "last(orders) more_than 90 days ago",
)
# The template "Inactive Members" names this list: a rule naming an unknown list is refused.
TEMPLATE_LIST = "Fan Club Members"
# 20 batches at 100,000 fans, in proportion below (at least one).
BATCHES_PER_100K_FANS = 20
CATEGORIES = ("merch", "ticket", "music", "course", "membership")
DOMAINS = ("gmail.com", "gmail.com", "yahoo.com", "outlook.com", "proton.me")
ORDERS_PER_FAN = 2  # on average: the email pool is half the orders, so later batches mostly find their fans
HISTORY = timedelta(days=730)


def batches_for(fans: int) -> int:
    return max(1, round(BATCHES_PER_100K_FANS * fans / 100_000))


def _order(rnd: random.Random, *, emails: int, now: datetime) -> dict[str, Any]:
    number = rnd.randrange(emails)
    return {
        "email": f"bulk.fan{number}@{DOMAINS[number % len(DOMAINS)]}",
        "amount": f"{rnd.randint(500, 25_000) / 100:.2f}",
        "category": rnd.choice(CATEGORIES),
        "status": "refunded" if rnd.random() < 0.03 else "completed",
        "placed_at": (now - rnd.random() * HISTORY).isoformat(),
    }


def _rows(database: Database, workspace_id: int) -> dict[str, int]:
    with database.engine.connect() as connection:
        return {
            table.name: int(
                connection.execute(select(func.count()).where(table.c.workspace_id == workspace_id)).scalar_one()
            )
            for table in (fans, orders)
        }


def bulk_load(
    database: Database, *, fans: int, now: datetime, batch_size: int = 1000, seed: int = 13
) -> dict[str, Any]:
    """Create the workspace and its segments, load ``batches_for(fans)`` batches of orders, then preview."""
    rnd = random.Random(seed)
    created = workspaces.create_workspace(database, name="Bulk load", now=now)
    workspace_id = created.workspace.id
    lists_service.create_list(database, workspace_id, ListIn(name=TEMPLATE_LIST), now=now)
    live = referenced(BULK_SEGMENTS)
    for segment in live:
        segments_service.create_segment(
            database, workspace_id, SegmentIn(name=segment.name, rule_text=segment.rule_text), now=now
        )

    batches = batches_for(fans)
    emails = max(1, batches * batch_size // ORDERS_PER_FAN)
    app = create_app(
        database=database,
        settings=Settings(run_scheduler=False, **BENCH_RATE_LIMITS),
        clock=lambda: now,
        dashboard=False,
    )
    headers = {"Authorization": f"Bearer {created.api_key.key}"}
    samples: list[float] = []
    fans_created = 0
    with TestClient(app) as client:
        for _ in range(batches):
            body = {"items": [_order(rnd, emails=emails, now=now) for _ in range(batch_size)]}
            started = time.perf_counter()
            response = client.post("/api/v1/orders/batch", json=body, headers=headers)
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 201:
                raise RuntimeError(f"POST /api/v1/orders/batch answered {response.status_code}: {response.text[:300]}")
            fans_created += response.json()["created_fans"]

    # Straight after the load: nothing in between may gather statistics or warm a plan.
    rules = [(f"template {template.key}", template.rule_text) for template in TEMPLATES]
    rules += [("behaviour shape", rule_text) for rule_text in BEHAVIOUR_SHAPES]
    timings: list[dict[str, Any]] = []
    for source, rule_text in rules:
        started = time.perf_counter()
        shown = previews.preview(database, workspace_id, RuleIn(rule_text=rule_text), now=now)
        elapsed = (time.perf_counter() - started) * 1000
        timings.append({"source": source, "rule": rule_text, "ms": elapsed, "count": shown.count})
    slowest = max(timings, key=lambda preview: preview["ms"])

    seconds = sum(samples) / 1000
    return {
        "workspace_id": workspace_id,
        "segments": len(live),
        "batches": batches,
        "batch_size": batch_size,
        "orders": batches * batch_size,
        "orders_per_second": batches * batch_size / seconds,
        "batch": summarise(samples),
        "fans_created": fans_created,
        "rows": _rows(database, workspace_id),
        "previews": timings,
        "slowest_preview": slowest,
    }
