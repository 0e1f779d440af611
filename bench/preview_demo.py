"""``python -m bench.preview_demo [--fans 3000] [--runs 30] [--backend postgresql|sqlite|both]``

How fast does a live preview answer on the demo workspace? Per backend: a throwaway database (a temporary SQLite
file; a PostgreSQL ``fanbase_bench_<random>`` on the local server, dropped afterwards), the demo workspace
(``services.demo``, 3,000 fans by default), then ``services.previews.preview`` — the whole use case: load the rule
context, validate, compile, count, sample, count each top-level condition, describe — for every template's rule
and a few combined rules, each timed over ``--runs`` runs after warm-up. Prints a table (milliseconds).

The acceptance (issue 4) is "well under 100 ms on SQLite". Benchmarks print figures; they never assert on time.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.generate import NOW
from bench.load import vacuum
from bench.run import machine
from bench.run import throwaway_database
from bench.stats import Timing
from bench.stats import measure
from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.schemas.segments import Preview
from fanbase.schemas.segments import RuleIn
from fanbase.services import demo
from fanbase.services import previews
from fanbase.services import segments
from fanbase.services.segment_templates import TEMPLATES
from fanbase.services.segment_templates import TEMPLATES_BY_KEY

COMBINED_RULES: tuple[tuple[str, str], ...] = (
    (
        "combined: the issue's example",
        'lifecycle_stage in (customer, advocate) and total_spent > 100 and (tag "VIP" or list "Fan Club Members") '
        'and count(orders where category = "merch" within 365 days) >= 2 and last_active_at more_than 30 days ago',
    ),
    (
        "combined: behaviour or behaviour or not",
        'count(events where type = "gig_attended" within 365 days) >= 2 '
        'or sum(amount of orders where category = "merch") > 100 or not tag "VIP"',
    ),
    (
        "combined: segments, negation, dates",
        'segment "High-Spenders" and not segment "Engaged Fans" and last(orders) more_than 90 days ago '
        "and created_at before 2026-01-01",
    ),
    (
        "combined: event property, max, text",
        'count(events where type = "email_opened" within 30 days) >= 1 and max(amount of orders) >= 20 '
        'and email ends_with ".com"',
    ),
)


@dataclass(frozen=True)
class PreviewTiming:
    label: str
    count: int
    timing: Timing


def _rules() -> list[tuple[str, str]]:
    return [(f"template: {template.key}", template.rule_text) for template in TEMPLATES] + list(COMBINED_RULES)


def run_backend(database: Database, *, fans: int, runs: int) -> list[PreviewTiming]:
    upgrade(database.engine)
    workspace_id = demo.create_demo_workspace(database, now=NOW, fans=fans).workspace.id
    # Rules that read other segments need those segments to exist (their stored membership is what is read).
    for key in sorted({required for template in TEMPLATES for required in template.requires}):
        segments.create_from_template(database, workspace_id, TEMPLATES_BY_KEY[key].key, now=NOW)
    vacuum(database)
    results = []
    for label, rule_text in _rules():
        action = functools.partial(previews.preview, database, workspace_id, RuleIn(rule_text=rule_text), now=NOW)
        timing, result = measure(action, runs=runs)
        assert isinstance(result, Preview)
        results.append(PreviewTiming(label=label, count=result.count, timing=timing))
    return results


def print_table(results: dict[str, list[PreviewTiming]], *, fans: int, info: dict[str, Any]) -> None:
    print(f"\npreview on the demo workspace — {fans:,} fans, now = {NOW.isoformat()}, {info['date']}")
    print(
        f"machine: {info['nproc']} cores, {info['memory']}, PostgreSQL {info['postgresql']}, SQLite {info['sqlite']}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    backends = list(results)
    header = f"| {'rule':<42} | {'fans':>5} |" + "".join(f" {b} median | {b} p95 |" for b in backends)
    print(header)
    print("|" + "---|" * (2 + 2 * len(backends)))
    rows = zip(*(results[backend] for backend in backends), strict=True)
    for row in rows:
        counts = {item.count for item in row}
        count = str(row[0].count) if len(counts) == 1 else "/".join(str(item.count) for item in row) + " (!)"
        cells = "".join(f" {item.timing.median_ms:.1f} | {item.timing.p95_ms:.1f} |" for item in row)
        print(f"| {row[0].label:<42} | {count:>5} |{cells}")
    for backend, items in results.items():
        worst = max(items, key=lambda item: item.timing.p95_ms)
        medians = sorted(item.timing.median_ms for item in items)
        print(
            f"{backend}: median of medians {medians[len(medians) // 2]:.1f} ms; "
            f"worst p95 {worst.timing.p95_ms:.1f} ms ({worst.label})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.preview_demo", description=__doc__.split("\n\n")[1])
    parser.add_argument("--fans", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per rule (after 3 warm-up runs)")
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    arguments = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if arguments.backend == "both" else (arguments.backend,)
    results: dict[str, list[PreviewTiming]] = {}
    with tempfile.TemporaryDirectory(prefix="fanbase-preview-") as directory:
        for backend in backends:
            with throwaway_database(backend, directory=Path(directory)) as database:
                results[backend] = run_backend(database, fans=arguments.fans, runs=arguments.runs)
    print_table(results, fans=arguments.fans, info=machine())
    mismatched = [
        label
        for label, *items in zip(
            [item.label for item in results[backends[0]]], *(results[b] for b in backends), strict=True
        )
        if len({item.count for item in items}) > 1
    ]
    # Both databases hold the same demo data, so every rule must count the same fans on both.
    return 1 if mismatched else 0


if __name__ == "__main__":
    raise SystemExit(main())
