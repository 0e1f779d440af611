"""Orders in any currency and lifecycle from purchases (issue 17), on SQLite and PostgreSQL.

services.currencies: an order keeps what the shop charged and gets its workspace-currency amount when written, at
the rate valid on its UTC day, rounded half to even; the rate is stored with it, so editing rates later changes no
total. services.lifecycle: a first completed purchase makes a subscriber or lead a customer, logged as a
``lifecycle_changed`` event that is not activity.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from decimal import ROUND_HALF_EVEN
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from fanbase.db.engine import Database
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.tables import fans as fans_table
from fanbase.db.tables import orders as orders_table
from fanbase.errors import InvalidInput
from fanbase.schemas.currencies import ExchangeRateIn
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.fans import FanIn
from fanbase.schemas.fans import FanPatch
from fanbase.schemas.fans import LifecycleStage
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.orders_events import OrderStatus
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.workspaces import WorkspaceSettingsIn
from fanbase.services import currencies
from fanbase.services import fans
from fanbase.services import orders_events
from fanbase.services import sales_csv
from fanbase.services import segments
from fanbase.services import workspaces
from tests_support import members_of
from tests_support import oracle_members

# The oracle's rate table: (first day, rate), oldest first. Set in two calls, the later days first.
RATE_TABLE: dict[str, list[tuple[date, str]]] = {
    "USD": [(date(2026, 1, 1), "0.92"), (date(2026, 3, 1), "0.9")],
    "GBP": [(date(2026, 1, 1), "1.165"), (date(2026, 2, 15), "1.18")],
    "JPY": [(date(2026, 1, 1), "0.0061")],
}
ANA, BEN, CLEO, DEV, EVE = (f"{name}@example.com" for name in ("ana", "ben", "cleo", "dev", "eve"))


def rate_in(currency: str, valid_from: date, rate: str) -> ExchangeRateIn:
    return ExchangeRateIn(currency=currency, valid_from=valid_from, rate=Decimal(rate))


def utc(text: str) -> datetime:
    """An ISO time in UTC (a time without a zone is read as UTC)."""
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def half_even(cents: int, rate: Decimal) -> int:
    return int((Decimal(cents) * rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def expected_rate(currency: str, placed_at: datetime) -> Decimal:
    """The rate of ``RATE_TABLE`` valid on the order's UTC day."""
    if currency == "EUR":
        return Decimal(1)
    day = placed_at.astimezone(UTC).date()
    return Decimal([rate for first, rate in RATE_TABLE[currency] if first <= day][-1])


def eur_workspace(database: Database, now: datetime) -> int:
    return workspaces.create_workspace(
        database, name=f"currencies {uuid.uuid4().hex[:6]}", currency="EUR", now=now
    ).workspace.id


def stored_orders(database: Database, workspace_id: int) -> list[tuple[Any, ...]]:
    """(id, email, status, amount_cents, original_amount_cents, original_currency, exchange_rate,
    original_refunded_cents, placed_at), in id order."""
    with database.transaction(workspace_id=None, write=False) as connection:
        rows = connection.execute(
            select(
                orders_table.c.id,
                fans_table.c.email,
                orders_table.c.status,
                orders_table.c.amount_cents,
                orders_table.c.original_amount_cents,
                orders_table.c.original_currency,
                orders_table.c.exchange_rate,
                orders_table.c.original_refunded_cents,
                orders_table.c.placed_at,
            )
            .join(fans_table, fans_table.c.id == orders_table.c.fan_id)
            .where(orders_table.c.workspace_id == workspace_id)
            .order_by(orders_table.c.id)
        )
        return [tuple(row) for row in rows]


def figures(database: Database, workspace_id: int) -> dict[int, tuple[Any, ...]]:
    with database.transaction(workspace_id=None, write=False) as connection:
        return dict(fans_repo.derived_figures(connection, workspace_id))


def fan_id_of(database: Database, workspace_id: int, email: str) -> int:
    return fans.list_fans(database, workspace_id, FanFilter(q=email)).items[0].id


def totals_by_email(database: Database, workspace_id: int) -> dict[str, Decimal]:
    return {
        fan.email: fan.total_spent
        for fan in fans.iterate_fans(database, workspace_id, FanFilter())
        if fan.email.endswith("@example.com")
    }


# --- a mixed-currency workspace ------------------------------------------------------------------------------

GENERIC_CSV = (
    "email,amount,currency,category,placed_at,external_id,refunded_amount\n"
    f"{ANA},7.50,GBP,music,2026-02-14T23:30:00-01:00,csv-1,\n"  # 2026-02-15 in UTC: GBP's second rate
    f"{CLEO},45.00,USD,ticket,2026-03-02T12:00:00Z,csv-2,5.00\n"  # 40.00 left, at 0.9
    f"{BEN},2345,JPY,merch,2026-03-03T12:00:00Z,csv-3,\n"  # 234500 x 0.0061 = 1430.45
    f"{EVE},13.75,usd,merch,2026-03-04T12:00:00Z,csv-4,\n"  # 1237.5 cents: half to even, up
    f"{DEV},9.99,EUR,merch,2026-03-05T12:00:00Z,csv-5,\n"
)


def test_a_mixed_currency_workspace_sums_what_it_stored(database: Database, now: datetime) -> None:
    """Orders in EUR, USD, GBP and JPY, through the REST batch and the CSV import, over rates that change: each is
    stored at the rate of its UTC day, half to even; each fan's total_spent is the sum of their completed orders'
    stored amounts, as a recompute finds it; rules on money and on the currency charged select the expected fans."""
    workspace_id = eur_workspace(database, now)
    later_rates = [rate_in("USD", date(2026, 3, 1), "0.90"), rate_in("GBP", date(2026, 2, 15), "1.18")]
    first_rates = [rate_in("JPY", date(2026, 1, 1), "0.0061")]
    first_rates += [rate_in("USD", date(2026, 1, 1), "0.92"), rate_in("GBP", date(2026, 1, 1), "1.165")]
    assert currencies.set_rates(database, workspace_id, later_rates, now=now).created == 2
    assert currencies.set_rates(database, workspace_id, first_rates, now=now).created == 3
    rules = {
        "Spent over 39.80": "total_spent > 39.80",
        "Bought in USD": 'count(orders where currency = "USD") >= 1',
        "Over 30 in USD": 'sum(amount of orders where currency = "USD") > 30',
    }
    segment_ids = {
        name: segments.create_segment(database, workspace_id, SegmentIn(name=name, rule_text=rule), now=now).id
        for name, rule in rules.items()
    }

    orders_events.record_orders(
        database,
        workspace_id,
        [
            OrderIn(email=ANA, amount=Decimal("20.00"), category="merch", placed_at=utc("2026-01-10T10:00:00Z")),
            # 1225 x 0.9 = 1102.5 cents: half to even, down
            OrderIn(
                email=ANA, amount=Decimal("12.25"), currency="USD", category="music", placed_at=utc("2026-03-10T10:00Z")
            ),
            # 100 x 1.165 = 116.5 cents: half to even, down
            OrderIn(
                email=BEN, amount=Decimal("1.00"), currency="GBP", category="music", placed_at=utc("2026-02-01T12:00Z")
            ),
            OrderIn(
                email=BEN, amount=Decimal("1500"), currency="jpy", category="merch", placed_at=utc("2026-02-20T12:00Z")
            ),
            # 2026-03-01 in Paris, still 2026-02-28 in UTC: the February USD rate
            OrderIn(
                email=CLEO,
                amount=Decimal("30.00"),
                currency="USD",
                category="ticket",
                placed_at=datetime(2026, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
            ),
            OrderIn(
                email=DEV,
                amount=Decimal("10.00"),
                currency="GBP",
                category="merch",
                status="refunded",
                placed_at=utc("2026-02-20T12:00Z"),
            ),
            # the first day of GBP's second rate
            OrderIn(
                email=DEV, amount=Decimal("3.50"), currency="GBP", category="merch", placed_at=utc("2026-02-15T00:00Z")
            ),
        ],
        now=now,
    )
    report = sales_csv.import_sales_csv(
        database, workspace_id, io.BytesIO(GENERIC_CSV.encode()), kind="orders", now=now
    )
    assert (report.orders_created, report.error_count) == (5, 0)

    stored = stored_orders(database, workspace_id)
    assert [(row[1], row[2], row[3], row[5], row[6]) for row in stored] == [
        (ANA, "completed", 2000, "EUR", "1"),
        (ANA, "completed", 1102, "USD", "0.9"),
        (BEN, "completed", 116, "GBP", "1.165"),
        (BEN, "completed", 915, "JPY", "0.0061"),
        (CLEO, "completed", 2760, "USD", "0.92"),
        (DEV, "refunded", 1180, "GBP", "1.18"),
        (DEV, "completed", 413, "GBP", "1.18"),
        (ANA, "completed", 885, "GBP", "1.18"),
        (CLEO, "completed", 3600, "USD", "0.9"),
        (BEN, "completed", 1430, "JPY", "0.0061"),
        (EVE, "completed", 1238, "USD", "0.9"),
        (DEV, "completed", 999, "EUR", "1"),
    ]
    for _, _, status, amount, original, currency, rate, refunded, placed_at in stored:
        assert isinstance(placed_at, datetime) and isinstance(original, int) and isinstance(refunded, int)
        assert Decimal(str(rate)) == expected_rate(str(currency), placed_at)
        kept = original if status == "refunded" else original - refunded
        assert amount == half_even(kept, Decimal(str(rate)))

    expected_totals = {
        ANA: Decimal("39.87"),
        BEN: Decimal("24.61"),
        CLEO: Decimal("63.60"),
        DEV: Decimal("14.12"),
        EVE: Decimal("12.38"),
    }
    assert totals_by_email(database, workspace_id) == expected_totals
    for email, total in expected_totals.items():
        completed = [row[3] for row in stored if row[1] == email and row[2] == "completed"]
        assert total == Decimal(sum(completed)) / 100
    incremental = figures(database, workspace_id)
    with database.transaction(workspace_id=workspace_id) as connection:
        assert fans_repo.recompute_figures(connection, workspace_id) == 5
    assert figures(database, workspace_id) == incremental

    ids = {email: fan_id_of(database, workspace_id, email) for email in expected_totals}
    expected_members = {
        "Spent over 39.80": {ids[ANA], ids[CLEO]},  # ana's originals add up to 39.75: converted, 39.87
        "Bought in USD": {ids[ANA], ids[CLEO], ids[EVE]},
        "Over 30 in USD": {ids[CLEO]},  # 27.60 + 36.00 in EUR
    }
    for name, segment_id in segment_ids.items():
        assert members_of(database, workspace_id, segment_id) == expected_members[name], name
        assert oracle_members(database, workspace_id, segment_id, now=now) == expected_members[name], name

    # A rate edited after the orders were written: they keep theirs; the next order takes the new one.
    edited = currencies.set_rates(database, workspace_id, [rate_in("USD", date(2026, 3, 1), "0.5")], now=now)
    assert (edited.created, edited.updated) == (0, 1)
    assert stored_orders(database, workspace_id) == stored
    assert totals_by_email(database, workspace_id) == expected_totals
    reply = orders_events.record_order(
        database,
        workspace_id,
        OrderIn(email=EVE, amount=Decimal("10.00"), currency="USD", category="merch", placed_at=utc("2026-03-20")),
        now=now,
    )
    assert (reply.body["amount"], reply.body["exchange_rate"]) == ("5.00", "0.5")
    assert totals_by_email(database, workspace_id) == {**expected_totals, EVE: Decimal("17.38")}
    for name, segment_id in segment_ids.items():  # eve: 17.38 in all, all of it in USD
        assert members_of(database, workspace_id, segment_id) == expected_members[name], name


def test_editing_or_deleting_a_rate_later_changes_no_stored_order(database: Database, now: datetime) -> None:
    """services.currencies: the rate used is stored with the order, so editing or adding rates later never changes
    a total; the next order is converted at the new rate."""
    workspace_id = eur_workspace(database, now)
    currencies.set_rates(
        database,
        workspace_id,
        [rate_in("USD", date(2026, 3, 1), "0.90"), rate_in("JPY", date(2026, 1, 1), "0.0061")],
        now=now,
    )
    orders_events.record_orders(
        database,
        workspace_id,
        [
            OrderIn(email=EVE, amount=Decimal("13.75"), currency="USD", category="merch", placed_at=utc("2026-03-04")),
            OrderIn(email=BEN, amount=Decimal("1500"), currency="JPY", category="merch", placed_at=utc("2026-03-04")),
        ],
        now=now,
    )
    before_orders, before_figures = stored_orders(database, workspace_id), figures(database, workspace_id)

    written = currencies.set_rates(database, workspace_id, [rate_in("USD", date(2026, 3, 1), "0.5")], now=now)
    jpy = next(rate for rate in currencies.list_rates(database, workspace_id) if rate.currency == "JPY")
    currencies.delete_rate(database, workspace_id, jpy.id)

    assert (written.created, written.updated, written.unchanged) == (0, 1, 0)
    assert stored_orders(database, workspace_id) == before_orders
    assert figures(database, workspace_id) == before_figures
    with database.transaction(workspace_id=workspace_id) as connection:
        fans_repo.recompute_figures(connection, workspace_id)
    assert figures(database, workspace_id) == before_figures
    assert [(row[3], row[6]) for row in before_orders] == [(1238, "0.9"), (915, "0.0061")]
    reply = orders_events.record_order(
        database,
        workspace_id,
        OrderIn(email=EVE, amount=Decimal("10.00"), currency="USD", category="merch", placed_at=utc("2026-03-20")),
        now=now,
    )
    assert (reply.body["amount"], reply.body["exchange_rate"], reply.body["original_amount"]) == (
        "5.00",
        "0.5",
        "10.00",
    )
    assert totals_by_email(database, workspace_id) == {EVE: Decimal("17.38"), BEN: Decimal("9.15")}
    with pytest.raises(InvalidInput, match="no exchange rate from JPY to EUR valid on 2026-03-20"):
        orders_events.record_order(
            database,
            workspace_id,
            OrderIn(email=BEN, amount=Decimal("1"), currency="JPY", category="merch", placed_at=utc("2026-03-20")),
            now=now,
        )


@pytest.mark.parametrize(
    ("currency", "placed_at", "day"),
    [
        ("CHF", "2026-03-10T12:00:00Z", "2026-03-10"),  # no CHF rate at all
        ("USD", "2026-01-01T00:30:00+01:00", "2025-12-31"),  # before the first USD rate, by its UTC day
    ],
)
def test_a_rest_order_without_a_rate_is_refused_naming_the_rate_to_add(
    database: Database, now: datetime, currency: str, placed_at: str, day: str
) -> None:
    """services.currencies.MissingRate: the message says which rate to add; the batch writes nothing."""
    workspace_id = eur_workspace(database, now)
    currencies.set_rates(database, workspace_id, [rate_in("USD", date(2026, 1, 1), "0.92")], now=now)
    batch = [
        OrderIn(email=ANA, amount=Decimal("5.00"), category="merch", placed_at=utc("2026-03-10T12:00:00Z")),
        OrderIn(email=BEN, amount=Decimal("5.00"), currency=currency, category="merch", placed_at=utc(placed_at)),
    ]

    with pytest.raises(InvalidInput) as refused:
        orders_events.record_orders(database, workspace_id, batch, now=now)

    assert refused.value.field == "items[1].currency"
    assert refused.value.message == (
        f"no exchange rate from {currency} to EUR valid on {day}: add one valid from {day} or earlier "
        f"(PUT /api/v1/exchange-rates, or `fanbase rates set {currency} {day} RATE`)"
    )
    assert stored_orders(database, workspace_id) == []
    assert figures(database, workspace_id) == {}  # not even the fans the batch named


def test_the_workspace_currency_needs_no_rate_and_is_refused_one(database: Database, now: datetime) -> None:
    """services.currencies.set_rates: an order in the workspace currency needs no rate, so one is refused, naming
    the entry; nothing of the call is written."""
    workspace_id = eur_workspace(database, now)
    with pytest.raises(InvalidInput) as refused:
        currencies.set_rates(
            database,
            workspace_id,
            [rate_in("USD", date(2026, 4, 1), "0.8"), rate_in("eur", date(2026, 1, 1), "1")],
            now=now,
        )
    assert (refused.value.field, refused.value.message) == (
        "rates[1]",
        "EUR is this workspace's own currency: it needs no rate",
    )
    assert currencies.list_rates(database, workspace_id) == []
    reply = orders_events.record_order(
        database, workspace_id, OrderIn(email=ANA, amount=Decimal("5.05"), currency="EUR", category="merch"), now=now
    )
    assert (reply.body["amount"], reply.body["exchange_rate"], reply.body["original_currency"]) == ("5.05", "1", "EUR")


def test_a_later_rate_for_the_same_day_in_one_call_wins(database: Database, now: datetime) -> None:
    """services.currencies.set_rates: a later entry for the same currency and day wins."""
    workspace_id = eur_workspace(database, now)
    written = currencies.set_rates(
        database,
        workspace_id,
        [rate_in("USD", date(2026, 1, 1), "0.92"), rate_in("usd", date(2026, 1, 1), "0.93")],
        now=now,
    )
    assert written.created == 1
    assert [(rate.currency, rate.valid_from, rate.rate) for rate in currencies.list_rates(database, workspace_id)] == [
        ("USD", date(2026, 1, 1), Decimal("0.93"))
    ]


def test_a_rates_csv_names_every_bad_line() -> None:
    """services.currencies.rates_from_csv: columns currency, valid_from, rate in any order and case; every bad line
    named (physical lines: a blank line counts), nothing returned."""
    data = (
        b"currency,valid_from,rate\n"
        b"USD,2026-01-01,0.92\n"
        b"\n"
        b"usd,2026-13-01,0.9\n"  # line 4
        b"GBP,2026-01-01,-1\n"  # line 5
        b"JPY,2026-01-01,abc\n"  # line 6
        b"EURO,2026-01-01,1\n"  # line 7
    )
    with pytest.raises(InvalidInput) as refused:
        currencies.rates_from_csv(data)
    assert refused.value.field == "file"
    problems = refused.value.message.split("; line ")
    assert [problem.split(":")[0].removeprefix("line ") for problem in problems] == ["4", "5", "6", "7"]
    assert problems[0].startswith("line 4: valid_from: ")
    assert problems[1] == "5: rate: must be a positive number"
    assert problems[2].startswith("6: rate: ")
    assert problems[3] == "7: currency: must be a three-letter ISO 4217 code, e.g. EUR"

    with pytest.raises(InvalidInput, match="missing column valid_from; expected currency, valid_from, rate"):
        currencies.rates_from_csv(b"currency,rate\nUSD,1\n")
    with pytest.raises(InvalidInput, match="the file has no rates"):
        currencies.rates_from_csv(b"currency,valid_from,rate\n\n")
    assert currencies.rates_from_csv("\ufeffRate,Currency,Valid_From\n0.0061,jpy,2026-01-01\n".encode()) == [
        rate_in("JPY", date(2026, 1, 1), "0.0061")
    ]


# --- lifecycle from purchases ----------------------------------------------------------------------------------


def lifecycle_events(database: Database, workspace_id: int, fan_id: int) -> list[tuple[dict[str, object], datetime]]:
    found = fans.fan_events(database, workspace_id, fan_id, page=1, page_size=50)
    return [(event.properties, event.occurred_at) for event in found if event.type == "lifecycle_changed"]


def buy(
    database: Database,
    workspace_id: int,
    fan_id: int,
    *,
    at: datetime,
    now: datetime,
    status: OrderStatus = "completed",
    amount: str = "12.00",
) -> int:
    reply = orders_events.record_order(
        database,
        workspace_id,
        OrderIn(fan_id=fan_id, amount=Decimal(amount), category="merch", status=status, placed_at=at),
        now=now,
    )
    order_id: int = reply.body["id"]
    return order_id


@pytest.mark.parametrize("stage", ["subscriber", "lead"])
def test_a_first_purchase_makes_a_subscriber_or_lead_a_customer(
    database: Database, workspace_id: int, now: datetime, stage: LifecycleStage
) -> None:
    """services.lifecycle: on for new workspaces; the first completed purchase moves the fan, logged as
    lifecycle_changed at the purchase's time, which is not activity; live segments follow the stage."""
    assert workspaces.get_workspace(database, workspace_id).lifecycle_from_purchases is True
    customers = segments.create_segment(
        database, workspace_id, SegmentIn(name="Customers", rule_text="lifecycle_stage = customer"), now=now
    )
    moved = segments.create_segment(
        database,
        workspace_id,
        SegmentIn(name="Moved", rule_text='count(events where type = "lifecycle_changed") >= 1'),
        now=now,
    )
    fan = fans.create_fan(
        database,
        workspace_id,
        FanIn(email=f"{stage}@example.com", lifecycle_stage=stage),
        now=now,
    )
    placed = now - timedelta(days=20)

    buy(database, workspace_id, fan.id, at=placed, now=now)

    after = fans.get_fan(database, workspace_id, fan.id)
    assert (after.lifecycle_stage, after.purchase_count) == ("customer", 1)
    assert lifecycle_events(database, workspace_id, fan.id) == [
        ({"from": stage, "to": "customer", "reason": "first purchase"}, placed)
    ]
    assert after.last_active_at == placed  # the order, not the move logged at `now`'s write
    assert members_of(database, workspace_id, customers.id) == {fan.id}
    assert members_of(database, workspace_id, moved.id) == {fan.id}
    assert oracle_members(database, workspace_id, moved.id, now=now) == {fan.id}

    buy(database, workspace_id, fan.id, at=placed + timedelta(days=1), now=now)  # a second purchase moves nothing
    assert len(lifecycle_events(database, workspace_id, fan.id)) == 1
    before = figures(database, workspace_id)
    with database.transaction(workspace_id=workspace_id) as connection:
        fans_repo.recompute_figures(connection, workspace_id)
    assert figures(database, workspace_id) == before
    assert fans.get_fan(database, workspace_id, fan.id).last_active_at == placed + timedelta(days=1)


def test_the_move_is_not_activity(database: Database, workspace_id: int, now: datetime) -> None:
    """core.fields.NOT_ACTIVITY_EVENTS: a lifecycle_changed event never makes a fan active, whether written by a
    purchase or recorded like any other event."""
    fan = fans.create_fan(database, workspace_id, FanIn(email="quiet@example.com"), now=now)
    placed = now - timedelta(days=40)
    buy(database, workspace_id, fan.id, at=placed, now=now)
    orders_events.record_event(
        database,
        workspace_id,
        EventIn(fan_id=fan.id, type="lifecycle_changed", occurred_at=now - timedelta(days=1)),
        now=now,
    )
    assert fans.get_fan(database, workspace_id, fan.id).last_active_at == placed
    with database.transaction(workspace_id=workspace_id) as connection:
        fans_repo.recompute_figures(connection, workspace_id)
    assert fans.get_fan(database, workspace_id, fan.id).last_active_at == placed


def test_an_advocate_stays_an_advocate(database: Database, workspace_id: int, now: datetime) -> None:
    """services.lifecycle: only subscribers and leads are moved."""
    fan = fans.create_fan(database, workspace_id, FanIn(email="adv@example.com", lifecycle_stage="advocate"), now=now)
    buy(database, workspace_id, fan.id, at=now - timedelta(days=2), now=now)
    assert fans.get_fan(database, workspace_id, fan.id).lifecycle_stage == "advocate"
    assert lifecycle_events(database, workspace_id, fan.id) == []


def test_an_order_refunded_when_written_promotes_no_one(database: Database, workspace_id: int, now: datetime) -> None:
    """services.lifecycle: a completed purchase moves the fan; an order recorded already refunded is none (it is
    still activity)."""
    fan = fans.create_fan(database, workspace_id, FanIn(email="ref@example.com"), now=now)
    placed = now - timedelta(days=3)
    buy(database, workspace_id, fan.id, at=placed, now=now, status="refunded")
    after = fans.get_fan(database, workspace_id, fan.id)
    assert (after.lifecycle_stage, after.purchase_count, after.last_active_at) == ("subscriber", 0, placed)
    assert lifecycle_events(database, workspace_id, fan.id) == []


def test_a_free_ticket_is_no_purchase_that_makes_a_customer(
    database: Database, workspace_id: int, now: datetime
) -> None:
    """services.lifecycle: a completed order with an amount moves the fan; a free one (a guest-list ticket) is
    recorded and counted, but the first paid purchase after it is the one that moves them."""
    fan = fans.create_fan(database, workspace_id, FanIn(email="guest@example.com"), now=now)
    buy(database, workspace_id, fan.id, at=now - timedelta(days=9), now=now, amount="0.00")
    after = fans.get_fan(database, workspace_id, fan.id)
    assert (after.lifecycle_stage, after.purchase_count) == ("subscriber", 1)
    assert lifecycle_events(database, workspace_id, fan.id) == []
    paid_at = now - timedelta(days=2)
    buy(database, workspace_id, fan.id, at=paid_at, now=now)
    assert fans.get_fan(database, workspace_id, fan.id).lifecycle_stage == "customer"
    assert lifecycle_events(database, workspace_id, fan.id) == [
        ({"from": "subscriber", "to": "customer", "reason": "first purchase"}, paid_at)
    ]


def test_a_workspace_that_switched_it_off_moves_no_one(database: Database, workspace_id: int, now: datetime) -> None:
    """services.lifecycle: on per workspace; services.workspaces.update_settings switches it. "First" means no
    completed purchase on record when the order is written."""
    updated = workspaces.update_settings(
        database, workspace_id, WorkspaceSettingsIn(lifecycle_from_purchases=False), now=now, actor=None
    )
    assert updated.lifecycle_from_purchases is False
    fan = fans.create_fan(database, workspace_id, FanIn(email="off@example.com"), now=now)
    buy(database, workspace_id, fan.id, at=now - timedelta(days=3), now=now)
    after = fans.get_fan(database, workspace_id, fan.id)
    assert (after.lifecycle_stage, after.purchase_count) == ("subscriber", 1)
    assert lifecycle_events(database, workspace_id, fan.id) == []

    # Switched on again: this fan has a completed purchase on record, so their next one is not a first.
    workspaces.update_settings(
        database, workspace_id, WorkspaceSettingsIn(lifecycle_from_purchases=True), now=now, actor=None
    )
    buy(database, workspace_id, fan.id, at=now - timedelta(days=2), now=now)
    assert fans.get_fan(database, workspace_id, fan.id).lifecycle_stage == "subscriber"
    newcomer = fans.create_fan(database, workspace_id, FanIn(email="new@example.com"), now=now)
    buy(database, workspace_id, newcomer.id, at=now - timedelta(days=1), now=now)
    assert fans.get_fan(database, workspace_id, newcomer.id).lifecycle_stage == "customer"


def test_a_stage_set_back_by_hand_sticks_until_a_purchase_after_a_refund_left_none(
    database: Database, workspace_id: int, now: datetime
) -> None:
    """services.lifecycle: "first" means no completed purchase on record when the order is written: a fan set back
    to subscriber by hand stays there on the next purchase, until a refund left them with none."""
    fan = fans.create_fan(database, workspace_id, FanIn(email="back@example.com"), now=now)
    first = buy(database, workspace_id, fan.id, at=now - timedelta(days=30), now=now)
    fans.update_fan(database, workspace_id, fan.id, FanPatch(lifecycle_stage="subscriber"), now=now)

    second = buy(database, workspace_id, fan.id, at=now - timedelta(days=20), now=now)

    assert fans.get_fan(database, workspace_id, fan.id).lifecycle_stage == "subscriber"
    assert len(lifecycle_events(database, workspace_id, fan.id)) == 1
    orders_events.refund_order(database, workspace_id, first, now=now)
    orders_events.refund_order(database, workspace_id, second, now=now)
    assert fans.get_fan(database, workspace_id, fan.id).purchase_count == 0

    buy(database, workspace_id, fan.id, at=now - timedelta(days=10), now=now)

    assert fans.get_fan(database, workspace_id, fan.id).lifecycle_stage == "customer"
    assert lifecycle_events(database, workspace_id, fan.id) == [
        ({"from": "subscriber", "to": "customer", "reason": "first purchase"}, now - timedelta(days=10)),
        ({"from": "subscriber", "to": "customer", "reason": "first purchase"}, now - timedelta(days=30)),
    ]
