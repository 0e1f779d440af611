"""The segment measurements of the benchmark, on a loaded workspace: each phase returns a JSON-ready dict.

Phases, in the order ``run_segment_phases`` runs them (each leaves the data as the next one expects):

- ``build``: the 50 segments created one by one through ``services.segments.create_segment`` (first build);
- ``check``: every segment's stored membership against its hand-written SQL (``bench.baselines.SEGMENT_SQL``);
- ``compare``: every segment's count as fanbase evaluates a whole workspace (the set form) against its hand-written
  count, timed in alternation; their sum of medians is the database's own time to evaluate every segment once;
- ``preview``: a property rule and a behaviour rule through ``services.previews.preview``, as the raw compiled
  count (``count(*) … where compile_rule(…)``) and as hand-written SQL;
- ``refresh``: ``refresh_all`` when nothing changed — timed, and the ledger and membership must not move — beside
  its floor, the one hand-written query that finds no segment to evaluate (``NOTHING_TO_REFRESH``);
- ``latency``: one event / one order through the service layer with the segments live;
- ``throughput``: ``record_events`` batches of 1,000 through the service layer, in alternation with a hand-written
  micro-batch doing the same work (the reference, ``bench.ingestion``), then through HTTP (in-process ASGI); then
  every segment's stored membership against its hand-written SQL;
- ``bulkload``: a new workspace with 12 segments live loaded with orders over HTTP (fans created by email), then
  every template rule and five behaviour shapes previewed once each, straight after (``bench.bulk_load``);
- ``writers``: 1, 2 and 4 concurrent HTTP clients sending mixed order and event batches over the same fans
  (``bench.writers``): items per second and every answer that was not 201;
- ``time``: time-driven flips through ``membership.apply_time`` with a clock the bench controls;
- ``naive``: a Mautic-style rebuild (count, page through matches, insert members one at a time) against
  fanbase's set-based rebuild of the same rules, both rolled back.

Benchmarks print figures; nothing here asserts on time. ``check``, ``compare``, ``refresh``, ``throughput`` and
``bulkload`` do check correctness: the caller fails the run when a hand-written query disagrees or an unchanged
refresh wrote a row.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text

from bench.baselines import segment_count
from bench.baselines import segment_member_ids
from bench.bulk_load import BULK_SEGMENTS
from bench.bulk_load import bulk_load
from bench.ingestion import highest_fan_id
from bench.ingestion import random_event
from bench.ingestion import throughput
from bench.segments import BEHAVIOUR_RULE
from bench.segments import PROPERTY_RULE
from bench.segments import SEGMENTS_BY_NAME
from bench.segments import BenchSegment
from bench.segments import referenced
from bench.stats import Timing
from bench.stats import measure
from bench.stats import summarise
from bench.writers import concurrent_writers
from fanbase.core.text import parse_rule_text
from fanbase.db.engine import Database
from fanbase.db.repositories import rule_evaluation
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.rule_sql import CompiledRule
from fanbase.db.tables import fans
from fanbase.db.tables import segment_members
from fanbase.db.tables import segment_membership_log
from fanbase.db.tables import segments
from fanbase.db.types import UTCDateTime
from fanbase.jobs.scheduler import DEFAULT_INTERVAL_SECONDS
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.segments import Preview
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import SegmentIn
from fanbase.services import membership
from fanbase.services import orders_events
from fanbase.services import previews
from fanbase.services import segments as segments_service
from fanbase.services.rule_context import load_context


def written_rows(database: Database, workspace_id: int) -> dict[str, int]:
    """Ledger and membership row counts: an unchanged refresh must leave both as they were."""
    with database.engine.connect() as connection:
        ledger = connection.execute(
            select(func.count()).where(segment_membership_log.c.workspace_id == workspace_id)
        ).scalar_one()
        members = connection.execute(
            select(func.count()).where(segment_members.c.workspace_id == workspace_id)
        ).scalar_one()
    return {"ledger": int(ledger), "members": int(members)}


def segment_ids(database: Database, workspace_id: int) -> dict[str, int]:
    with database.engine.connect() as connection:
        rows = connection.execute(select(segments.c.name, segments.c.id).where(segments.c.workspace_id == workspace_id))
        return {name: int(segment_id) for name, segment_id in rows}


# --- build and check -------------------------------------------------------------------------------------------


def build(
    database: Database, workspace_id: int, bench_segments: Sequence[BenchSegment], *, now: datetime
) -> dict[str, Any]:
    """Create every segment through the service; each create is its first build (one transaction each)."""
    per_segment: dict[str, float] = {}
    sizes: dict[str, int] = {}
    started = time.perf_counter()
    for segment in bench_segments:
        began = time.perf_counter()
        created = segments_service.create_segment(
            database, workspace_id, SegmentIn(name=segment.name, rule_text=segment.rule_text), now=now
        )
        per_segment[segment.name] = (time.perf_counter() - began) * 1000
        sizes[segment.name] = created.size
    total = time.perf_counter() - started
    slowest = sorted(per_segment.items(), key=lambda item: -item[1])[:5]
    return {
        "segments": len(per_segment),
        "seconds": total,
        "per_segment_ms": per_segment,
        "slowest_ms": dict(slowest),
        "sizes": sizes,
        "rows": written_rows(database, workspace_id),
    }


def check(
    database: Database, workspace_id: int, bench_segments: Sequence[BenchSegment], *, now: datetime
) -> dict[str, Any]:
    """Stored membership (what fanbase computed) against the hand-written SQL, fan by fan."""
    ids = segment_ids(database, workspace_id)
    mismatches: dict[str, dict[str, int]] = {}
    with database.engine.connect() as connection:
        for segment in bench_segments:
            stored = segments_repo.member_ids(connection, workspace_id, ids[segment.name])
            expected = segment_member_ids(connection, segment.name, workspace_id=workspace_id, now=now)
            if stored != expected:
                mismatches[segment.name] = {
                    "fanbase": len(stored),
                    "hand_written": len(expected),
                    "missing": len(expected - stored),
                    "extra": len(stored - expected),
                }
    return {"segments": len(bench_segments), "mismatched": len(mismatches), "mismatches": mismatches}


# --- every segment: compiled against hand-written ------------------------------------------------------------

# The target for a compiled query against the hand-written one.
TARGET_RATIO = 1.2


def _timed_count(connection: Connection, count: Callable[[], int]) -> tuple[float, int]:
    """One count and its time in ms; the rollback after it (untimed) leaves no transaction open between statements."""
    started = time.perf_counter()
    value = count()
    elapsed = (time.perf_counter() - started) * 1000
    connection.rollback()
    return elapsed, value


def compare(
    database: Database, workspace_id: int, bench_segments: Sequence[BenchSegment], *, now: datetime, runs: int
) -> dict[str, Any]:
    """Each segment's count as fanbase evaluates a whole workspace (``compile_for_workspace``, then
    ``count_matching``) against its hand-written count, with the counts checked equal.

    The two are timed in alternation (compiled, hand-written, compiled, …), after one warm-up each, so that both
    meet the same cache and the same competition for the machine's cores. The sum of the hand-written medians is
    the database's own time to evaluate every segment once, the figure a refresh of them all is read against.
    """
    if runs < 2:
        raise ValueError("compare needs at least two timed runs per query (for the quantiles)")
    per_segment: dict[str, dict[str, Any]] = {}
    mismatches: dict[str, dict[str, list[int]]] = {}
    with database.engine.connect() as connection:
        # Segments do not change during the phase: one context (as of the build) serves every rule.
        context = load_context(connection, workspace_id)
        connection.rollback()
        for segment in bench_segments:
            rule = context.validate(parse_rule_text(segment.rule_text))
            compiled_rule = rule_evaluation.set_form(connection, context.scope, rule, now=now)
            counts: dict[str, Callable[[], int]] = {
                "compiled": partial(rule_evaluation.count_matching, connection, workspace_id, compiled_rule),
                "hand_written": partial(segment_count, connection, segment.name, workspace_id=workspace_id, now=now),
            }
            samples: dict[str, list[float]] = {side: [] for side in counts}
            seen: dict[str, set[int]] = {side: set() for side in counts}
            for run in range(1 + runs):
                for side, count in counts.items():
                    elapsed, value = _timed_count(connection, count)
                    seen[side].add(value)
                    if run:  # the first round warms up
                        samples[side].append(elapsed)
            if len(seen["compiled"] | seen["hand_written"]) != 1:
                mismatches[segment.name] = {side: sorted(values) for side, values in seen.items()}
            compiled = Timing.from_samples(samples["compiled"])
            hand = Timing.from_samples(samples["hand_written"])
            per_segment[segment.name] = {
                "kind": segment.kind,
                "count": max(seen["hand_written"]),
                "compiled": compiled.as_dict(),
                "hand_written": hand.as_dict(),
                "ratio": compiled.median_ms / hand.median_ms if hand.median_ms else math.nan,
            }
    ratios = {name: figures["ratio"] for name, figures in per_segment.items()}
    usable = [ratio for ratio in ratios.values() if math.isfinite(ratio) and ratio > 0]
    worst = sorted(((name, ratio) for name, ratio in ratios.items() if math.isfinite(ratio)), key=lambda item: -item[1])
    return {
        "segments": len(per_segment),
        "runs": runs,
        "per_segment": per_segment,
        "target_ratio": TARGET_RATIO,
        "within_target": sum(1 for ratio in ratios.values() if ratio <= TARGET_RATIO),
        "geometric_mean_ratio": math.exp(statistics.fmean(map(math.log, usable))) if usable else math.nan,
        "worst": dict(worst[:5]),
        "compiled_sum_ms": sum(figures["compiled"]["median_ms"] for figures in per_segment.values()),
        "hand_written_sum_ms": sum(figures["hand_written"]["median_ms"] for figures in per_segment.values()),
        "mismatched": len(mismatches),
        "mismatches": mismatches,
    }


# --- preview -------------------------------------------------------------------------------------------------


def preview(database: Database, workspace_id: int, *, now: datetime, runs: int) -> dict[str, Any]:
    """Service preview, raw compiled count and hand-written count of the property and the behaviour rule."""
    result: dict[str, Any] = {}
    for label, name in (("property", PROPERTY_RULE), ("behaviour", BEHAVIOUR_RULE)):
        rule_text = SEGMENTS_BY_NAME[name].rule_text
        data = RuleIn(rule_text=rule_text)
        service, shown = measure(
            lambda data=data: previews.preview(database, workspace_id, data, now=now),  # type: ignore[misc]
            runs=runs,
        )
        assert isinstance(shown, Preview)
        with database.engine.connect() as connection:
            context = load_context(connection, workspace_id)
            condition = rule_evaluation.set_form(
                connection, context.scope, context.validate(parse_rule_text(rule_text)), now=now
            )
            compiled, compiled_count = measure(
                lambda condition=condition: rule_evaluation.count_matching(connection, workspace_id, condition),  # type: ignore[misc]
                runs=runs,
            )
            connection.rollback()
            hand, hand_count = measure(
                lambda name=name: segment_count(connection, name, workspace_id=workspace_id, now=now),  # type: ignore[misc]
                runs=runs,
            )
            connection.rollback()
        result[label] = {
            "segment": name,
            "rule": rule_text,
            "count": {"service": shown.count, "compiled": compiled_count, "hand_written": hand_count},
            "service": service.as_dict(),
            "compiled": compiled.as_dict(),
            "hand_written": hand.as_dict(),
            "ratio_compiled_to_hand_written": compiled.median_ms / hand.median_ms if hand.median_ms else math.nan,
            "ratio_service_to_hand_written": service.median_ms / hand.median_ms if hand.median_ms else math.nan,
        }
    return result


# --- refresh when nothing changed --------------------------------------------------------------------------------


# The hand-written floor of a refresh with nothing to do: the one query that finds no segment to evaluate (what
# ``segments_repo.needing_evaluation`` asks), in a write transaction as ``refresh_all`` opens one.
NOTHING_TO_REFRESH = text(
    "SELECT count(*) FROM segments WHERE workspace_id = :workspace_id AND (needs_evaluation OR next_flip_at <= :now)"
).bindparams(bindparam("now", type_=UTCDateTime()))


def _count_pending(database: Database, workspace_id: int, *, now: datetime) -> int:
    with database.transaction(workspace_id=workspace_id) as connection:
        return int(connection.execute(NOTHING_TO_REFRESH, {"workspace_id": workspace_id, "now": now}).scalar_one())


def refresh_unchanged(database: Database, workspace_id: int, *, now: datetime, runs: int) -> dict[str, Any]:
    """``refresh_all`` with nothing changed since the build: times, and the rows it wrote (must be 0); beside it,
    timed in alternation with it, its floor: ``NOTHING_TO_REFRESH`` in a transaction of its own."""
    before = written_rows(database, workspace_id)
    samples: list[float] = []
    floor: list[float] = []
    moved = 0
    pending = 0
    for _ in range(runs):
        started = time.perf_counter()
        changes = segments_service.refresh_all(database, workspace_id, now=now)
        samples.append((time.perf_counter() - started) * 1000)
        moved += sum(change.entered + change.exited for change in changes.values())
        started = time.perf_counter()
        pending = max(pending, _count_pending(database, workspace_id, now=now))
        floor.append((time.perf_counter() - started) * 1000)
    after = written_rows(database, workspace_id)
    timing, floor_timing = summarise(samples), summarise(floor)
    return {
        "segments": len(changes),
        **timing,
        "samples_ms": samples,
        "ledger_rows_written": after["ledger"] - before["ledger"],
        "member_rows_changed": after["members"] - before["members"],
        "reported_moves": moved,
        "floor": {**floor_timing, "samples_ms": floor, "segments_pending": pending},
        "ratio_to_floor": timing["median_ms"] / floor_timing["median_ms"] if runs >= 2 else math.nan,
    }


# --- one event / one order ---------------------------------------------------------------------------------------


def latency(
    database: Database, workspace_id: int, *, now: datetime, events: int, orders: int, seed: int = 6
) -> dict[str, Any]:
    """One event, then one order, per service call (one transaction each, membership updated and logged in it)."""
    rnd = random.Random(seed)
    highest = highest_fan_id(database, workspace_id)
    result: dict[str, Any] = {}
    for label, count in (("event", events), ("order", orders)):
        before = written_rows(database, workspace_id)
        samples: list[float] = []
        for _ in range(count):
            if label == "event":
                item_event = random_event(rnd, highest)
                started = time.perf_counter()
                orders_events.record_event(database, workspace_id, item_event, now=now)
            else:
                item_order = OrderIn(
                    fan_id=rnd.randint(1, highest),
                    amount=Decimal(rnd.choice(("19.99", "45.00", "120.00", "250.00"))),
                    category=rnd.choice(("merch", "ticket", "music")),
                )
                started = time.perf_counter()
                orders_events.record_order(database, workspace_id, item_order, now=now)
            samples.append((time.perf_counter() - started) * 1000)
        after = written_rows(database, workspace_id)
        result[label] = {**summarise(samples), "ledger_rows_written": after["ledger"] - before["ledger"]}
    return result


# --- time-driven flips -------------------------------------------------------------------------------------------


def _next_flip(database: Database, workspace_id: int) -> datetime | None:
    with database.engine.connect() as connection:
        value: datetime | None = connection.execute(
            select(func.min(segments.c.next_flip_at)).where(segments.c.workspace_id == workspace_id)
        ).scalar_one()
    return value


def time_flips(
    database: Database, workspace_id: int, *, now: datetime, flips: int, interval: float = DEFAULT_INTERVAL_SECONDS
) -> dict[str, Any]:
    """Scheduler ticks on a grid of ``interval`` seconds from ``now``; for each next due flip (``next_flip_at``),
    a tick on the grid just before it, then the one just after: lag = (tick time - due) + that tick's duration.

    Worst case is one interval plus a tick's duration (a flip due just after a tick waits for the next).
    """
    step = timedelta(seconds=interval)
    started = time.perf_counter()
    first = membership.apply_time(database, workspace_id, now=now)
    first_ms = (time.perf_counter() - started) * 1000
    tick_ms: list[float] = []
    catch_up_ms: list[float] = []
    lags: list[float] = []
    moved = 0
    applied = 0
    clock = now
    for _ in range(flips):
        due = _next_flip(database, workspace_id)
        if due is None:
            break
        grid = math.floor((due - now) / step)
        before_due = now + grid * step
        if before_due > clock:
            # Catching up to the tick before the due time (may cover hours of simulated time: not a regular tick).
            began = time.perf_counter()
            membership.apply_time(database, workspace_id, now=before_due)
            catch_up_ms.append((time.perf_counter() - began) * 1000)
        after_due = before_due + step
        began = time.perf_counter()
        report = membership.apply_time(database, workspace_id, now=after_due)
        duration = time.perf_counter() - began
        tick_ms.append(duration * 1000)
        clock = after_due
        if report.entered or report.exited:
            applied += 1
            moved += report.entered + report.exited
            lags.append((after_due - due).total_seconds() + duration)
    drift = segments_service.verify(database, workspace_id, now=clock)
    return {
        "interval_seconds": interval,
        "first_tick_ms": first_ms,
        "first_tick": {"segments": first.segments, "entered": first.entered, "exited": first.exited},
        "ticks": summarise(tick_ms),
        "catch_up_ticks": summarise(catch_up_ms),
        "flips_applied": applied,
        "fans_moved": moved,
        "lag_seconds": {
            "max": max(lags) if lags else None,
            "median": sorted(lags)[len(lags) // 2] if lags else None,
        },
        "worst_case_lag_seconds": interval + (max(tick_ms) / 1000 if tick_ms else 0.0),
        "drift_after": sum(item.missing + item.extra for item in drift),
    }


# --- naive rebuild -----------------------------------------------------------------------------------------------


def _scratch_segment(connection: Connection, workspace_id: int, name: str, *, now: datetime) -> int:
    return segments_repo.insert_segment(
        connection, workspace_id, {"name": name, "kind": "static", "rule": None, "rule_version": 0}, now=now
    )


def naive_rebuild(
    database: Database, workspace_id: int, names: Sequence[str], *, now: datetime, page_size: int = 1000
) -> dict[str, Any]:
    """Per rule: Mautic-style (count; page through matches with LIMIT/OFFSET; insert each member and its ledger row
    with its own statement) against fanbase's ``apply_membership`` (one statement family), each into an empty
    scratch segment, in a transaction rolled back afterwards."""
    result: dict[str, Any] = {}
    for name in names:
        with database.engine.connect() as connection:
            context = load_context(connection, workspace_id)
            rule = context.validate(parse_rule_text(SEGMENTS_BY_NAME[name].rule_text))
            # The naive side asks fanbase's correlated SQL for its count and pages (LIMIT/OFFSET walks fans in id
            # order); fanbase's side is its own set-based rebuild.
            condition = rule_evaluation.per_fan_condition(connection, context.scope, rule, now=now)
            connection.rollback()

            transaction = connection.begin()
            segment_id = _scratch_segment(connection, workspace_id, f"naive {name}", now=now)
            started = time.perf_counter()
            total = rule_evaluation.count_matching(connection, workspace_id, CompiledRule(condition=condition))
            inserted = 0
            for offset in range(0, total, page_size):
                page = connection.execute(
                    select(fans.c.id)
                    .where(fans.c.workspace_id == workspace_id, condition)
                    .order_by(fans.c.id)
                    .limit(page_size)
                    .offset(offset)
                ).scalars()
                for fan_id in list(page):
                    connection.execute(
                        insert(segment_members).values(
                            workspace_id=workspace_id, segment_id=segment_id, fan_id=fan_id, since=now
                        )
                    )
                    connection.execute(
                        insert(segment_membership_log).values(
                            workspace_id=workspace_id,
                            segment_id=segment_id,
                            fan_id=fan_id,
                            entered=True,
                            at=now,
                            cause="build",
                            rule_version=0,
                        )
                    )
                    inserted += 1
            naive_seconds = time.perf_counter() - started
            transaction.rollback()

            transaction = connection.begin()
            segment_id = _scratch_segment(connection, workspace_id, f"set-based {name}", now=now)
            started = time.perf_counter()
            entered, _ = segments_repo.apply_membership(
                connection,
                workspace_id,
                segment_id,
                should_be_member=rule_evaluation.set_form(connection, context.scope, rule, now=now),
                cause="build",
                rule_version=0,
                now=now,
            )
            fanbase_seconds = time.perf_counter() - started
            transaction.rollback()
        result[name] = {
            "members": inserted,
            "fanbase_members": entered,
            "naive_seconds": naive_seconds,
            "fanbase_seconds": fanbase_seconds,
            "ratio_naive_to_fanbase": naive_seconds / fanbase_seconds if fanbase_seconds else math.nan,
        }
    return result


# --- all of it ---------------------------------------------------------------------------------------------------

ALL_PHASES = (
    "build",
    "check",
    "compare",
    "preview",
    "refresh",
    "latency",
    "throughput",
    "bulkload",
    "writers",
    "time",
    "naive",
)
SQLITE_PHASES = ("build", "check", "compare", "preview", "refresh", "throughput", "bulkload")


def run_segment_phases(
    database: Database,
    workspace_id: int,
    *,
    api_key: str,
    bench_segments: Sequence[BenchSegment],
    now: datetime,
    runs: int,
    compare_runs: int = 3,
    phases: Sequence[str] = ALL_PHASES,
    naive: Sequence[str] = (),
    events: int = 200,
    orders: int = 100,
    batches: int = 5,
    batch_size: int = 1000,
    flips: int = 10,
    refresh_runs: int = 3,
    progress: Any = None,
) -> dict[str, Any]:
    """The phases in order, each on the state the previous ones left. ``build`` must come first."""
    result: dict[str, Any] = {}

    def note(message: str) -> None:
        if progress is not None:
            progress(message)

    for phase in phases:
        note(f"{database.dialect}: {phase} …")
        started = time.perf_counter()
        match phase:
            case "build":
                result[phase] = build(database, workspace_id, bench_segments, now=now)
            case "check":
                result[phase] = check(database, workspace_id, bench_segments, now=now)
            case "compare":
                result[phase] = compare(database, workspace_id, bench_segments, now=now, runs=compare_runs)
            case "preview":
                result[phase] = preview(database, workspace_id, now=now, runs=runs)
            case "refresh":
                result[phase] = refresh_unchanged(database, workspace_id, now=now, runs=refresh_runs)
            case "latency":
                result[phase] = latency(database, workspace_id, now=now, events=events, orders=orders)
            case "throughput":
                result[phase] = throughput(
                    database, workspace_id, api_key=api_key, now=now, batches=batches, batch_size=batch_size
                )
                # The reference must keep membership exact to be one (and so must the service); and fanbase's own
                # evaluation, which reads the state writes maintain (fan_latest_events), must agree with it too.
                result[phase]["membership"] = check(database, workspace_id, bench_segments, now=now)
                drift = segments_service.verify(database, workspace_id, now=now)
                result[phase]["drift"] = sum(item.missing + item.extra for item in drift)
            case "bulkload":
                result[phase] = bulk_load(
                    database, fans=highest_fan_id(database, workspace_id), now=now, batch_size=batch_size
                )
                loaded = result[phase]["workspace_id"]
                result[phase]["membership"] = check(database, loaded, referenced(BULK_SEGMENTS), now=now)
            case "writers":
                result[phase] = concurrent_writers(
                    database,
                    api_key=api_key,
                    highest_fan=highest_fan_id(database, workspace_id),
                    now=now,
                    batches=batches,
                    batch_size=batch_size,
                )
            case "time":
                result[phase] = time_flips(database, workspace_id, now=now, flips=flips)
            case "naive":
                if naive:
                    result[phase] = naive_rebuild(database, workspace_id, naive, now=now)
            case _:
                raise ValueError(f"unknown phase {phase!r}")
        note(f"{database.dialect}: {phase} done in {time.perf_counter() - started:.1f} s")
    return result
