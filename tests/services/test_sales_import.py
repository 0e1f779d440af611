"""CSV imports of sales (issue 17): each vendor's export read into orders and events, converted into the workspace
currency, written idempotently (a second import changes nothing), bad rows reported by their physical line.

The samples are ``tests/data/imports/*.csv``; ``tests/data/imports/SOURCES.md`` says which published document each
vendor's columns follow, and each test names it again. Every test imports into an EUR workspace with USD and GBP
rates (``RATES``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Sequence
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fanbase.db.engine import Database
from fanbase.db.tables import events
from fanbase.db.tables import fans
from fanbase.db.tables import orders
from fanbase.errors import InvalidInput
from fanbase.schemas.currencies import ExchangeRateIn
from fanbase.schemas.sales import FormatChoice
from fanbase.schemas.sales import ImportKind
from fanbase.schemas.sales import SalesImportReport
from fanbase.services import currencies
from fanbase.services import sales_csv
from fanbase.services import suppressions
from fanbase.services import workspaces
from fanbase.services.sales_formats import Format
from fanbase.services.sales_formats import ImportOptions
from fanbase.services.vendor_formats import FORMATS
from tests_support import workspace_rows

SAMPLES = Path(__file__).parent.parent / "data" / "imports"
README = Path(__file__).parent.parent.parent / "README.md"
# USD changes on 2026-03-08, so the samples' USD orders are converted at one rate or the other by their UTC day;
# GBP's 1.165 turns 1.00 into 116.5 cents, which half-to-even rounds down.
RATES = (
    ExchangeRateIn(currency="USD", valid_from=date(2026, 1, 1), rate=Decimal("0.92")),
    ExchangeRateIn(currency="USD", valid_from=date(2026, 3, 8), rate=Decimal("0.90")),
    ExchangeRateIn(currency="GBP", valid_from=date(2026, 1, 1), rate=Decimal("1.165")),
)
LIDO = ImportOptions(venue="Lido", city="Berlin", attended_at=datetime(2026, 2, 20, 20, 0, tzinfo=UTC))
LENA, JONAS, SAM = "lena.fischer@example.com", "jonas.weber@example.com", "sam.okafor@example.org"
HARRIET, MIA, NOOR = "harriet.cole@example.org", "mia.schulz@example.com", "noor.haddad@example.org"
PRIYA, DANA = "priya.raman@example.net", "dana.whitfield@example.com"
# The report's event names have an en dash.
LIDO_SHOW, RELEASE_SHOW = "Marrow Lanes \u2013 Live at Lido", "Marrow Lanes \u2013 Night Tram Release Show"
PROMOTED = {"from": "subscriber", "to": "customer", "reason": "first purchase"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def eur_workspace(database: Database, now: datetime, rates: Sequence[ExchangeRateIn] = RATES) -> int:
    workspace_id = workspaces.create_workspace(
        database, name=f"sales {uuid.uuid4().hex[:6]}", currency="EUR", now=now
    ).workspace.id
    if rates:
        currencies.set_rates(database, workspace_id, rates, now=now)
    return workspace_id


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def import_bytes(
    database: Database,
    workspace_id: int,
    data: bytes,
    *,
    now: datetime,
    kind: ImportKind = "orders",
    format_choice: FormatChoice = "auto",
    options: ImportOptions = ImportOptions(),
    chunk_rows: int = sales_csv.CHUNK_ROWS,
) -> SalesImportReport:
    return sales_csv.import_sales_csv(
        database,
        workspace_id,
        io.BytesIO(data),
        kind=kind,
        format_choice=format_choice,
        options=options,
        now=now,
        chunk_rows=chunk_rows,
    )


def counts(report: SalesImportReport) -> dict[str, int]:
    return report.model_dump(
        include={
            "rows",
            "orders_created",
            "orders_refunded",
            "events_created",
            "unchanged",
            "skipped",
            "fans_created",
            "error_count",
        }
    )


def stored_orders(database: Database, workspace_id: int) -> dict[str, tuple[Any, ...]]:
    """external id → (email, category, status, amount_cents, original_amount_cents, original_currency,
    exchange_rate, original_refunded_cents)."""
    with database.transaction(workspace_id=None, write=False) as connection:
        rows = connection.execute(
            select(
                orders.c.external_id,
                fans.c.email,
                orders.c.category,
                orders.c.status,
                orders.c.amount_cents,
                orders.c.original_amount_cents,
                orders.c.original_currency,
                orders.c.exchange_rate,
                orders.c.original_refunded_cents,
            )
            .join(fans, fans.c.id == orders.c.fan_id)
            .where(orders.c.workspace_id == workspace_id)
        )
        return {row[0]: tuple(row[1:]) for row in rows}


def order_times(database: Database, workspace_id: int) -> dict[str, tuple[Any, ...]]:
    """external id → (product, placed_at, refunded_at)."""
    with database.transaction(workspace_id=None, write=False) as connection:
        rows = connection.execute(
            select(orders.c.external_id, orders.c.product, orders.c.placed_at, orders.c.refunded_at).where(
                orders.c.workspace_id == workspace_id
            )
        )
        return {row[0]: tuple(row[1:]) for row in rows}


def stored_fans(database: Database, workspace_id: int) -> dict[str, tuple[Any, ...]]:
    """email → (first_name, last_name, country, city, lifecycle_stage, total_spent_cents, purchase_count)."""
    with database.transaction(workspace_id=None, write=False) as connection:
        rows = connection.execute(
            select(
                fans.c.email,
                fans.c.first_name,
                fans.c.last_name,
                fans.c.country,
                fans.c.city,
                fans.c.lifecycle_stage,
                fans.c.total_spent_cents,
                fans.c.purchase_count,
            ).where(fans.c.workspace_id == workspace_id)
        )
        return {row[0]: tuple(row[1:]) for row in rows}


def stored_events(database: Database, workspace_id: int, *, type: str | None = None) -> list[tuple[Any, ...]]:
    """(email, type, properties, occurred_at, external_id), sorted."""
    with database.transaction(workspace_id=None, write=False) as connection:
        statement = (
            select(fans.c.email, events.c.type, events.c.properties, events.c.occurred_at, events.c.external_id)
            .join(fans, fans.c.id == events.c.fan_id)
            .where(events.c.workspace_id == workspace_id)
        )
        if type is not None:
            statement = statement.where(events.c.type == type)
        rows = [tuple(row) for row in connection.execute(statement)]
    return sorted(rows, key=repr)


def last_active(database: Database, workspace_id: int, email: str) -> datetime | None:
    with database.transaction(workspace_id=None, write=False) as connection:
        value: datetime | None = connection.execute(
            select(fans.c.last_active_at).where(fans.c.workspace_id == workspace_id, fans.c.email == email)
        ).scalar_one()
        return value


def rewrite_csv(data: bytes, change: dict[str, dict[str, str]], *, key: str, drop: Sequence[str] = ()) -> bytes:
    """The CSV with cells changed on the rows whose ``key`` column has a value in ``change`` (and rows with a key in
    ``drop`` left out), header and other cells as they were."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    assert reader.fieldnames is not None
    out = io.StringIO()
    writer = csv.DictWriter(out, reader.fieldnames, lineterminator="\n")
    writer.writeheader()
    for row in reader:
        if row[key] in drop:
            continue
        writer.writerow({**row, **change.get(row[key], {})})
    return out.getvalue().encode()


# --- each vendor's sample -------------------------------------------------------------------------------------


def test_shopify_orders_export_imports_each_line_item_as_an_order(database: Database, now: datetime) -> None:
    """Shopify Help Center, "Exporting orders" (https://help.shopify.com/en/manual/orders/export-orders): one row a
    line item, order-level cells on the first row only; Financial Status pending is no purchase (skipped); a
    partially_refunded order's Refunded Amount comes off its last lines; refunded refunds every line."""
    workspace_id = eur_workspace(database, now)
    report = import_bytes(database, workspace_id, sample("shopify_orders.csv"), now=now)

    assert report.format == "shopify"
    assert counts(report) == {
        "rows": 10,
        "orders_created": 9,
        "orders_refunded": 0,
        "events_created": 0,
        "unchanged": 0,
        "skipped": 1,  # #1045, pending (bank deposit not received)
        "fans_created": 5,
        "error_count": 0,
    }
    assert stored_orders(database, workspace_id) == {
        "shopify:11874512200311:1": (LENA, "merch", "completed", 2800, 2800, "EUR", "1", 0),
        "shopify:11874512200311:2": (LENA, "merch", "completed", 2500, 2500, "EUR", "1", 0),
        # USD on 2026-03-04 (UTC): 32.00 at 0.92
        "shopify:11874650377535:1": (SAM, "merch", "completed", 2944, 3200, "USD", "0.92", 0),
        # partially_refunded 15.00: the last line (the poster, 15.00) is refunded whole, the vinyl untouched
        "shopify:11874803310671:1": (JONAS, "merch", "completed", 2800, 2800, "EUR", "1", 0),
        "shopify:11874803310671:2": (JONAS, "merch", "refunded", 1500, 1500, "EUR", "1", 1500),
        "shopify:11874921144399:1": (MIA, "merch", "refunded", 2500, 2500, "EUR", "1", 2500),
        # each line: price x quantity less its Lineitem discount (9.00-0.90, 25.00-2.50, 6.00-0.60)
        "shopify:11875374587983:1": (HARRIET, "merch", "completed", 810, 810, "EUR", "1", 0),
        "shopify:11875374587983:2": (HARRIET, "merch", "completed", 2250, 2250, "EUR", "1", 0),
        "shopify:11875374587983:3": (HARRIET, "merch", "completed", 540, 540, "EUR", "1", 0),
    }
    times = order_times(database, workspace_id)
    assert times["shopify:11874650377535:1"] == ("Night Tram - Vinyl LP", at("2026-03-04 01:51:09"), None)
    assert times["shopify:11874803310671:2"] == ("Night Tram - Signed Poster", at("2026-03-06 18:02:44"), now)
    # refunded with its Cancelled at (+0100) as the refund time
    assert times["shopify:11874921144399:1"][2] == at("2026-03-08 10:20:04")

    assert stored_fans(database, workspace_id) == {
        LENA: ("Lena", "Fischer", "DE", "Berlin", "customer", 5300, 2),
        SAM: ("Sam", "Okafor", "US", "Chicago", "customer", 2944, 1),
        JONAS: ("Jonas", "Weber", "DE", "Hamburg", "customer", 2800, 1),
        MIA: ("Mia", "Schulz", "DE", "Münster", "subscriber", 0, 0),  # only a refunded order: no purchase
        HARRIET: ("Harriet", "Cole", "GB", "London", "customer", 3600, 3),
    }
    promotions = stored_events(database, workspace_id, type="lifecycle_changed")
    assert len(promotions) == 4
    assert {email: (properties, occurred) for email, _, properties, occurred, _ in promotions} == {
        LENA: (PROMOTED, at("2026-03-02 09:14:33")),
        SAM: (PROMOTED, at("2026-03-04 01:51:09")),
        JONAS: (PROMOTED, at("2026-03-06 18:02:44")),
        HARRIET: (PROMOTED, at("2026-03-14 17:22:01")),
    }


def test_bandcamp_sales_report_imports_music_and_merch_and_applies_its_refund_rows(
    database: Database, now: datetime
) -> None:
    """Bandcamp Help, "Reading your sales report"
    (https://get.bandcamp.help/hc/en-us/articles/23020652228759-Reading-your-sales-report): times in UTC, item type
    album/track → music, package → merch, payout is no sale; a refund is a row of its own (negative amounts) that
    names no order, so it refunds the buyer's earlier order of that item."""
    workspace_id = eur_workspace(database, now)
    report = import_bytes(database, workspace_id, sample("bandcamp_sales.csv"), now=now)

    assert report.format == "bandcamp"
    assert counts(report) == {
        "rows": 8,
        "orders_created": 6,
        "orders_refunded": 1,  # the tee, refunded by the refund row further down
        "events_created": 0,
        "unchanged": 0,
        "skipped": 1,  # the payout
        "fans_created": 5,
        "error_count": 0,
    }
    assert stored_orders(database, workspace_id) == {
        # sub total plus the additional fan contribution: 8.00 + 2.00 USD at 0.92
        "bandcamp:4190233871:1": (SAM, "music", "completed", 920, 1000, "USD", "0.92", 0),
        # 1.00 GBP at 1.165 = 116.5 cents: half to even
        "bandcamp:4190412295:1": (HARRIET, "music", "completed", 116, 100, "GBP", "1.165", 0),
        # shipping is not the record's price
        "bandcamp:4190588104:1": (HARRIET, "merch", "completed", 2796, 2400, "GBP", "1.165", 0),
        "bandcamp:4190731566:1": (DANA, "merch", "refunded", 2300, 2500, "USD", "0.92", 2500),
        "bandcamp:4190995410:1": (JONAS, "music", "completed", 652, 560, "GBP", "1.165", 0),
        # 2 x 8.00 USD on 2026-03-10: the rate from 2026-03-08 on
        "bandcamp:4191478830:1": (PRIYA, "music", "completed", 1440, 1600, "USD", "0.9", 0),
    }
    times = order_times(database, workspace_id)
    assert times["bandcamp:4190731566:1"] == ("Tour Tee 2026", at("2026-03-04 23:02"), at("2026-03-09 13:17"))
    assert times["bandcamp:4190233871:1"] == ("Night Tram", at("2026-03-01 14:14"), None)
    assert stored_fans(database, workspace_id) == {
        SAM: ("Sam", "Okafor", "US", "Chicago", "customer", 920, 1),  # Sam.Okafor@ in the file
        HARRIET: ("Harriet", "Cole", "GB", "London", "customer", 2912, 2),
        DANA: ("Dana", "Whitfield", "US", "Portland", "customer", 0, 0),  # a refund does not undo the move
        JONAS: ("Jonas", "Weber", "DE", "Hamburg", "customer", 652, 1),
        PRIYA: ("Priya", "Raman", "CA", "Toronto", "customer", 1440, 1),
    }


def test_a_bandcamp_refund_in_a_later_report_refunds_the_sale_imported_before(
    database: Database, now: datetime
) -> None:
    """Bandcamp Help, "Reading your sales report": a refund row gets its own transaction id, so it is matched to the
    buyer's earlier order of the same item, also when that order came in with an earlier report."""
    workspace_id = eur_workspace(database, now)
    full = sample("bandcamp_sales.csv")
    without_refund = rewrite_csv(full, {}, key="bandcamp transaction id", drop=["4191302277"])
    first = import_bytes(database, workspace_id, without_refund, now=now)
    assert (first.orders_created, first.orders_refunded) == (6, 0)
    assert stored_fans(database, workspace_id)[DANA][4:] == ("customer", 2300, 1)

    later = import_bytes(database, workspace_id, full, now=now + timedelta(days=1))
    assert (later.orders_created, later.orders_refunded, later.unchanged, later.error_count) == (0, 1, 6, 0)
    assert stored_orders(database, workspace_id)["bandcamp:4190731566:1"] == (
        DANA,
        "merch",
        "refunded",
        2300,
        2500,
        "USD",
        "0.92",
        2500,
    )
    assert stored_fans(database, workspace_id)[DANA][4:] == ("customer", 0, 0)


def test_stripe_payments_export_imports_paid_and_refunded_charges(database: Database, now: datetime) -> None:
    """Stripe Support, "Exporting payment reports" (https://support.stripe.com/questions/exporting-payment-reports):
    amounts in major units, currency lower case, times in UTC; Refunded is a whole refund, a partial one stays Paid
    with Amount Refunded; Failed is no payment (skipped); the export says nothing of what was bought (other)."""
    workspace_id = eur_workspace(database, now)
    report = import_bytes(database, workspace_id, sample("stripe_payments.csv"), now=now)

    assert report.format == "stripe"
    assert counts(report) == {
        "rows": 6,
        "orders_created": 5,
        "orders_refunded": 0,
        "events_created": 0,
        "unchanged": 0,
        "skipped": 1,  # ML-WEB-0105: Failed, insufficient_funds
        "fans_created": 5,
        "error_count": 0,
    }
    assert stored_orders(database, workspace_id) == {
        "stripe:ch_3SwQv2HkT8mLr5Xa0p1Yd7Ke": (LENA, "other", "completed", 4200, 4200, "EUR", "1", 0),
        # the same 55.20 Stripe converted it to
        "stripe:ch_3SxF0aHkT8mLr5Xa1Ub3Nc9R": (SAM, "other", "completed", 5520, 6000, "USD", "0.92", 0),
        "stripe:ch_3SxjR8HkT8mLr5Xa0Kd4Wq2B": (NOOR, "other", "refunded", 4800, 4800, "EUR", "1", 4800),
        # 75.00 less 20.00 refunded, at 0.92: 50.60 (Converted Amount less Converted Amount Refunded)
        "stripe:ch_3SyA4cHkT8mLr5Xa1Fh6Lp0M": (PRIYA, "other", "completed", 5060, 7500, "USD", "0.92", 2000),
        "stripe:ch_3SzC1pHkT8mLr5Xa1Zw9Hd3Q": (JONAS, "other", "completed", 1800, 1800, "EUR", "1", 0),
    }
    times = order_times(database, workspace_id)
    assert times["stripe:ch_3SxjR8HkT8mLr5Xa0Kd4Wq2B"] == (
        "Marrow Lanes web shop ML-WEB-0103",
        at("2026-03-05 20:11:37"),
        at("2026-03-09 10:02:14"),
    )
    assert times["stripe:ch_3SyA4cHkT8mLr5Xa1Fh6Lp0M"][1:] == (at("2026-03-07 16:44:02"), None)
    assert stored_fans(database, workspace_id) == {
        LENA: (None, None, None, None, "customer", 4200, 1),
        SAM: (None, None, None, None, "customer", 5520, 1),
        NOOR: (None, None, None, None, "subscriber", 0, 0),
        PRIYA: (None, None, None, None, "customer", 5060, 1),
        JONAS: (None, None, None, None, "customer", 1800, 1),
    }


def test_eventbrite_attendee_summary_imports_tickets_and_check_ins(database: Database, now: datetime) -> None:
    """Eventbrite Help, "Glossary of order and attendee statuses in event reports"
    (https://www.eventbrite.com/help/en-us/articles/291888/glossary-of-order-and-attendee-statuses-in-event-reports/):
    one row an attendee; Not Attending is a refunded
    ticket; Checked In is a gig attended, dated, placed and named by the import's options (the report has no venue,
    city or check-in time)."""
    workspace_id = eur_workspace(database, now)
    report = import_bytes(database, workspace_id, sample("eventbrite_attendees.csv"), now=now, options=LIDO)

    assert report.format == "eventbrite"
    assert counts(report) == {
        "rows": 6,
        "orders_created": 6,
        "orders_refunded": 0,
        "events_created": 2,
        "unchanged": 0,
        "skipped": 0,
        "fans_created": 6,
        "error_count": 0,
    }
    assert stored_orders(database, workspace_id) == {
        "eventbrite:16230945501": (LENA, "ticket", "completed", 2445, 2445, "EUR", "1", 0),
        "eventbrite:16230945502": (JONAS, "ticket", "completed", 2445, 2445, "EUR", "1", 0),
        "eventbrite:16231288930": (SAM, "ticket", "completed", 2445, 2445, "EUR", "1", 0),
        "eventbrite:16302257114": (HARRIET, "ticket", "completed", 1995, 1995, "EUR", "1", 0),
        "eventbrite:16304418862": (MIA, "ticket", "refunded", 2715, 2715, "EUR", "1", 2715),
        "eventbrite:16311903275": (NOOR, "ticket", "completed", 0, 0, "EUR", "1", 0),  # a guest-list ticket
    }
    times = order_times(database, workspace_id)
    assert times["eventbrite:16231288930"] == (
        f"{LIDO_SHOW}: General Admission",
        at("2026-02-14 02:41:09"),  # 03:41:09+01:00
        None,
    )
    assert times["eventbrite:16302257114"][0] == f"{RELEASE_SHOW}: Early Bird"
    lido = {
        "event_name": LIDO_SHOW,
        "event_id": "1203456789012",
        "venue": "Lido",
        "city": "Berlin",
        "ticket_type": "General Admission",
    }
    attended = at("2026-02-20 20:00")
    assert stored_events(database, workspace_id, type="gig_attended") == [
        (JONAS, "gig_attended", lido, attended, "eventbrite:checkin:16230945502"),
        (LENA, "gig_attended", lido, attended, "eventbrite:checkin:16230945501"),
    ]
    assert last_active(database, workspace_id, LENA) == attended  # the gig, after the ticket was bought
    assert stored_fans(database, workspace_id)[MIA] == ("Mia", "Schulz", "DE", "Münster", "subscriber", 0, 0)
    assert stored_fans(database, workspace_id)[LENA] == ("Lena", "Fischer", "DE", "Berlin", "customer", 2445, 1)


def test_eventbrite_check_ins_without_a_time_are_reported_and_their_tickets_written(
    database: Database, now: datetime
) -> None:
    """Eventbrite Help, "Glossary of order and attendee statuses in event reports": the Attendee Summary has no
    check-in time, so without ``attended_at`` a Checked In row's gig cannot be dated: the row is reported (line and
    reason), its ticket is written."""
    workspace_id = eur_workspace(database, now)
    report = import_bytes(
        database, workspace_id, sample("eventbrite_attendees.csv"), now=now, options=ImportOptions(venue="Lido")
    )

    assert (report.orders_created, report.events_created, report.error_count) == (6, 0, 2)
    assert [(error.line, error.email) for error in report.errors] == [(2, LENA), (3, JONAS)]
    for error in report.errors:
        assert error.reason.startswith("checked in, but the file has no check-in time")
        assert "--attended-at" in error.reason
    assert {"eventbrite:16230945501", "eventbrite:16230945502"} <= set(stored_orders(database, workspace_id))
    assert stored_events(database, workspace_id, type="gig_attended") == []


def test_eventbrite_as_an_events_import_writes_only_the_check_ins(database: Database, now: datetime) -> None:
    """Eventbrite Help, "Glossary of order and attendee statuses in event reports": imported as events, the
    summary gives its Checked In rows as gig_attended (tickets are orders, not written by an events import)."""
    workspace_id = eur_workspace(database, now)
    report = import_bytes(
        database, workspace_id, sample("eventbrite_attendees.csv"), now=now, kind="events", options=LIDO
    )

    assert (report.kind, report.format) == ("events", "eventbrite")
    assert (report.orders_created, report.events_created, report.fans_created, report.error_count) == (0, 2, 2, 0)
    assert stored_orders(database, workspace_id) == {}
    assert stored_fans(database, workspace_id) == {
        LENA: ("Lena", "Fischer", "DE", "Berlin", "subscriber", 0, 0),
        JONAS: ("Jonas", "Weber", "DE", "Hamburg", "subscriber", 0, 0),
    }
    assert [row[4] for row in stored_events(database, workspace_id)] == [
        "eventbrite:checkin:16230945502",
        "eventbrite:checkin:16230945501",
    ]


@pytest.mark.parametrize(
    ("name", "options", "unchanged", "skipped", "errors"),
    [
        ("shopify_orders.csv", ImportOptions(), 9, 1, 0),
        ("bandcamp_sales.csv", ImportOptions(), 7, 1, 0),  # six sales and the refund row
        ("stripe_payments.csv", ImportOptions(), 5, 1, 0),
        ("eventbrite_attendees.csv", LIDO, 8, 0, 0),  # six tickets and two check-ins
        ("eventbrite_attendees.csv", ImportOptions(), 6, 0, 2),  # the check-ins are reported again
    ],
    ids=["shopify", "bandcamp", "stripe", "eventbrite", "eventbrite-without-time"],
)
def test_importing_a_sample_again_changes_nothing(
    database: Database,
    now: datetime,
    name: str,
    options: ImportOptions,
    unchanged: int,
    skipped: int,
    errors: int,
) -> None:
    """SOURCES.md for each vendor's document: the ids each export carries (Shopify Id, Bandcamp transaction id,
    Stripe charge id, Eventbrite Attendee #) make every row's external id, so the same file twice is one import."""
    workspace_id = eur_workspace(database, now)
    first = import_bytes(database, workspace_id, sample(name), now=now, options=options)
    before = workspace_rows(database, workspace_id)

    again = import_bytes(database, workspace_id, sample(name), now=now + timedelta(days=1), options=options)

    assert workspace_rows(database, workspace_id) == before
    assert counts(again) == {
        "rows": first.rows,
        "orders_created": 0,
        "orders_refunded": 0,
        "events_created": 0,
        "unchanged": unchanged,
        "skipped": skipped,
        "fans_created": 0,
        "error_count": errors,
    }
    assert again.errors == first.errors


def test_a_later_shopify_export_brings_its_refunds_in(database: Database, now: datetime) -> None:
    """Shopify Help Center, "Exporting orders": Refunded Amount is the order's refunds so far. A later export where
    #1046 is partially_refunded (8.40: the pin's 5.40, then 3.00 of the tee) and #1042 refunded refunds what was
    imported before, lowering the amounts that totals sum."""
    workspace_id = eur_workspace(database, now)
    import_bytes(database, workspace_id, sample("shopify_orders.csv"), now=now)
    later_export = rewrite_csv(
        sample("shopify_orders.csv"),
        {
            "11875374587983": {"Financial Status": "partially_refunded", "Refunded Amount": "8.40"},
            "11874650377535": {"Financial Status": "refunded", "Refunded Amount": "50.00"},
        },
        key="Id",
    )

    report = import_bytes(database, workspace_id, later_export, now=now + timedelta(days=1))

    assert (report.orders_created, report.orders_refunded, report.unchanged) == (0, 3, 6)
    stored = stored_orders(database, workspace_id)
    assert stored["shopify:11874650377535:1"] == (SAM, "merch", "refunded", 2944, 3200, "USD", "0.92", 3200)
    assert stored["shopify:11875374587983:1"] == (HARRIET, "merch", "completed", 810, 810, "EUR", "1", 0)
    assert stored["shopify:11875374587983:2"] == (HARRIET, "merch", "completed", 1950, 2250, "EUR", "1", 300)
    assert stored["shopify:11875374587983:3"] == (HARRIET, "merch", "refunded", 540, 540, "EUR", "1", 540)
    fans_now = stored_fans(database, workspace_id)
    assert fans_now[HARRIET][4:] == ("customer", 2760, 2)
    assert fans_now[SAM][4:] == ("customer", 0, 0)
    assert order_times(database, workspace_id)["shopify:11874650377535:1"][2] == now + timedelta(days=1)


# --- formats ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shopify_orders.csv", "shopify"),
        ("bandcamp_sales.csv", "bandcamp"),
        ("stripe_payments.csv", "stripe"),
        ("eventbrite_attendees.csv", "eventbrite"),
    ],
)
def test_the_format_is_told_by_the_header(database: Database, now: datetime, name: str, expected: str) -> None:
    """SOURCES.md: each vendor's header, verbatim; the preview reads it without writing."""
    workspace_id = eur_workspace(database, now)
    preview = sales_csv.preview_sales_csv(database, workspace_id, io.BytesIO(sample(name)), kind="orders")
    assert preview.format == expected
    assert preview.columns == sample(name).decode().splitlines()[0].split(",")
    assert workspace_rows(database, workspace_id) == {"orders": [], "events": [], "fans": []}


@pytest.mark.parametrize(
    ("name", "forced", "missing"),
    [
        ("shopify_orders.csv", "stripe", "'Amount', 'Amount Refunded', 'Customer Email', 'Status'"),
        (
            "stripe_payments.csv",
            "bandcamp",
            "'bandcamp transaction id', 'buyer email', 'item name', 'item type'",
        ),
        (
            "bandcamp_sales.csv",
            "shopify",
            "'Created at', 'Financial Status', 'Lineitem name', 'Lineitem price', 'Name'",
        ),
        (
            "shopify_orders.csv",
            "eventbrite",
            "'Attendee #', 'Attendee Status', 'Order #', 'Ticket Type', 'Total Paid'",
        ),
    ],
)
def test_forcing_the_wrong_vendor_is_refused_on_format(
    database: Database, now: datetime, name: str, forced: FormatChoice, missing: str
) -> None:
    """SOURCES.md headers: a file is read as the vendor chosen only if it has that vendor's columns."""
    workspace_id = eur_workspace(database, now)
    with pytest.raises(InvalidInput) as refused:
        import_bytes(database, workspace_id, sample(name), now=now, format_choice=forced)
    assert refused.value.field == "format"
    assert refused.value.message.endswith(f"its header lacks {missing}")
    assert workspace_rows(database, workspace_id) == {"orders": [], "events": [], "fans": []}


def test_a_vendor_that_holds_no_events_is_refused_for_an_events_import(database: Database, now: datetime) -> None:
    """Shopify Help Center, "Exporting orders": an orders export, nothing to import as events."""
    workspace_id = eur_workspace(database, now)
    with pytest.raises(InvalidInput) as refused:
        import_bytes(
            database, workspace_id, sample("shopify_orders.csv"), now=now, kind="events", format_choice="shopify"
        )
    assert (refused.value.field, refused.value.message) == ("format", "the Shopify orders export holds no events")


@pytest.mark.parametrize(
    ("kind", "header", "missing"),
    [
        ("orders", "mail,price,when", "columns amount, email, placed_at"),
        ("orders", "email,price,placed_at", "column amount"),
        ("events", "email,what,at", "columns occurred_at, type"),
    ],
)
def test_a_header_matching_no_format_names_the_missing_columns(
    database: Database, now: datetime, kind: ImportKind, header: str, missing: str
) -> None:
    """README.md, "Sales in: imports, webhooks, currencies" (generic orders and events): a header that is neither a
    vendor's nor ours says which of our required columns it lacks."""
    workspace_id = eur_workspace(database, now)
    with pytest.raises(InvalidInput) as refused:
        import_bytes(database, workspace_id, f"{header}\nx@example.com,1,2026\n".encode(), now=now, kind=kind)
    assert refused.value.field == "file"
    assert f"a fanbase {kind} file needs the {missing};" in refused.value.message


def test_a_utf16_bandcamp_report_imports_as_the_utf8_one(database: Database, now: datetime) -> None:
    """Bandcamp Help, "Reading your sales report" (SOURCES.md §2, Encoding): real downloads are UTF-16 with a BOM."""
    utf8 = eur_workspace(database, now)
    utf16 = eur_workspace(database, now)
    text = sample("bandcamp_sales.csv").decode("utf-8")
    data = text.encode("utf-16")
    assert data.startswith((b"\xff\xfe", b"\xfe\xff"))

    first = import_bytes(database, utf8, text.encode("utf-8"), now=now)
    second = import_bytes(database, utf16, data, now=now)

    assert counts(second) == counts(first)
    assert stored_orders(database, utf16) == stored_orders(database, utf8)
    assert stored_fans(database, utf16) == stored_fans(database, utf8)
    assert order_times(database, utf16) == order_times(database, utf8)
    assert stored_orders(database, utf16)["bandcamp:4190588104:1"][0] == HARRIET
    assert order_times(database, utf16)["bandcamp:4190588104:1"][0] == 'Night Tram 12" Vinyl LP'


# --- fanbase's own columns ---------------------------------------------------------------------------------------

GENERIC_ORDERS = (
    "email,amount,currency,category,product,status,placed_at,external_id,refunded_amount\n"
    'ada@example.com,12.50,USD,Music,"Night Tram\n(deluxe,\nsigned)",,2026-03-10T10:00:00+01:00,,\n'  # lines 2-4
    "bob@example.com,10.005,EUR,merch,Tee,,2026-03-10T10:00:00Z,,\n"  # line 5: three decimals
    "cy@example.com,10.00,EUR,merch,Tee,,2026-03-10T10:00:00,,\n"  # line 6: no zone
    "\n"  # line 7: blank, skipped
    "not-an-email,5.00,EUR,merch,Tee,,2026-03-10T10:00:00Z,,\n"  # line 8
    "dee@example.com,5.00,EUR,merch,Tee,lost,2026-03-10T10:00:00Z,,\n"  # line 9: unknown status
    "eve@example.com,5.00,EUR,merch,Tee,,2026-03-10T10:00:00Z,,6.00\n"  # line 10: refund over the amount
    "fay@example.com,20.00,gbp,ticket,Lido,paid,2026-03-11T21:30:00-02:00,shop-1,5.00\n"  # line 11
    "gus@example.com,8.00,,merch,Pin,refunded,2026-03-12T09:00:00Z,shop-2,\n"  # line 12
)


def test_generic_orders_csv_reports_bad_rows_by_physical_line(database: Database, now: datetime) -> None:
    """README.md, "Sales in: imports, webhooks, currencies" (generic orders): the header is line 1 and a quoted cell
    may span lines; an amount with more than two decimals and a time without a zone are refused, not guessed."""
    workspace_id = eur_workspace(database, now)
    report = import_bytes(database, workspace_id, GENERIC_ORDERS.encode(), now=now)

    assert report.format == "generic"
    assert (report.rows, report.orders_created, report.fans_created, report.error_count) == (8, 3, 3, 5)
    assert [(error.line, error.email, error.reason) for error in report.errors] == [
        (5, "bob@example.com", "amount: '10.005' is not an amount in cents (at most 2 decimals)"),
        (
            6,
            "cy@example.com",
            "placed_at: '2026-03-10T10:00:00' has no timezone; write it like 2026-03-01T14:00:00+01:00",
        ),
        (8, "not-an-email", report.errors[2].reason),
        (9, "dee@example.com", "status: 'lost' is not completed or refunded"),
        (10, "eve@example.com", "refunded_amount: is more than amount"),
    ]
    assert report.errors[2].reason.startswith("email: ")
    stored = stored_orders(database, workspace_id)
    derived = [external_id for external_id in stored if external_id.startswith("row:")]
    assert len(derived) == 1 and re.fullmatch(r"row:[0-9a-f]{24}", derived[0])
    assert stored == {
        derived[0]: ("ada@example.com", "music", "completed", 1125, 1250, "USD", "0.9", 0),
        # 15.00 left of 20.00 GBP, at 1.165; placed 2026-03-11T23:30Z
        "shop-1": ("fay@example.com", "ticket", "completed", 1748, 2000, "GBP", "1.165", 500),
        "shop-2": ("gus@example.com", "merch", "refunded", 800, 800, "EUR", "1", 800),
    }
    assert order_times(database, workspace_id)[derived[0]][0] == "Night Tram\n(deluxe,\nsigned)"
    before = workspace_rows(database, workspace_id)

    again = import_bytes(database, workspace_id, GENERIC_ORDERS.encode(), now=now + timedelta(days=1))

    assert (again.orders_created, again.unchanged, again.error_count) == (0, 3, 5)
    assert workspace_rows(database, workspace_id) == before  # the derived id is the same the second time


def test_generic_events_csv_reads_a_json_properties_column_and_property_columns(
    database: Database, now: datetime
) -> None:
    """README.md, "Sales in: imports, webhooks, currencies" (generic events): ``properties`` (a JSON object) and
    ``properties.<key>`` columns, the latter winning for the same key."""
    workspace_id = eur_workspace(database, now)
    data = (
        "email,type,occurred_at,properties,properties.venue,Properties.City,external_id\n"
        'ada@example.com,Gig_Attended,2026-03-20T21:00:00+01:00,"{""event_name"": ""Release show"", '
        '""venue"": ""(old)"", ""capacity"": 300}",Lido,Berlin,\n'
        "bob@example.com,gig_attended,2026-03-20T20:00:00Z,,SO36,,door-7\n"
        'cy@example.com,gig_attended,2026-03-20T20:00:00Z,"[1, 2]",,,\n'
        "dee@example.com,gig_attended,2026-03-20T20:00:00Z,{oops,,,\n"
    )

    report = import_bytes(database, workspace_id, data.encode(), now=now, kind="events")

    assert (report.kind, report.format) == ("events", "generic")
    assert (report.events_created, report.orders_created, report.fans_created) == (2, 0, 2)
    assert [(error.line, error.reason) for error in report.errors] == [
        (4, "properties: is not a JSON object"),
        (5, "properties: is not a JSON object"),
    ]
    rows = stored_events(database, workspace_id)
    assert [row[:4] for row in rows] == [
        (
            "ada@example.com",
            "gig_attended",
            {"event_name": "Release show", "venue": "Lido", "capacity": 300, "city": "Berlin"},
            at("2026-03-20 20:00"),
        ),
        ("bob@example.com", "gig_attended", {"venue": "SO36"}, at("2026-03-20 20:00")),
    ]
    assert rows[1][4] == "door-7"
    assert re.fullmatch(r"row:[0-9a-f]{24}", str(rows[0][4]))
    assert last_active(database, workspace_id, "ada@example.com") == at("2026-03-20 20:00")
    before = workspace_rows(database, workspace_id)

    again = import_bytes(database, workspace_id, data.encode(), now=now + timedelta(days=1), kind="events")

    assert (again.events_created, again.unchanged, again.error_count) == (0, 2, 2)
    assert workspace_rows(database, workspace_id) == before


# --- chunks, suppressions, rates -----------------------------------------------------------------------------

SHOPIFY_HEADER = sample("shopify_orders.csv").decode().splitlines()[0].split(",")


def generated_shopify_export(orders_count: int, *, newest_first: bool = False) -> tuple[bytes, dict[str, int]]:
    """A Shopify-format export of ``orders_count`` orders of 1 to 4 line items (order-level cells on the first row
    only, as Shopify writes them), and how many lines each order id has."""
    out = io.StringIO()
    writer = csv.DictWriter(out, SHOPIFY_HEADER, lineterminator="\n")
    writer.writeheader()
    lines: dict[str, int] = {}
    numbers = range(orders_count - 1, -1, -1) if newest_first else range(orders_count)
    for number in numbers:
        order_id = str(5_000_000 + number)
        status = ("paid", "partially_refunded", "paid", "refunded", "pending")[number % 5]
        created = (datetime(2026, 3, 1, 18, 0, tzinfo=UTC) + timedelta(hours=7 * number)).strftime(
            "%Y-%m-%d %H:%M:%S +0000"
        )
        count = 1 + number % 4
        if status != "pending":
            lines[order_id] = count
        for position in range(count):
            row = {
                "Name": f"#{3000 + number}",
                "Email": f"fan{number % 7}@example.com",
                "Created at": created,
                "Lineitem quantity": str(1 + position % 2),
                "Lineitem name": f"Item {position}",
                "Lineitem price": f"{7 + position}.25",
                "Lineitem discount": "0.00",
                "Vendor": "Marrow Lanes",
            }
            if position == 0:
                row |= {
                    "Financial Status": status,
                    "Currency": ("EUR", "USD", "GBP")[number % 3],
                    "Id": order_id,
                    "Billing Name": f"Fan Number{number % 7}",
                    "Refunded Amount": "3.10" if status == "partially_refunded" else "0.00",
                }
            writer.writerow(row)
    return out.getvalue().encode(), lines


def test_a_chunked_import_never_splits_an_order(database: Database, now: datetime) -> None:
    """sales_csv: written ``chunk_rows`` rows at a time, an order's rows (Shopify's line items, Shopify Help Center
    "Exporting orders") never straddle two chunks; so three-row chunks end as one chunk does."""
    data, lines = generated_shopify_export(17)
    chunked = eur_workspace(database, now)
    whole = eur_workspace(database, now)
    seen: list[int] = []

    report = sales_csv.import_sales_csv(
        database,
        chunked,
        io.BytesIO(data),
        kind="orders",
        now=now,
        chunk_rows=3,
        size=len(data),
        progress=lambda done, total: seen.append(done),
    )
    single = import_bytes(database, whole, data, now=now)

    # Progress past the file's size is writing: a report after each chunk written, one at the end.
    assert len([done for done in seen if done > len(data)]) >= 3
    assert counts(report) == counts(single)
    assert report.orders_created == sum(lines.values()) == 35
    stored = stored_orders(database, chunked)
    assert stored == stored_orders(database, whole)
    assert sorted(stored) == sorted(
        f"shopify:{order_id}:{position}" for order_id, count in lines.items() for position in range(1, count + 1)
    )
    assert stored_fans(database, chunked) == stored_fans(database, whole)
    total = sum(row[3] for row in stored.values() if row[2] == "completed")
    assert total == sum(row[5] for row in stored_fans(database, chunked).values())
    again = import_bytes(database, chunked, data, now=now, chunk_rows=3)
    assert (again.orders_created, again.unchanged) == (0, 35)


def test_a_chunked_import_dates_each_promotion_at_the_fans_first_purchase(database: Database, now: datetime) -> None:
    """services.lifecycle: a fan's first completed purchase makes them a customer, logged as lifecycle_changed;
    sales_partitions: each chunk holds every row of its fans. So a newest-first export (as Shopify lists orders) in
    three-row chunks dates each move at the fan's first purchase, as one chunk does."""
    data, _ = generated_shopify_export(17, newest_first=True)
    chunked = eur_workspace(database, now)
    whole = eur_workspace(database, now)
    import_bytes(database, chunked, data, now=now, chunk_rows=3)
    import_bytes(database, whole, data, now=now)
    assert stored_fans(database, chunked) == stored_fans(database, whole)
    with database.transaction(workspace_id=None, write=False) as connection:
        rows = connection.execute(
            select(fans.c.email, fans.c.first_purchase_at).where(fans.c.workspace_id == chunked)
        ).all()
    first_purchases = sorted((email, first) for email, first in rows if first is not None)
    promotions = stored_events(database, chunked, type="lifecycle_changed")
    assert [(email, occurred) for email, _, _, occurred, _ in promotions] == first_purchases
    assert promotions == stored_events(database, whole, type="lifecycle_changed")


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("shopify_orders.csv", ImportOptions()),
        ("bandcamp_sales.csv", ImportOptions()),
        ("stripe_payments.csv", ImportOptions()),
        ("eventbrite_attendees.csv", LIDO),
    ],
)
def test_every_sample_imports_the_same_in_two_row_chunks(
    database: Database, now: datetime, name: str, options: ImportOptions
) -> None:
    """sales_csv and sales_partitions: a file spread by fan into small chunks is written as one chunk writes it (a
    Bandcamp refund row still finds its sale; a fan's rows are written together)."""
    small = eur_workspace(database, now)
    whole = eur_workspace(database, now)
    chunked = import_bytes(database, small, sample(name), now=now, options=options, chunk_rows=2)
    single = import_bytes(database, whole, sample(name), now=now, options=options)
    assert counts(chunked) == counts(single)
    assert chunked.errors == single.errors
    assert stored_orders(database, small) == stored_orders(database, whole)
    assert order_times(database, small) == order_times(database, whole)
    assert stored_fans(database, small) == stored_fans(database, whole)
    assert stored_events(database, small) == stored_events(database, whole)


def test_rows_of_a_suppressed_email_are_reported_not_written(database: Database, now: datetime) -> None:
    """Stripe Support, "Exporting payment reports": Customer Email names the buyer; a suppressed address must not
    become a fan again, so its rows are reported and the others written."""
    workspace_id = eur_workspace(database, now)
    suppressions.add_suppression(database, workspace_id, "Sam.Okafor@example.org", now=now)

    report = import_bytes(database, workspace_id, sample("stripe_payments.csv"), now=now)

    assert (report.orders_created, report.fans_created, report.skipped) == (4, 4, 1)
    assert [(error.line, error.email, error.reason) for error in report.errors] == [
        (3, SAM, f"{SAM} is suppressed (the workspace suppressed it); lift the suppression to add them again")
    ]
    assert SAM not in stored_fans(database, workspace_id)
    assert "stripe:ch_3SxF0aHkT8mLr5Xa1Ub3Nc9R" not in stored_orders(database, workspace_id)


def test_a_row_without_a_rate_is_reported_and_written_once_the_rate_is_added(database: Database, now: datetime) -> None:
    """Stripe Support, "Exporting payment reports" (two USD charges): with no USD rate those rows are reported with
    the rate to add, the EUR ones written; after adding it, the same file writes just those rows."""
    workspace_id = eur_workspace(database, now, rates=RATES[2:])  # GBP only

    report = import_bytes(database, workspace_id, sample("stripe_payments.csv"), now=now)

    assert (report.orders_created, report.skipped, report.error_count) == (3, 1, 2)
    assert [(error.line, error.email, error.reason) for error in report.errors] == [
        (
            3,
            SAM,
            "no exchange rate from USD to EUR valid on 2026-03-04: add one valid from 2026-03-04 or earlier "
            "(PUT /api/v1/exchange-rates, or `fanbase rates set USD 2026-03-04 RATE`)",
        ),
        (
            5,
            PRIYA,
            "no exchange rate from USD to EUR valid on 2026-03-07: add one valid from 2026-03-07 or earlier "
            "(PUT /api/v1/exchange-rates, or `fanbase rates set USD 2026-03-07 RATE`)",
        ),
    ]
    assert set(stored_orders(database, workspace_id)) == {
        "stripe:ch_3SwQv2HkT8mLr5Xa0p1Yd7Ke",
        "stripe:ch_3SxjR8HkT8mLr5Xa0Kd4Wq2B",
        "stripe:ch_3SzC1pHkT8mLr5Xa1Zw9Hd3Q",
    }
    currencies.set_rates(
        database,
        workspace_id,
        [ExchangeRateIn(currency="USD", valid_from=date(2026, 3, 4), rate=Decimal("0.95"))],
        now=now,
    )

    again = import_bytes(database, workspace_id, sample("stripe_payments.csv"), now=now + timedelta(days=1))

    assert (again.orders_created, again.unchanged, again.error_count, again.fans_created) == (2, 3, 0, 2)
    stored = stored_orders(database, workspace_id)
    assert stored["stripe:ch_3SxF0aHkT8mLr5Xa1Ub3Nc9R"] == (SAM, "other", "completed", 5700, 6000, "USD", "0.95", 0)
    assert stored["stripe:ch_3SyA4cHkT8mLr5Xa1Fh6Lp0M"] == (
        PRIYA,
        "other",
        "completed",
        5225,
        7500,
        "USD",
        "0.95",
        2000,
    )


def test_a_bandcamp_refund_waits_for_the_sale_a_missing_rate_held_back(database: Database, now: datetime) -> None:
    """Bandcamp Help, "Reading your sales report": the refund row names no order. While USD has no rate the tee's
    sale is reported, and so is its refund (no earlier order of it); once the rate exists the same report writes the
    USD sales and refunds the tee."""
    workspace_id = eur_workspace(database, now, rates=RATES[2:])  # GBP only

    report = import_bytes(database, workspace_id, sample("bandcamp_sales.csv"), now=now)

    assert (report.orders_created, report.orders_refunded) == (3, 0)
    assert [(error.line, error.reason.split(":")[0]) for error in report.errors] == [
        (2, "no exchange rate from USD to EUR valid on 2026-03-01"),
        (5, "no exchange rate from USD to EUR valid on 2026-03-04"),
        (7, "refund of 'Tour Tee 2026'"),
        (8, "no exchange rate from USD to EUR valid on 2026-03-10"),
    ]
    assert report.errors[2].reason == "refund of 'Tour Tee 2026': no earlier order of it found"
    currencies.set_rates(database, workspace_id, RATES[:2], now=now)

    again = import_bytes(database, workspace_id, sample("bandcamp_sales.csv"), now=now)

    assert (again.orders_created, again.orders_refunded, again.unchanged, again.error_count) == (3, 1, 3, 0)
    assert stored_orders(database, workspace_id)["bandcamp:4190731566:1"][2:] == (
        "refunded",
        2300,
        2500,
        "USD",
        "0.92",
        2500,
    )


def test_the_legacy_stripe_export_header_is_read(database: Database, now: datetime) -> None:
    """Stripe Support, "Exporting payment reports" (SOURCES.md §3, other layouts): the export before about 2024
    says `Created (UTC)` and orders its columns otherwise; columns are matched by name."""
    workspace_id = eur_workspace(database, now)
    legacy = (
        "id,Description,Seller Message,Created (UTC),Amount,Amount Refunded,Currency,Converted Amount,"
        "Converted Amount Refunded,Fee,Tax,Converted Currency,Mode,Status,Statement Descriptor,Customer ID,"
        "Customer Description,Customer Email,Captured\n"
        "ch_1,Shop order,Payment complete.,2026-03-02 19:05,42.00,2.00,usd,38.64,1.84,0.88,0,eur,Live,Paid,X,,,"
        "Lena.Fischer@example.com,true\n"
    )

    report = import_bytes(database, workspace_id, legacy.encode(), now=now)

    assert (report.format, report.orders_created, report.error_count) == ("stripe", 1, 0)
    assert stored_orders(database, workspace_id) == {
        "stripe:ch_1": (LENA, "other", "completed", 3680, 4200, "USD", "0.92", 200)
    }
    assert order_times(database, workspace_id)["stripe:ch_1"] == ("Shop order", at("2026-03-02 19:05"), None)


def test_a_preview_converts_at_the_rates_and_names_a_missing_one(database: Database, now: datetime) -> None:
    """Stripe Support, "Exporting payment reports": the preview shows each row as it would be written (its amount in
    the workspace currency, or the rate it lacks) and writes nothing."""
    workspace_id = eur_workspace(database, now, rates=RATES[:1])  # USD at 0.92 only

    preview = sales_csv.preview_sales_csv(
        database, workspace_id, io.BytesIO(sample("bandcamp_sales.csv")), kind="orders", rows=3
    )

    assert preview.format == "bandcamp"
    assert [(row.line, row.record) for row in preview.rows] == [(2, "order"), (3, "order"), (4, "order")]
    assert preview.rows[0].values["amount_in_EUR"] == "9.20"
    assert preview.rows[0].values["exchange_rate"] == "0.92"
    assert preview.rows[1].values["problem"].startswith("no exchange rate from GBP to EUR valid on 2026-03-02")
    assert workspace_rows(database, workspace_id) == {"orders": [], "events": [], "fans": []}


# --- defects found ---------------------------------------------------------------------------------------------


def test_a_decimal_comma_is_not_read_as_a_hundred_times_the_amount(database: Database, now: datetime) -> None:
    """sales_csv: the delimiter is sniffed among comma, semicolon and tab; sales_formats.cents: commas separate
    thousands ("1,234.50") and an amount is refused rather than guessed. '10,50' is neither a thousands grouping
    nor two decimals with a point: it must be refused (or read as 10.50), never stored as 1,050.00."""
    workspace_id = eur_workspace(database, now)
    data = "email;amount;category;placed_at\nada@example.com;10,50;merch;2026-03-01T10:00:00+01:00\n"

    report = import_bytes(database, workspace_id, data.encode(), now=now)

    amounts = [row[4] for row in stored_orders(database, workspace_id).values()]
    refused = report.error_count == 1 and report.errors[0].reason.startswith("amount:")
    assert refused or amounts == [1050]


@pytest.mark.parametrize(
    "chosen",
    [pytest.param(chosen) for chosen in FORMATS],
    ids=lambda chosen: f"{chosen.name}-{'-'.join(sorted(chosen.kinds))}",
)
def test_each_format_cites_a_document_that_exists(chosen: Format) -> None:
    """sales_formats.Format.document: the published column documentation the table follows. A vendor's is its web
    page (as SOURCES.md cites it); fanbase's own is a section of README.md, which must be there to be read."""
    if chosen.document.startswith("https://"):
        assert chosen.document in (SAMPLES / "SOURCES.md").read_text()
        return
    match = re.fullmatch(r"README\.md, '(.+)'", chosen.document)
    assert match, chosen.document
    headings = [line.lstrip("#").strip() for line in README.read_text().splitlines() if line.startswith("#")]
    assert match.group(1) in headings
