"""``python -m bench.run --fans N [--backend postgresql|sqlite|both] [--keep] [--reuse-database URL]``

Per backend: a throwaway database (PostgreSQL ``fanbase_bench_<random>`` on the local server; SQLite file under
``bench/out/``), generate + load, check the derived figures against a recompute, then the baseline queries
(hand-written SQL), each timed over ``--runs`` runs, then the segment phases. Prints a table and writes JSON to
``bench/out/``. With ``--reuse-database``, the database a previous ``--keep`` run left behind is used instead of a
new one (no generation, no load; its backend is the URL's), and it is never dropped.
Benchmarks print figures; they never assert on time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from contextlib import contextmanager
from contextlib import nullcontext
from dataclasses import asdict
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy import make_url
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bench.baselines import BASELINES
from bench.generate import NOW
from bench.load import IndexStrategy
from bench.load import LoadReport
from bench.load import ReuseError
from bench.load import ReuseReport
from bench.load import load
from bench.load import reuse
from bench.load import vacuum
from bench.load import verify_derived_figures
from bench.measure import ALL_PHASES
from bench.measure import SQLITE_PHASES
from bench.measure import run_segment_phases
from bench.segments import NAIVE_SEGMENTS
from bench.segments import SEGMENTS
from bench.stats import measure
from fanbase.db.engine import Database

OUT = Path(__file__).parent / "out"
POSTGRES_SERVER = os.environ.get("FANBASE_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def throwaway_database(
    backend: str, *, keep: bool = False, directory: Path = OUT, server: str = POSTGRES_SERVER
) -> Iterator[Database]:
    """A new, empty database named ``fanbase_bench_<random>``; dropped (or deleted) afterwards unless ``keep``."""
    name = f"fanbase_bench_{uuid.uuid4().hex[:10]}"
    if backend == "postgresql":
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception:
            admin.dispose()
            raise
        database = Database.from_url(server.rsplit("/", 1)[0] + f"/{name}")
        try:
            yield database
        finally:
            database.dispose()
            if keep:
                print(f"kept PostgreSQL database {name}", file=sys.stderr)
            else:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.sqlite3"
    database = Database.from_url(f"sqlite:///{path}")
    try:
        yield database
    finally:
        database.dispose()
        if keep:
            print(f"kept SQLite database {path}", file=sys.stderr)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def reused_database(url: str) -> Iterator[Database]:
    """A database a previous ``--keep`` run left behind, opened as it is; never dropped, whatever happens."""
    database = Database.from_url(url)
    try:
        yield database
    finally:
        database.dispose()


def prepare_reused(database: Database, *, phases: tuple[str, ...]) -> ReuseReport:
    """``load.reuse`` for this run's phases: the old segments go only when the run builds them anew."""
    report = reuse(database, clear_segments="build" in phases, now=NOW)
    for difference in report.schema_differences:
        print(f"warning: reused database differs from the code: {difference}", file=sys.stderr)
    if any(report.rows_at_now.values()):
        print(f"warning: reused database has {_at_now(report.rows_at_now)}", file=sys.stderr)
    return report


def run_backend(
    backend: str,
    *,
    fans: int,
    seed: int,
    runs: int,
    index_strategy: IndexStrategy,
    verify: bool,
    keep: bool,
    phases: tuple[str, ...] = ALL_PHASES,
    naive: bool = True,
    compare_runs: int = 3,
    reused: tuple[Database, ReuseReport] | None = None,
) -> dict[str, Any]:
    """Load (or reuse), verify, time the baselines, then the segment phases. ``reused``: a database prepared by
    ``prepare_reused`` and its report, used in place of a new one (the caller owns it: it is never dropped)."""
    opened: AbstractContextManager[Database] = (
        throwaway_database(backend, keep=keep) if reused is None else nullcontext(reused[0])
    )
    with opened as database:
        result: dict[str, Any]
        if reused is None:
            report = load(database, fans=fans, seed=seed, now=NOW, index_strategy=index_strategy)
            workspace_id, api_key = report.workspace_id, report.api_key
            result = {"load": _load_dict(report)}
        else:
            found = reused[1]
            workspace_id, api_key = found.workspace_id, found.api_key
            result = {"load": {"reused": True, **asdict(found), "api_key": None}}
        if verify:
            verification = verify_derived_figures(database, workspace_id)
            result["verification"] = asdict(verification)
        if reused is None or verify or reused[1].segments_deleted:
            # After the verification's rolled-back updates, and after the segments' rows were deleted in bulk.
            vacuum(database, analyze_sqlite=reused is not None and reused[1].segments_deleted)
        queries: dict[str, Any] = {}
        with database.engine.connect() as connection:
            for baseline in BASELINES:
                timing, count = measure(
                    lambda baseline=baseline: baseline.count(  # type: ignore[misc]
                        connection, workspace_id=workspace_id, now=NOW
                    ),
                    runs=runs,
                )
                connection.rollback()
                queries[baseline.name] = {"rule": baseline.rule, "count": count, **timing.as_dict()}
        result["baselines"] = queries
        if backend == "sqlite":
            phases = tuple(phase for phase in phases if phase in SQLITE_PHASES)
        result["segments"] = run_segment_phases(
            database,
            workspace_id,
            api_key=api_key,
            bench_segments=SEGMENTS,
            now=NOW,
            runs=runs,
            compare_runs=compare_runs,
            phases=phases,
            naive=NAIVE_SEGMENTS if naive else (),
            progress=lambda message: print(message, file=sys.stderr, flush=True),
        )
        return result


def _load_dict(report: LoadReport) -> dict[str, Any]:
    return {
        **asdict(report),
        "api_key": None,  # never written to disk
        "total_rows": report.total_rows,
        "rows_per_second": report.rows_per_second,
    }


def machine() -> dict[str, Any]:
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        memory = meminfo.read_text().splitlines()[0].split(":", 1)[1].strip()
    postgres = ""
    try:
        engine = create_engine(POSTGRES_SERVER)
        with engine.connect() as connection:
            postgres = str(connection.execute(text("SHOW server_version")).scalar_one())
        engine.dispose()
    except Exception as error:  # a missing server is reported, not fatal
        postgres = f"unavailable ({type(error).__name__})"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "postgresql": postgres,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def print_report(results: dict[str, Any]) -> None:
    fans = results["fans"]
    data = (
        f"data reused from {results['reused_database']}"
        if results.get("reused_database")
        else f"seed {results['seed']}"
    )
    print(f"\nfanbase bench — {fans:,} fans, {data}, {results['machine']['date']}")
    print(
        f"machine: {results['machine']['nproc']} cores, {results['machine']['memory']}, "
        f"PostgreSQL {results['machine']['postgresql']}, SQLite {results['machine']['sqlite']}"
    )
    for backend, result in results["backends"].items():
        loaded = result["load"]
        load_average = result["load_average"]
        indexes = "as found" if loaded.get("reused") else loaded["index_strategy"]
        print(
            f"\n== {backend} (indexes: {indexes}; machine load average "
            f"{load_average['before']:.1f} → {load_average['after']:.1f} on {results['machine']['nproc']} cores) =="
        )
        print(
            f"  rows            {sum(loaded['rows'].values()):>12,}  "
            + ", ".join(f"{t} {n:,}" for t, n in loaded["rows"].items())
        )
        if loaded.get("reused"):
            print_reused(loaded)
        else:
            print(f"  generation      {_seconds(loaded['generate_seconds']):>12}")
            print(
                f"  load            {_seconds(loaded['load_seconds']):>12}  ({loaded['rows_per_second']:,.0f} rows/s)"
            )
            print("  load phases     " + ", ".join(f"{k} {v:.2f} s" for k, v in loaded["phases"].items()))
            print(f"  database size   {loaded['database_bytes'] / 2**20:>10,.1f} MiB")
        if "verification" in result:
            check = result["verification"]
            verdict = "equal" if check["mismatched"] == 0 else f"{check['mismatched']:,} MISMATCHED"
            print(
                f"  derived figures {verdict} to recompute_figures over {check['fans']:,} fans "
                f"(recompute would take {check['recompute_seconds']:.2f} s)"
            )
        print(f"  {'baseline (hand-written SQL)':<36} {'count':>9} {'median':>9} {'p95':>9} {'p99':>9}  ms")
        for name, query in result["baselines"].items():
            print(
                f"  {name:<36} {query['count']:>9,} {query['median_ms']:>9.2f} {query['p95_ms']:>9.2f} "
                f"{query['p99_ms']:>9.2f}"
            )
        if "segments" in result:
            print_segments(result["segments"])


def print_reused(loaded: dict[str, Any]) -> None:
    """The load section of a run on a kept database: what was found, and that nothing was loaded."""
    segments = (
        f"its {loaded['segments_found']} segments deleted (with members, ledger and scheduler tick) for the build"
        if loaded["segments_deleted"]
        else f"its {loaded['segments_found']} segments kept as they were"
    )
    print(f"  data reused     {loaded['database']}: no generation, no load figures; {segments}")
    print(f"  database size   {loaded['database_bytes'] / 2**20:>10,.1f} MiB (as found)")
    if any(loaded["rows_at_now"].values()):
        print(f"  DATA CHANGED    {_at_now(loaded['rows_at_now'])}")
    for difference in loaded["schema_differences"]:
        print(f"  SCHEMA DIFFERS  {difference}")


def _at_now(rows: dict[str, int]) -> str:
    counted = ", ".join(f"{count:,} {table}" for table, count in rows.items())
    return (
        f"{counted} at the bench's now: an earlier run's latency and throughput phases wrote them, so the data is "
        "not what a load gives and its figures are not comparable with a fresh run's"
    )


def _ms(timing: dict[str, Any]) -> str:
    if "median_ms" not in timing:
        return "n/a"
    return f"{timing['median_ms']:.2f} / {timing['p95_ms']:.2f} / {timing['p99_ms']:.2f}"


def print_segments(result: dict[str, Any]) -> None:
    """The segment phases: times with the issue's targets beside them, ratios against the baselines."""
    if "build" in result:
        built = result["build"]
        slowest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in built["slowest_ms"].items())
        print(
            f"  first build of {built['segments']} segments  {built['seconds']:.2f} s  (slowest: {slowest})  "
            "(target of 50 <= 120 s)"
        )
    if "check" in result:
        check = result["check"]
        print(f"  hand-written SQL vs stored membership: {_verdict(check)} ({check['segments']} segments)")
    if "compare" in result:
        print_compare(result["compare"])
    if "preview" in result:
        print(
            f"  {'preview (median / p95 / p99 ms)':<34} {'service':>24} {'compiled count':>24} "
            f"{'hand-written':>24}  ratio"
        )
        for label, figures in result["preview"].items():
            print(
                f"  {label + ': ' + figures['segment']:<34} {_ms(figures['service']):>24} "
                f"{_ms(figures['compiled']):>24} {_ms(figures['hand_written']):>24}  "
                f"{figures['ratio_compiled_to_hand_written']:.2f}x "
                f"(service {figures['ratio_service_to_hand_written']:.2f}x)"
            )
        print("    targets: property preview p50 <= 20 ms and compiled <= 1.2x hand-written; behaviour p95 <= 200 ms")
    if "refresh" in result:
        print_refresh(result["refresh"])
    if "latency" in result:
        for label, figures in result["latency"].items():
            print(
                f"  one {label} -> membership (p50/p95/p99) {_ms(figures)} ms  "
                f"({figures['ledger_rows_written']} ledger rows)  (target p95 <= 10 ms)"
            )
    if "throughput" in result:
        print_throughput(result["throughput"])
    if "bulkload" in result:
        print_bulk_load(result["bulkload"])
    if "writers" in result:
        for clients, figures in result["writers"].items():
            print(
                f"  {clients} concurrent HTTP writer(s)     {figures['items_per_second']:>10,.0f} items/s  "
                f"({figures['batches']} mixed batches of {figures['batch_size']:,}; errors {figures['errors']}, "
                f"503 {figures['unavailable']})  (target with 4: >= 5,000 items/s, 0 errors)"
            )
    if "time" in result:
        flips = result["time"]
        lag = flips["lag_seconds"]
        print(
            f"  time-driven: first tick {flips['first_tick_ms']:.0f} ms; tick {_ms(flips['ticks'])} ms; "
            f"{flips['flips_applied']} flips, lag max {lag['max']} s; worst case "
            f"{flips['worst_case_lag_seconds']:.1f} s (interval {flips['interval_seconds']:.0f} s)  (target <= 60 s); "
            f"drift after {flips['drift_after']}"
        )
    if "naive" in result:
        for name, figures in result["naive"].items():
            print(
                f"  naive rebuild {name:<22} {figures['naive_seconds']:.2f} s vs set-based "
                f"{figures['fanbase_seconds']:.3f} s = {figures['ratio_naive_to_fanbase']:.0f}x  "
                f"({figures['members']:,} members)"
            )


def _verdict(check: dict[str, Any]) -> str:
    return "all equal" if not check["mismatched"] else f"{check['mismatched']} MISMATCHED {check['mismatches']}"


def print_refresh(refresh: dict[str, Any]) -> None:
    """``refresh_all`` with nothing changed, and beside it its floor: the one query that finds nothing to do."""
    floor = refresh["floor"]
    print(
        f"  refresh_all, nothing changed      {_ms(refresh)} ms  ledger rows written "
        f"{refresh['ledger_rows_written']}, member rows changed {refresh['member_rows_changed']}  "
        "(target <= 0.5 s, 0 rows)"
    )
    print(
        f"    its floor, one query finding nothing to do   {_ms(floor)} ms  ({floor['segments_pending']} segments "
        f"pending); refresh_all = {refresh['ratio_to_floor']:.1f}x its floor"
    )


def print_throughput(throughput: dict[str, Any]) -> None:
    """Ingestion through fanbase (service, HTTP) and through the hand-written micro-batch, with the ratios."""
    labels = {
        "service": "ingestion via service",
        "http": "ingestion via HTTP",
        "reference": f"hand-written micro-batch, {throughput['reference']['segments']} segments",
        "reference_all_segments": (
            f"hand-written micro-batch, {throughput['reference_all_segments']['segments']} segments"
        ),
    }
    for key, label in labels.items():
        figures = throughput[key]
        target = "  (target >= 5,000/s)" if key in ("service", "http") else ""
        print(
            f"  {label:<42} {figures['events_per_second']:>8,.0f} events/s  (batches of {figures['batch_size']:,}; "
            f"batch {_ms(figures['batch'])} ms; {figures['ledger_rows_written']:,} ledger rows){target}"
        )
    print(
        f"    service = {throughput['ratio_service_to_reference']:.0%} of the micro-batch over the segments an event "
        f"can change (HTTP {throughput['ratio_http_to_reference']:.0%}), "
        f"{throughput['ratio_service_to_reference_all_segments']:.0%} of the one over every segment  "
        "(target >= 50 %)"
    )
    if "membership" in throughput:
        print(
            f"    membership after ingestion vs hand-written SQL: {_verdict(throughput['membership'])}; "
            f"fanbase's verify: {throughput['drift']} fans drifted"
        )


def print_bulk_load(bulk: dict[str, Any]) -> None:
    """Orders loaded over HTTP into a new workspace with segments live, then the first previews after it."""
    print(
        f"  bulk load, new workspace, {bulk['segments']} segments live  {bulk['orders_per_second']:>8,.0f} orders/s  "
        f"({bulk['batches']} batch{'es' if bulk['batches'] != 1 else ''} of {bulk['batch_size']:,} over HTTP; "
        f"batch {_ms(bulk['batch'])} ms; "
        f"{bulk['fans_created']:,} fans created)  (target >= 5,000 orders/s)"
    )
    previews = sorted(bulk["previews"], key=lambda preview: -preview["ms"])
    over = sum(1 for preview in previews if preview["ms"] > 1000)
    print(
        f"    first previews straight after, {len(previews)} rules once each: {over} over 1 s  "
        "(target: every preview <= 1 s); slowest:"
    )
    for preview in previews[:3]:
        print(f"      {preview['ms']:>9,.1f} ms  {preview['rule']}  ({preview['source']}; {preview['count']:,} fans)")
    if "membership" in bulk:
        print(f"    membership after the load vs hand-written SQL: {_verdict(bulk['membership'])}")


def _ratio_order(item: tuple[str, dict[str, Any]]) -> float:
    ratio: float = item[1]["ratio"]
    return -ratio if math.isfinite(ratio) else math.inf


def print_compare(compare: dict[str, Any]) -> None:
    """Every segment's compiled count against its hand-written count, the slowest ratio first, then the summary."""
    print(
        f"  compiled (set form) vs hand-written count, every segment, median / p95 ms over {compare['runs']} "
        "alternated runs:"
    )
    print(f"    {'segment':<22} {'kind':<11} {'count':>9} {'compiled':>19} {'hand-written':>19} {'ratio':>7}")
    for name, figures in sorted(compare["per_segment"].items(), key=_ratio_order):
        compiled, hand = figures["compiled"], figures["hand_written"]
        print(
            f"    {name:<22} {figures['kind']:<11} {figures['count']:>9,} "
            f"{compiled['median_ms']:>9.2f} / {compiled['p95_ms']:>7.2f} "
            f"{hand['median_ms']:>9.2f} / {hand['p95_ms']:>7.2f} {figures['ratio']:>6.2f}x"
        )
    worst = ", ".join(f"{name} {ratio:.2f}x" for name, ratio in compare["worst"].items())
    print(
        f"    within {compare['target_ratio']}x: {compare['within_target']} of {compare['segments']}; geometric mean "
        f"ratio {compare['geometric_mean_ratio']:.2f}x; worst: {worst}"
    )
    print(
        f"    sum of medians: compiled {compare['compiled_sum_ms']:,.1f} ms, hand-written "
        f"{compare['hand_written_sum_ms']:,.1f} ms (the database's own time to evaluate every segment once)"
    )
    verdict = (
        "all equal" if not compare["mismatched"] else f"{compare['mismatched']} MISMATCHED {compare['mismatches']}"
    )
    print(f"    counts, compiled vs hand-written: {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="Generate a workspace, load it, and time the baseline queries."
    )
    parser.add_argument("--fans", type=int, default=100_000)
    parser.add_argument(
        "--backend",
        choices=("postgresql", "sqlite", "both"),
        default=None,
        help="default both; with --reuse-database, the URL's (another is refused)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases (printed) instead of dropping them")
    parser.add_argument(
        "--reuse-database",
        metavar="URL",
        help="run on the database a previous --keep run left behind (a SQLAlchemy URL) instead of generating and "
        "loading one: it is migrated, its segments deleted if the phases include build, and never dropped; "
        "--fans, --seed, --index-strategy and --keep do not apply",
    )
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per query")
    parser.add_argument(
        "--compare-runs",
        type=int,
        default=None,
        help="timed runs per query of the compare phase (default 5 up to 100,000 fans, 3 above)",
    )
    parser.add_argument(
        "--index-strategy",
        choices=("keep", "drop"),
        default="drop",
        help="drop secondary indexes (and, on PostgreSQL, foreign keys) around the load and rebuild them after",
    )
    parser.add_argument(
        "--no-verify", dest="verify", action="store_false", help="skip the recompute_figures cross-check"
    )
    parser.add_argument(
        "--phases",
        default=",".join(ALL_PHASES),
        help=f"segment phases to run, comma-separated, in order (default all: {','.join(ALL_PHASES)}; "
        f"SQLite runs only {','.join(SQLITE_PHASES)})",
    )
    parser.add_argument(
        "--naive",
        choices=("auto", "yes", "no"),
        default="auto",
        help="time the naive (Mautic-style) rebuild; auto: only up to 100,000 fans",
    )
    arguments = parser.parse_args(argv)
    phases = tuple(phase for phase in arguments.phases.split(",") if phase)
    unknown = set(phases) - set(ALL_PHASES)
    if unknown:
        parser.error(f"unknown phases: {sorted(unknown)}")
    if arguments.runs < 2:
        parser.error("--runs needs at least 2 (for the quantiles)")
    if arguments.compare_runs is not None and arguments.compare_runs < 2:
        parser.error("--compare-runs needs at least 2 (for the quantiles)")
    backend_choice = arguments.backend or "both"
    backends = ("postgresql", "sqlite") if backend_choice == "both" else (backend_choice,)
    if not arguments.reuse_database:
        return run(arguments, backends=backends, phases=phases, fans=arguments.fans)
    url = make_url(arguments.reuse_database)
    backend = url.get_backend_name()
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # the driver fanbase installs, not SQLAlchemy's default
    if backend not in ("postgresql", "sqlite"):
        parser.error(f"--reuse-database: no bench for the {backend!r} backend")
    if arguments.backend not in (None, "both", backend):
        parser.error(f"--backend {arguments.backend} contradicts --reuse-database, a {backend} database")
    if backend == "sqlite" and not (url.database and Path(url.database).is_file()):
        # Opening a missing file would create an empty database.
        parser.error(f"--reuse-database: no SQLite file {url.database!r}")
    with reused_database(url.render_as_string(hide_password=False)) as database:
        try:
            report = prepare_reused(database, phases=phases)
        except (ReuseError, OperationalError) as error:
            parser.error(f"--reuse-database: {error}")
        return run(arguments, backends=(backend,), phases=phases, fans=report.fans, reused=(database, report))


def run(
    arguments: argparse.Namespace,
    *,
    backends: tuple[str, ...],
    phases: tuple[str, ...],
    fans: int,
    reused: tuple[Database, ReuseReport] | None = None,
) -> int:
    """Every backend in turn, then the report; the exit status is 1 if a correctness check failed."""
    naive = arguments.naive == "yes" or (arguments.naive == "auto" and fans <= 100_000)
    compare_runs = arguments.compare_runs or (5 if fans <= 100_000 else 3)
    results: dict[str, Any] = {
        "fans": fans,
        "seed": None if reused else arguments.seed,
        "reused_database": reused[1].database if reused else None,
        "now": NOW.isoformat(),
        "machine": machine(),
        "backends": {},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = OUT / f"results-{fans}-{stamp}.json"
    for backend in backends:
        started = time.perf_counter()
        # The machine is shared: the load average says how much the figures below were competing for the cores.
        load_before = os.getloadavg()[0]
        results["backends"][backend] = run_backend(
            backend,
            fans=fans,
            seed=arguments.seed,
            runs=arguments.runs,
            index_strategy=arguments.index_strategy,
            verify=arguments.verify,
            keep=arguments.keep,
            phases=phases,
            naive=naive,
            compare_runs=compare_runs,
            reused=reused,
        )
        results["backends"][backend]["wall_seconds"] = time.perf_counter() - started
        results["backends"][backend]["load_average"] = {"before": load_before, "after": os.getloadavg()[0]}
        # Written after every backend, so a long run's first figures survive a failure in the second.
        path.write_text(json.dumps(results, indent=2, default=str))
    print_report(results)
    print(f"\nresults written to {path}")
    failed = any(
        r.get("verification", {}).get("mismatched")
        or r.get("segments", {}).get("check", {}).get("mismatched")
        or r.get("segments", {}).get("compare", {}).get("mismatched")
        or r.get("segments", {}).get("refresh", {}).get("ledger_rows_written")
        or r.get("segments", {}).get("throughput", {}).get("membership", {}).get("mismatched")
        or r.get("segments", {}).get("throughput", {}).get("drift")
        or r.get("segments", {}).get("bulkload", {}).get("membership", {}).get("mismatched")
        for r in results["backends"].values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
