"""Sales import: how fast a CSV of orders goes in with the 50 bench segments live, and whether memory stays flat.

Target (issue 17): 1,000,000 order rows by CSV at 20,000 rows a second or more, on PostgreSQL and SQLite, with 50
live segments, memory flat (the file is streamed).

The file is fanbase's generic orders CSV (email, amount, currency, category, product, status, placed_at,
external_id), sorted by time as exports are, over a pool of one email for every ``ORDERS_PER_FAN`` rows (so the
import creates its fans as it goes), 30 % of rows in EUR or GBP (converted at the workspace's rates) and 4 %
refunded. The workspace is new, with every tag and list the segments name and all 50 segments created (empty)
before the import: each chunk re-evaluates the fans it touched, in its own transaction.

Baselines, measured in the same run on the same file:
- ``parse``: the CSV module alone reading the file (what Python's parsing costs);
- ``insert``: the same rows inserted as orders of an existing fan set into a scratch workspace by the bulk
  repository (COPY on PostgreSQL), with no figures, no conversion and no segments: the database's own write cost.

After the import the 50 segments' stored members are checked against their hand-written SQL (``bench.measure
.check``), and the same file is imported again: it must change nothing. Then a second file of as many new orders by
the same fans goes in (an import into a known audience), and the segments are checked again.

    python -m bench.sales_import [--rows 1000000] [--backend both] [--chunk 5000]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import resource
import sys
import time
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy import select

from bench.generate import CUSTOM_FIELDS
from bench.measure import check
from bench.run import OUT
from bench.run import machine
from bench.run import throwaway_database
from bench.segments import SEGMENTS
from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.db.repositories import bulk as bulk_repo
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.tables import events
from fanbase.db.tables import fan_latest_events
from fanbase.db.tables import fans
from fanbase.db.tables import orders
from fanbase.db.tables import segment_members
from fanbase.db.tables import segment_membership_log
from fanbase.schemas.currencies import ExchangeRateIn
from fanbase.schemas.custom_fields import CustomFieldIn
from fanbase.schemas.lists import ListIn
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.tags import TagIn
from fanbase.services import currencies
from fanbase.services import custom_fields
from fanbase.services import lists as lists_service
from fanbase.services import sales_csv
from fanbase.services import segments as segments_service
from fanbase.services import tags as tags_service
from fanbase.services import workspaces

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 730
ORDERS_PER_FAN = 5
CATEGORIES = ("merch", "ticket", "music", "course", "membership")
CURRENCIES = (("USD", 70), ("EUR", 20), ("GBP", 10))
RATES = {"EUR": Decimal("1.0825"), "GBP": Decimal("1.2675")}
DOMAINS = ("gmail.com", "gmail.com", "yahoo.com", "outlook.com", "proton.me")
HEADER = ("email", "amount", "currency", "category", "product", "status", "placed_at", "external_id")


def rss_mb() -> float:
    """This process's resident memory now (from /proc; the peak would hide a flat line)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_file(path: Path, rows: int, *, seed: int = 17, ids_from: int = 0) -> None:
    """The bench's orders CSV, sorted by time, streamed to disk; external ids from ``ids_from``."""
    rnd = random.Random(seed)
    emails = max(1, rows // ORDERS_PER_FAN)
    start = NOW - timedelta(days=HISTORY_DAYS)
    step = timedelta(days=HISTORY_DAYS) / rows
    weights = [weight for _, weight in CURRENCIES]
    names = [name for name, _ in CURRENCIES]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index in range(rows):
            person = rnd.randrange(emails)
            category = rnd.choice(CATEGORIES)
            writer.writerow(
                (
                    f"fan{person}@{DOMAINS[person % len(DOMAINS)]}",
                    f"{rnd.randint(100, 30000) / 100:.2f}",
                    rnd.choices(names, weights)[0],
                    category,
                    f"{category} item {rnd.randrange(40)}",
                    "refunded" if rnd.random() < 0.04 else "completed",
                    (start + step * index).isoformat(),
                    f"shop-{ids_from + index:09d}",
                )
            )


def parse_rate(path: Path) -> float:
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as handle:
        count = sum(1 for _ in csv.reader(handle)) - 1
    return count / (time.perf_counter() - started)


def insert_rate(database: Database, path: Path, rows: int) -> float:
    """Baseline: the same rows inserted as plain orders (no fans resolved by email, no figures, no segments)."""
    created = workspaces.create_workspace(database, name="Insert baseline", currency="USD", now=NOW)
    workspace_id = created.workspace.id
    emails = max(1, rows // ORDERS_PER_FAN)
    with database.transaction(workspace_id=workspace_id) as connection:
        fan_ids = fans_repo.insert_fans(
            connection,
            workspace_id,
            [{"email": f"base{index}@example.com", "created_at": NOW, "updated_at": NOW} for index in range(emails)],
        )
    elapsed = 0.0
    batch: list[dict[str, Any]] = []

    def flush() -> float:
        began = time.perf_counter()
        with database.transaction(workspace_id=workspace_id) as connection:
            bulk_repo.insert_orders(connection, workspace_id, batch)
        return time.perf_counter() - began

    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for index, row in enumerate(reader):
            cents = int(Decimal(row[1]) * 100)
            batch.append(
                {
                    "fan_id": fan_ids[index % len(fan_ids)],
                    "amount_cents": cents,
                    "currency": "USD",
                    "original_amount_cents": cents,
                    "original_currency": row[2],
                    "exchange_rate": "1",
                    "original_refunded_cents": 0,
                    "category": row[3],
                    "product": row[4],
                    "status": row[5],
                    "placed_at": datetime.fromisoformat(row[6]),
                    "external_id": "b" + row[7],
                    "created_at": NOW,
                }
            )
            if len(batch) == 10_000:
                elapsed += flush()
                batch = []
    if batch:
        elapsed += flush()
    return rows / elapsed


def _labels() -> tuple[set[str], set[str]]:
    tags: set[str] = set()
    lists: set[str] = set()
    for segment in SEGMENTS:
        tags.update(re.findall(r'tag "([^"]+)"', segment.rule_text))
        lists.update(re.findall(r'list "([^"]+)"', segment.rule_text))
    return tags, lists


def prepare(database: Database) -> int:
    """A new workspace with the rates, the custom fields, tags and lists the segments name, and all 50 segments
    (empty)."""
    created = workspaces.create_workspace(database, name="Sales import", currency="USD", now=NOW)
    workspace_id = created.workspace.id
    currencies.set_rates(
        database,
        workspace_id,
        [ExchangeRateIn(currency=code, valid_from=date(2020, 1, 1), rate=rate) for code, rate in RATES.items()],
        now=NOW,
    )
    for name, kind, choices in CUSTOM_FIELDS:
        custom_fields.create_custom_field(
            database,
            workspace_id,
            CustomFieldIn(name=name, type=kind, choices=choices),
            now=NOW,  # type: ignore[arg-type]
        )
    tags, lists = _labels()
    for name in sorted(tags):
        tags_service.create_tag(database, workspace_id, TagIn(name=name), now=NOW)
    for name in sorted(lists):
        lists_service.create_list(database, workspace_id, ListIn(name=name), now=NOW)
    for segment in SEGMENTS:
        segments_service.create_segment(
            database, workspace_id, SegmentIn(name=segment.name, rule_text=segment.rule_text), now=NOW
        )
    return workspace_id


def _counts(database: Database, workspace_id: int) -> dict[str, int]:
    with database.engine.connect() as connection:
        return {
            table.name: int(
                connection.execute(
                    select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)
                ).scalar_one()
            )
            for table in (fans, orders, events, segment_members, segment_membership_log, fan_latest_events)
        }


def run(backend: str, *, rows: int, chunk: int, path: Path, more: Path) -> dict[str, Any]:
    with throwaway_database(backend) as database:
        upgrade(database.engine)
        workspace_id = prepare(database)
        memory: list[tuple[float, float]] = []
        size = path.stat().st_size

        def progress(done: int, total: int) -> None:
            memory.append((done / total, rss_mb()))

        rss_before = rss_mb()
        started = time.perf_counter()
        with path.open("rb") as stream:
            report = sales_csv.import_sales_csv(
                database, workspace_id, stream, kind="orders", now=NOW, size=size, progress=progress, chunk_rows=chunk
            )
        seconds = time.perf_counter() - started
        counts = _counts(database, workspace_id)
        checked = check(database, workspace_id, SEGMENTS, now=NOW)
        started = time.perf_counter()
        with path.open("rb") as stream:
            again = sales_csv.import_sales_csv(database, workspace_id, stream, kind="orders", now=NOW, chunk_rows=chunk)
        again_seconds = time.perf_counter() - started
        unchanged = _counts(database, workspace_id) == counts and again.orders_created == 0
        # A second file of as many new orders by the same fans: what an import into a known audience costs.
        started = time.perf_counter()
        with more.open("rb") as stream:
            known = sales_csv.import_sales_csv(database, workspace_id, stream, kind="orders", now=NOW, chunk_rows=chunk)
        known_seconds = time.perf_counter() - started
        known_counts = _counts(database, workspace_id)
        known_checked = check(database, workspace_id, SEGMENTS, now=NOW)
        baseline_insert = insert_rate(database, path, rows)
    shares = (0.1, 0.5, 1.0)
    samples = {f"{int(share * 100)}%": next((mb for at, mb in memory if at >= share), None) for share in shares}
    return {
        "backend": backend,
        "rows": rows,
        "chunk_rows": chunk,
        "seconds": seconds,
        "rows_per_second": rows / seconds,
        "report": report.model_dump(exclude={"errors"}),
        "counts": counts,
        "rss_mb_before": rss_before,
        "rss_mb_during": samples,
        "rss_mb_max_during": max((mb for _, mb in memory), default=None),
        "segments_checked": checked,
        "reimport_seconds": again_seconds,
        "reimport_rows_per_second": rows / again_seconds,
        "reimport_changed_nothing": unchanged,
        "known_fans_rows_per_second": rows / known_seconds,
        "known_fans_report": known.model_dump(exclude={"errors"}),
        "known_fans_rows_written": sum(known_counts.values()) - sum(counts.values()),
        "known_fans_segments_checked": known_checked,
        "baseline_insert_rows_per_second": baseline_insert,
        "import_vs_insert": (rows / seconds) / baseline_insert,
        # Every row the import wrote (orders, fans, members, ledger, events and their latest times) a second,
        # against the plain insert of orders: how near the database's own write rate the import runs.
        "rows_written": sum(counts.values()),
        "rows_written_per_second": sum(counts.values()) / seconds,
        "written_vs_insert": sum(counts.values()) / seconds / baseline_insert,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--chunk", type=int, default=sales_csv.CHUNK_ROWS)
    options = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"sales_orders_{options.rows}.csv"
    more = OUT / f"sales_orders_{options.rows}_more.csv"
    for file, seed in ((path, 17), (more, 18)):
        if not file.exists():
            started = time.perf_counter()
            write_file(file, options.rows, seed=seed, ids_from=options.rows if file is more else 0)
            print(f"wrote {file} ({file.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    results: dict[str, Any] = {"machine": machine(), "rows": options.rows, "parse_rows_per_second": parse_rate(path)}
    print(f"baseline parse: {results['parse_rows_per_second']:,.0f} rows/s")
    backends = ("sqlite", "postgresql") if options.backend == "both" else (options.backend,)
    for backend in backends:
        figures = run(backend, rows=options.rows, chunk=options.chunk, path=path, more=more)
        results[backend] = figures
        print(
            f"{backend}: {figures['rows_per_second']:,.0f} rows/s ({figures['seconds']:.1f} s; "
            f"baseline insert {figures['baseline_insert_rows_per_second']:,.0f} rows/s, "
            f"ratio {figures['import_vs_insert']:.2f}; {figures['rows_written']:,} rows written, "
            f"{figures['rows_written_per_second']:,.0f}/s, ratio {figures['written_vs_insert']:.2f}); "
            f"RSS {figures['rss_mb_before']:.0f} MB before, "
            f"{figures['rss_mb_during']} during; segments mismatched: {figures['segments_checked']['mismatched']}; "
            f"re-import {figures['reimport_rows_per_second']:,.0f} rows/s, changed nothing: "
            f"{figures['reimport_changed_nothing']}; a second file by the same fans "
            f"{figures['known_fans_rows_per_second']:,.0f} rows/s "
            f"({figures['known_fans_rows_written']:,} rows written, "
            f"segments mismatched: {figures['known_fans_segments_checked']['mismatched']})"
        )
        print(json.dumps(figures["report"]))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (OUT / f"sales_import_{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
