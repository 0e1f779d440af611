"""`fanbase import orders|events FILE` (fanbase's columns or a vendor's export) and `fanbase rates …`, run as a
user would: summary on stdout, rejected rows on stderr and exit code 1, usage mistakes exit code 2 naming the
option or field (README, "The command line"). Each vendor sample is described in tests/data/imports/SOURCES.md."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fanbase.cli.main import app
from tests_support import workspace_environment

runner = CliRunner()
SAMPLES = Path(__file__).parent.parent / "data" / "imports"
LIDO = ["--attended-at", "2026-02-20T21:00:00+01:00", "--venue", "Lido", "--city", "Berlin"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """A migrated database with a new EUR workspace, selected through FANBASE_WORKSPACE."""
    return workspace_environment(request, tmp_path, create=("--currency", "EUR"))


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def set_rates(env: dict[str, str]) -> None:
    for currency, valid_from, rate in (("USD", "2026-01-01", "0.92"), ("USD", "2026-03-08", "0.90")):
        assert invoke(env, "rates", "set", currency, valid_from, rate)[:2] == (0, "created\n")
    assert invoke(env, "rates", "set", "GBP", "2026-01-01", "1.165")[:2] == (0, "created\n")


def summary(
    rows: int,
    name: str,
    orders: int,
    events: int,
    refunded: int,
    unchanged: int,
    skipped: int,
    *,
    rejected: int = 0,
    fans: int,
) -> str:
    return (
        f"{rows} rows ({name}): {orders} orders and {events} events created, {refunded} orders refunded, "
        f"{unchanged} unchanged, {skipped} skipped (not purchases), {rejected} rejected; {fans} new fans.\n"
    )


@pytest.mark.parametrize(
    ("name", "options", "first", "again"),
    [
        # Shopify Help Center, "Exporting orders": #1045 is pending (skipped).
        (
            "shopify_orders.csv",
            [],
            summary(10, "shopify", 9, 0, 0, 0, 1, fans=5),
            summary(10, "shopify", 0, 0, 0, 9, 1, fans=0),
        ),
        # Bandcamp Help, "Reading your sales report": the refund row refunds the tee, the payout is skipped.
        (
            "bandcamp_sales.csv",
            [],
            summary(8, "bandcamp", 6, 0, 1, 0, 1, fans=5),
            summary(8, "bandcamp", 0, 0, 0, 7, 1, fans=0),
        ),
        # Stripe Support, "Exporting payment reports": the Failed charge is skipped.
        (
            "stripe_payments.csv",
            [],
            summary(6, "stripe", 5, 0, 0, 0, 1, fans=5),
            summary(6, "stripe", 0, 0, 0, 5, 1, fans=0),
        ),
        # Eventbrite Help, "Glossary of order and attendee statuses": two Checked In attendees attended.
        (
            "eventbrite_attendees.csv",
            LIDO,
            summary(6, "eventbrite", 6, 2, 0, 0, 0, fans=6),
            summary(6, "eventbrite", 0, 0, 0, 8, 0, fans=0),
        ),
    ],
    ids=["shopify", "bandcamp", "stripe", "eventbrite"],
)
def test_each_vendor_sample_imports_with_a_summary_line(
    env: dict[str, str], name: str, options: list[str], first: str, again: str
) -> None:
    set_rates(env)
    code, out, err = invoke(env, "import", "orders", str(SAMPLES / name), *options)
    assert (code, out, err) == (0, first, "")

    code, out, err = invoke(env, "import", "orders", str(SAMPLES / name), *options)
    assert (code, out, err) == (0, again, "")

    code, out, _ = invoke(env, "import", "orders", str(SAMPLES / name), *options, "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["format"], report["orders_created"], report["errors"]) == (name.split("_")[0], 0, [])


def test_imported_orders_show_in_the_fans_figures(env: dict[str, str]) -> None:
    """Shopify Help Center, "Exporting orders": Lena's two lines (28.00 + 25.00 EUR), Sam's 32.00 USD at 0.92."""
    set_rates(env)
    assert invoke(env, "import", "orders", str(SAMPLES / "shopify_orders.csv"))[0] == 0
    code, out, _ = invoke(env, "export", "fans", "--json")
    assert code == 0
    exported = {fan["email"]: fan for fan in map(json.loads, out.splitlines())}
    assert {email: (fan["total_spent"], fan["lifecycle_stage"]) for email, fan in exported.items()} == {
        "lena.fischer@example.com": ("53.00", "customer"),
        "sam.okafor@example.org": ("29.44", "customer"),
        "jonas.weber@example.com": ("28.00", "customer"),
        "mia.schulz@example.com": ("0.00", "subscriber"),
        "harriet.cole@example.org": ("36.00", "customer"),
    }


def test_a_dry_run_prints_the_format_and_rows_and_writes_nothing(env: dict[str, str]) -> None:
    """Shopify Help Center, "Exporting orders": the rows as they would be written, converted at the rates."""
    set_rates(env)
    code, out, err = invoke(env, "import", "orders", str(SAMPLES / "shopify_orders.csv"), "--dry-run")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("format: shopify; columns read: Name, Email, Financial Status, Currency, Created at")
    assert lines[3] == (
        "line 4 order: email=sam.okafor@example.org, first_name=Sam, last_name=Okafor, "
        "external_id=shopify:11874650377535:1, amount=32.00, currency=USD, category=merch, "
        "product=Night Tram - Vinyl LP, placed_at=2026-03-04T01:51:09+00:00, status=completed, "
        "refunded_amount=0.00, amount_in_EUR=29.44, exchange_rate=0.92"
    )
    assert [line.split(" ", 2)[1] for line in lines[1:]] == ["2", "3", "4", "5", "6", "7", "9", "10", "11"]

    code, out, _ = invoke(env, "import", "orders", str(SAMPLES / "shopify_orders.csv"))
    assert (code, out) == (0, summary(10, "shopify", 9, 0, 0, 0, 1, fans=5))  # nothing was there yet


def test_a_dry_run_names_a_missing_rate(env: dict[str, str]) -> None:
    """Bandcamp Help, "Reading your sales report": per-row currency; with no GBP rate a GBP row shows the problem."""
    assert invoke(env, "rates", "set", "USD", "2026-01-01", "0.92")[0] == 0
    code, out, _ = invoke(env, "import", "orders", str(SAMPLES / "bandcamp_sales.csv"), "--dry-run")
    assert code == 0
    line_3 = next(line for line in out.splitlines() if line.startswith("line 3 "))
    assert "currency=GBP" in line_3
    assert line_3.endswith(
        "problem=no exchange rate from GBP to EUR valid on 2026-03-02: add one valid from 2026-03-02 or earlier "
        "(PUT /api/v1/exchange-rates, or `fanbase rates set GBP 2026-03-02 RATE`)"
    )
    assert "line 7 refund: email=dana.whitfield@example.com" in out


GENERIC = (
    "email,amount,currency,category,placed_at\n"
    "ada@example.com,12.50,EUR,merch,2026-03-01T10:00:00+01:00\n"
    "bob@example.com,1.005,EUR,merch,2026-03-01T10:00:00+01:00\n"
    "cy@example.com,3.00,EUR,merch,2026-03-01T10:00:00\n"
)
REJECTED = [
    ("3", "bob@example.com", "amount: '1.005' is not an amount in cents (at most 2 decimals)"),
    (
        "4",
        "cy@example.com",
        "placed_at: '2026-03-01T10:00:00' has no timezone; write it like 2026-03-01T14:00:00+01:00",
    ),
]


def test_rejected_rows_exit_1_with_their_lines_on_stderr(env: dict[str, str], tmp_path: Path) -> None:
    """README, "The command line": an import in which any row was rejected exits 1, the valid rows imported."""
    source = tmp_path / "orders.csv"
    source.write_text(GENERIC)
    code, out, err = invoke(env, "import", "orders", str(source))
    assert code == 1
    assert out == summary(3, "generic", 1, 0, 0, 0, 0, rejected=2, fans=1)
    assert err.splitlines() == [
        *(f"line {line}: {reason}" for line, _, reason in REJECTED),
        "error: 2 of 3 rows were rejected (the valid rows were imported)",
    ]

    report = tmp_path / "errors.csv"
    code, out, err = invoke(env, "import", "orders", str(source), "--errors", str(report))
    assert code == 1
    assert out == summary(3, "generic", 0, 0, 0, 1, 0, rejected=2, fans=0)
    assert err == "error: 2 of 3 rows were rejected (the valid rows were imported)\n"
    rows = list(csv.reader(io.StringIO(report.read_text())))
    assert rows == [["line", "email", "reason"], *(list(row) for row in REJECTED)]


def test_check_ins_without_a_time_are_rejected_and_their_tickets_imported(env: dict[str, str]) -> None:
    """Eventbrite Help, "Glossary of order and attendee statuses": the Attendee Summary has no check-in time."""
    code, out, err = invoke(env, "import", "orders", str(SAMPLES / "eventbrite_attendees.csv"), "--venue", "Lido")
    assert code == 1
    assert out == summary(6, "eventbrite", 6, 0, 0, 0, 0, rejected=2, fans=6)
    assert [line.split(":")[0] for line in err.splitlines()] == ["line 2", "line 3", "error"]
    assert "line 2: checked in, but the file has no check-in time" in err and "--attended-at" in err


def test_events_import_from_fanbase_columns(env: dict[str, str], tmp_path: Path) -> None:
    """README, "Sales in: imports, webhooks, currencies" (generic events): email, type, occurred_at,
    properties.<key>."""
    source = tmp_path / "events.csv"
    source.write_text(
        "email,type,occurred_at,properties.venue\n"
        "ada@example.com,gig_attended,2026-03-20T21:00:00+01:00,Lido\n"
        "bob@example.com,gig_attended,2026-03-20T21:00:00+01:00,SO36\n"
    )
    code, out, err = invoke(env, "import", "events", str(source))
    assert (code, out, err) == (0, summary(2, "generic", 0, 2, 0, 0, 0, fans=2), "")
    code, out, _ = invoke(env, "import", "events", str(source))
    assert (code, out) == (0, summary(2, "generic", 0, 0, 0, 2, 0, fans=0))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "bogus"], "error: --format: must be one of auto, generic, shopify, bandcamp, stripe, eventbrite"),
        (
            ["--format", "stripe"],
            "error: format: this file is not in the Stripe payments export format: its header lacks 'Amount', "
            "'Amount Refunded', 'Customer Email', 'Status'",
        ),
        (["--attended-at", "2026-02-20T21:00:00"], "error: --attended-at: must include a timezone"),
    ],
)
def test_usage_mistakes_exit_2_naming_the_option(env: dict[str, str], args: list[str], message: str) -> None:
    """README, "The command line": exit code 2 for a mistake in the command line or its input."""
    code, out, err = invoke(env, "import", "orders", str(SAMPLES / "shopify_orders.csv"), *args)
    assert (code, out) == (2, "")
    assert err.startswith(message)
    code, out, _ = invoke(env, "export", "fans")
    assert (code, out.count("\n")) == (0, 1)  # the header: nothing was imported


def test_rates_set_list_import_delete(env: dict[str, str], tmp_path: Path) -> None:
    """services.currencies: add or replace a rate per currency and day; a CSV of rates; deleting one."""
    assert invoke(env, "rates", "set", "usd", "2026-01-01", "0.92")[:2] == (0, "created\n")
    assert invoke(env, "rates", "set", "USD", "2026-03-08", "0.90")[:2] == (0, "created\n")
    assert invoke(env, "rates", "set", "USD", "2026-03-08", "0.9")[:2] == (0, "unchanged\n")
    assert invoke(env, "rates", "set", "USD", "2026-03-08", "0.91")[:2] == (0, "updated\n")
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,valid_from,rate\nGBP,2026-01-01,1.165\nGBP,2026-02-15,1.18\nUSD,2026-01-01,0.92\n")
    assert invoke(env, "rates", "import", str(rates))[:2] == (0, "2 created, 0 updated, 1 unchanged.\n")

    code, out, _ = invoke(env, "rates", "list")
    assert code == 0
    listed = [line.split() for line in out.splitlines()]
    assert [row[1:] for row in listed] == [
        ["GBP", "2026-02-15", "1.18"],
        ["GBP", "2026-01-01", "1.165"],
        ["USD", "2026-03-08", "0.91"],
        ["USD", "2026-01-01", "0.92"],
    ]
    code, out, _ = invoke(env, "rates", "list", "--currency", "usd", "--json")
    assert code == 0
    assert [(rate["valid_from"], rate["rate"]) for rate in json.loads(out)] == [
        ("2026-03-08", "0.91"),
        ("2026-01-01", "0.92"),
    ]

    gbp_later = listed[0][0]
    assert invoke(env, "rates", "delete", gbp_later)[:2] == (0, "deleted\n")
    code, out, _ = invoke(env, "rates", "list", "--currency", "GBP")
    assert (code, [line.split()[1:] for line in out.splitlines()]) == (0, [["GBP", "2026-01-01", "1.165"]])
    code, _, err = invoke(env, "rates", "delete", gbp_later)
    assert (code, err) == (1, f"error: exchange rate {gbp_later} not found\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "USD", "2026-01-01", "0"], "error: rate: must be a positive number\n"),
        (["set", "EURO", "2026-01-01", "1"], "error: currency: must be a three-letter ISO 4217 code, e.g. EUR\n"),
        (
            ["set", "EUR", "2026-01-01", "1"],
            "error: rates[0]: EUR is this workspace's own currency: it needs no rate\n",
        ),
    ],
)
def test_a_bad_rate_exits_2_naming_the_field(env: dict[str, str], args: list[str], message: str) -> None:
    """README, "The command line": a bad value exits 2; nothing is written."""
    code, out, err = invoke(env, "rates", *args)
    assert (code, out, err) == (2, "", message)
    assert invoke(env, "rates", "list")[:2] == (0, "")


def test_a_bad_rates_file_is_refused_whole_naming_its_lines(env: dict[str, str], tmp_path: Path) -> None:
    """services.currencies.rates_from_csv: all or nothing, every bad line named."""
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,valid_from,rate\nUSD,2026-01-01,0.92\nGBP,2026-01-01,-1\nJPY,2026-01-01,0\n")
    code, out, err = invoke(env, "rates", "import", str(rates))
    assert (code, out) == (2, "")
    assert err == "error: file: line 3: rate: must be a positive number; line 4: rate: must be a positive number\n"
    assert invoke(env, "rates", "list")[:2] == (0, "")


@pytest.mark.parametrize(
    ("args", "field"),
    [(["USD", "2026-01-01", "abc"], "rate"), (["USD", "2026-13-01", "0.9"], "valid_from")],
    ids=["rate", "valid_from"],
)
def test_an_unreadable_rate_or_day_exits_2_naming_the_field(env: dict[str, str], args: list[str], field: str) -> None:
    """README, "The command line": exit code 2 for "a bad value"; errors are one line naming what is wrong."""
    code, _, err = invoke(env, "rates", "set", *args)
    assert code == 2
    assert err.startswith(f"error: {field}: ")
    assert "<class" not in err
