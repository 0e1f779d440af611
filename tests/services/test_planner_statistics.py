"""No plan cliff after a bulk load: statistics are gathered as soon as a bulk write commits, so a preview right after
loading a fresh database plans with them (issue 13: one took over a minute, walking every order per fan)."""

from __future__ import annotations

import random
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.lists import ListIn
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import SegmentIn
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import orders_events
from fanbase.services import previews
from fanbase.services import segments
from fanbase.services import workspaces
from fanbase.services.segment_templates import TEMPLATES
from tests_support import throwaway_postgres

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
# Each behaviour shape, and every template that stands alone (the others name segments or lists of their own).
RULES = [
    "sum(amount of orders within 1509 weeks) > 50",
    'count(events where type = "gig_attended" within 365 days) >= 2',
    'count(orders where category = "merch") >= 2',
    "min(amount of orders) < 5",
    "max(amount of orders) > 100",
    "first(orders) before 400 days ago",
    "last(events) after 30 days ago",
    "count(refunds) = 0",
    *(
        template.rule_text
        for template in TEMPLATES
        if "segment " not in template.rule_text and "list " not in template.rule_text
    ),
]
# Far above what these previews take with statistics (tens of milliseconds) and far below the cliff (tens of
# seconds at this size): a bound on the plan's shape, not a benchmark.
BOUND_SECONDS = 5.0


def _load(database: Database, workspace_id: int, *, fans: int, batches: int) -> None:
    """Orders and events for fans named by email (created on first sight), a thousand per call, as the API's
    batch endpoints receive them."""
    rng = random.Random(13)
    emails = [f"fan{index}@example.com" for index in range(fans)]
    for _ in range(batches):
        orders_events.record_orders(
            database,
            workspace_id,
            [
                OrderIn(
                    email=rng.choice(emails),
                    amount=Decimal(rng.randint(1, 200)),
                    category=rng.choice(("merch", "music", "ticket")),
                    placed_at=NOW - timedelta(days=rng.randint(0, 900)),
                )
                for _ in range(1000)
            ],
            now=NOW,
        )
        orders_events.record_events(
            database,
            workspace_id,
            [
                EventIn(
                    email=rng.choice(emails),
                    type=rng.choice(("gig_attended", "email_opened", "page_viewed")),
                    occurred_at=NOW - timedelta(days=rng.randint(0, 900)),
                )
                for _ in range(1000)
            ],
            now=NOW,
        )


def test_previews_right_after_a_bulk_load_into_a_fresh_database_plan_with_statistics(
    fresh_database: Database,
) -> None:
    workspace_id = workspaces.create_workspace(fresh_database, name="fresh", now=NOW).workspace.id
    _load(fresh_database, workspace_id, fans=2000, batches=10)

    # Gathered when the load committed, not whenever autovacuum (or the scheduler, on SQLite) comes round.
    with fresh_database.engine.connect() as connection:
        if fresh_database.dialect == "postgresql":
            statement = "SELECT relname, reltuples FROM pg_class WHERE relname IN ('fans', 'orders', 'events')"
        else:  # sqlite_stat1 rows start with an index's row count
            statement = (
                "SELECT tbl, max(CAST(substr(stat, 1, instr(stat || ' ', ' ') - 1) AS INTEGER)) FROM sqlite_stat1"
                " WHERE tbl IN ('fans', 'orders', 'events') GROUP BY tbl"
            )
        counted = dict(connection.execute(text(statement)).all())
    # reltuples is -1 on a table never analysed; sqlite_stat1 has no row for it.
    assert min(counted.get(table, -1) for table in ("fans", "orders", "events")) >= 1000, counted

    slow = {}
    for rule_text in RULES:
        started = time.perf_counter()
        preview = previews.preview(fresh_database, workspace_id, RuleIn(rule_text=rule_text), now=NOW)
        seconds = time.perf_counter() - started
        assert preview.count >= 0
        if seconds > BOUND_SECONDS:
            slow[rule_text] = round(seconds, 1)
    assert slow == {}


def _estimated_rows(database: Database, table: str, workspace_id: int) -> tuple[float, int]:
    """PostgreSQL's estimate of a workspace's rows in ``table``, and the count."""
    with database.engine.connect() as connection:
        plan = connection.execute(
            text(f"EXPLAIN (FORMAT JSON) SELECT * FROM {table} WHERE workspace_id = :workspace"),
            {"workspace": workspace_id},
        ).scalar_one()
        counted = connection.execute(
            text(f"SELECT count(*) FROM {table} WHERE workspace_id = :workspace"), {"workspace": workspace_id}
        ).scalar_one()
    return plan[0]["Plan"]["Plan Rows"], counted


@pytest.mark.postgres
def test_a_new_workspace_beside_a_big_one_is_known_to_the_statistics_after_its_first_batch(
    postgres_url: str,
) -> None:
    """A first batch into a new workspace grows the tables by a few per cent (no table looks stale), yet the
    statistics put that workspace at a row or two, and PostgreSQL planned nested loops walking all of it per fan:
    50 s for a preview of two segments after a bulk load beside a workspace of 100,000 fans (bench/RESULTS.md)."""
    with throwaway_postgres() as url:
        database = Database.from_url(url)
        try:
            upgrade(database.engine)
            big = workspaces.create_workspace(database, name="big", now=NOW).workspace.id
            _load(database, big, fans=5000, batches=20)
            with database.engine.connect() as connection:
                connection.execute(text("ANALYZE"))  # as autovacuum leaves them: the big workspace known
                connection.commit()
            new = workspaces.create_workspace(database, name="new", now=NOW).workspace.id
            for name, rule_text in (("Spenders", "total_spent > 50"), ("Buyers", "purchase_count >= 1")):
                segments.create_segment(database, new, SegmentIn(name=name, rule_text=rule_text), now=NOW)
            _load(database, new, fans=800, batches=1)

            for table in ("fans", "orders", "events", "segment_members"):
                estimated, counted = _estimated_rows(database, table, new)
                assert counted >= 500, (table, counted)
                assert estimated >= counted / 2, (table, estimated, counted)
            started = time.perf_counter()
            preview = previews.preview(
                database, new, RuleIn(rule_text='segment "Spenders" and segment "Buyers"'), now=NOW
            )
            assert time.perf_counter() - started < BOUND_SECONDS
            assert preview.count > 0
        finally:
            database.dispose()


def test_a_big_change_of_members_gathers_their_statistics(fresh_database: Database) -> None:
    """Subscribing or tagging a whole audience, or filling a static segment, is a bulk write too: a message's
    audience over 20,000 just-subscribed fans ran 13.5 s on PostgreSQL on nested loops planned for one row."""
    workspace_id = workspaces.create_workspace(fresh_database, name="fresh", now=NOW).workspace.id
    _load(fresh_database, workspace_id, fans=1000, batches=1)
    everyone = fans.matching_fan_ids(fresh_database, workspace_id, FanFilter(), now=NOW)
    fan_list = lists.create_list(fresh_database, workspace_id, ListIn(name="All"), now=NOW)
    lists.subscribe_fans(fresh_database, workspace_id, fan_list.id, everyone, consent_source="test", now=NOW)
    static = segments.create_segment(fresh_database, workspace_id, SegmentIn(name="All", kind="static"), now=NOW)
    segments.add_fans(fresh_database, workspace_id, static.id, everyone, now=NOW)
    tables = ("list_members", "segment_members")
    with fresh_database.engine.connect() as connection:
        if fresh_database.dialect == "postgresql":
            statement = f"SELECT relname, reltuples FROM pg_class WHERE relname IN {tables}"
        else:
            statement = (
                "SELECT tbl, max(CAST(substr(stat, 1, instr(stat || ' ', ' ') - 1) AS INTEGER)) FROM sqlite_stat1"
                f" WHERE tbl IN {tables} GROUP BY tbl"
            )
        counted = dict(connection.execute(text(statement)).all())
    assert min(counted.get(table, -1) for table in tables) >= 500, counted  # SQLite samples (analysis_limit)
