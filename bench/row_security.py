"""``python -m bench.row_security [--fans 100000] [--runs 15] [--keep]`` — what PostgreSQL's row-level security costs.

A throwaway PostgreSQL database holds the bench's workspace (``--fans`` fans, loaded as ``bench.run`` loads it) and
a second workspace of the same size: a copy of the first under ids of its own, so that every policy has as many rows
to filter out as to keep. The bench's 50 segments are built in both.

Each operation runs through the services with two databases, in alternation (which goes first alternates too),
after a warm-up, in one process:

- **scoped**: the database as the app opens it: a transaction for a workspace runs as ``fanbase_tenant``, its rows
  filtered by the policies (migration 0016);
- **owner**: the baseline, whose every transaction runs across workspaces as the owner, where no policy applies;
  the services' queries keep their own workspace clauses, so both read and write the same rows (their answers are
  compared).

Each has its own engine: a connection never switches between the two roles, because PostgreSQL plans a cached
statement again when the role it was planned for changes, a cost both sides would pay and the app does not.

Operations: a transaction that only selects 1 (the fixed cost of the role and the setting), the preview of each
bench segment's rule, ``refresh_all`` with nothing to do, the fans list (first page, and filtered by a segment), a
segment's members (first page and page 100), and batches of 100 orders, of 100 events and of 100 orders naming their
fans by email (each run a fresh batch, both sides drawing theirs alike). Then, for every operation, the EXPLAIN plans
of each statement one call sends, for its parameters and generic (``PLAN_FORMS``), scoped against owner: those whose
plans differ in shape (node types), apart from the one-time gate a policy adds (``_is_gate``).

Prints figures, writes JSON to ``bench/out/``; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
from sqlalchemy import Engine
from sqlalchemy import event
from sqlalchemy import text

from bench.generate import COLUMNS
from bench.generate import NOW
from bench.generate import TABLES_WITH_IDS
from bench.ingestion import highest_fan_id
from bench.load import load
from bench.load import row_counts
from bench.load import vacuum
from bench.measure import build
from bench.measure import segment_ids
from bench.run import OUT
from bench.run import machine
from bench.run import throwaway_database
from bench.segments import BEHAVIOUR_RULE
from bench.segments import PROPERTY_RULE
from bench.segments import SEGMENTS
from bench.segments import BenchSegment
from bench.stats import Timing
from bench.writers import _body
from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.engine import DBAPIError
from fanbase.db.repositories import latest_events
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.segments import RuleIn
from fanbase.services import fans as fans_service
from fanbase.services import orders_events
from fanbase.services import previews
from fanbase.services import segments as segments_service
from fanbase.services import workspaces

SIDES = ("scoped", "owner")
WARMUP = 3
BATCH = 100
# The fans list is filtered by this segment; the members pages are this one's.
LIST_SEGMENT = BEHAVIOUR_RULE
MEMBERS_SEGMENT = PROPERTY_RULE
MEMBERS_DEEP_PAGE = 100
# Above this ratio (scoped ÷ owner medians) an operation is called out.
NOTABLE_RATIO = 1.3
COPY_NAME = "Benchmark Artist (copy)"


class OwnerDatabase(Database):
    """The baseline: every transaction runs across workspaces, as the owner, outside row-level security."""

    @contextmanager
    def transaction(self, *, workspace_id: int | None, **options: Any) -> Iterator[Connection]:
        with super().transaction(workspace_id=ACROSS_WORKSPACES, **options) as connection:
            yield connection


# --- the second workspace ---------------------------------------------------------------------------------------

# The loaded tables' columns that hold an id the generator assigned (their own, or a fan's, tag's or list's): in the
# copy each is moved past every loaded id by one offset, so the copied rows reference each other as the source's do.
_ID_COLUMNS = frozenset({"id", "fan_id", "tag_id", "list_id"})


def _copied(column: str) -> str:
    if column == "workspace_id":
        return ":target"
    return f"{column} + :offset" if column in _ID_COLUMNS else column


def copy_workspace(database: Database, source_workspace_id: int, *, now: datetime) -> int:
    """A new workspace (created through the service) holding a copy of the source's loaded rows: its catalogue, fans
    and their history, and the fans' latest event times. Returns its id."""
    target = workspaces.create_workspace(database, name=COPY_NAME, now=now).workspace.id
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:  # reads one workspace, writes another
        offset = max(
            int(connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one())
            for table in TABLES_WITH_IDS
        )
        for table, columns in COLUMNS.items():
            connection.execute(
                text(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"SELECT {', '.join(map(_copied, columns))} FROM {table} WHERE workspace_id = :source"
                ),
                {"source": source_workspace_id, "target": target, "offset": offset},
            )
        for table in TABLES_WITH_IDS:
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        latest_events.rebuild(connection, target)
    return target


# --- timing in alternation ---------------------------------------------------------------------------------------

Action = Callable[[], object]
# Given a side's name and its database, the action to time on that side (with the side's own inputs, drawn beforehand).
Operation = Callable[[str, Database], Action]


def alternate(actions: Mapping[str, Action], *, runs: int, warmup: int = WARMUP) -> dict[str, Any]:
    """Each side's action ``warmup`` times untimed, then ``runs`` timed rounds of one call each; the side that goes
    first alternates from round to round. Timings, the median ratio of the first side to the second, and what each
    side answered (the distinct answers, which for a read must be one and the same)."""
    sides = list(actions)
    samples: dict[str, list[float]] = {side: [] for side in sides}
    answers: dict[str, list[object]] = {side: [] for side in sides}
    for round_ in range(warmup + runs):
        for side in sides if round_ % 2 == 0 else reversed(sides):
            started = time.perf_counter()
            answer = actions[side]()
            elapsed = (time.perf_counter() - started) * 1000
            answers[side].append(answer)
            if round_ >= warmup:
                samples[side].append(elapsed)
    timings = {side: Timing.from_samples(samples[side]) for side in sides}
    first, second = (timings[side] for side in sides)
    return {
        **{side: timing.as_dict() for side, timing in timings.items()},
        "ratio": first.median_ms / second.median_ms if second.median_ms else math.nan,
        "ratio_p95": first.p95_ms / second.p95_ms if second.p95_ms else math.nan,
        "answers": {side: sorted(set(map(str, found))) for side, found in answers.items()},
    }


def _select_one(database: Database, *, workspace_id: int) -> int:
    """A transaction that does nothing: on the scoped side, what every transaction adds (its role and setting)."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return int(connection.exec_driver_sql("SELECT 1").scalar_one())


def _preview_count(database: Database, *, workspace_id: int, data: RuleIn) -> int:
    return previews.preview(database, workspace_id, data, now=NOW).count


def _refresh_moves(database: Database, *, workspace_id: int) -> int:
    changes = segments_service.refresh_all(database, workspace_id, now=NOW)
    return sum(change.entered + change.exited for change in changes.values())


def _fans_page(database: Database, *, workspace_id: int, fan_filter: FanFilter) -> tuple[int, int]:
    page = fans_service.list_fans(database, workspace_id, fan_filter, page=1, page_size=50)
    return page.total, len(page.items)


def _members_page(database: Database, *, workspace_id: int, segment_id: int, page: int) -> tuple[int, int]:
    found = segments_service.members(database, workspace_id, segment_id, page=page, page_size=50)
    return found.total, len(found.items)


def _reading(read: Callable[[Database], object]) -> Operation:
    """A read: the same call on either side."""
    return lambda _side, database: partial(read, database)


def _writing(
    record: Callable[..., orders_events.Reply],
    make: Callable[[dict[str, Any]], OrderIn | EventIn],
    *,
    workspace_id: int,
    highest_fan: int,
    is_orders: bool,
    batches: int,
    seed: int,
) -> Operation:
    """Batches of ``BATCH`` items by random fans of the workspace (``writers._body``'s mix), a fresh one per call;
    each side draws its own from a generator of its own, all before any is timed."""

    def for_side(side: str, database: Database) -> Action:
        rnd = random.Random(seed * len(SIDES) + SIDES.index(side))
        drawn = iter(
            [
                [make(item) for item in _body(rnd, highest_fan, batch_size=BATCH, is_orders=is_orders)["items"]]
                for _ in range(batches)
            ]
        )
        # The answer is how many items were written: the ids themselves differ from side to side.
        return lambda: len(record(database, workspace_id, next(drawn), now=NOW).body["ids"])

    return for_side


def operations(
    database: Database, workspace_id: int, rules: Sequence[BenchSegment], *, calls: int, seed: int
) -> dict[str, tuple[str, Operation]]:
    """Every measured operation by name, with its kind; the reads first, then the writes (which change the data)."""
    ids = segment_ids(database, workspace_id)
    measured: dict[str, tuple[str, Operation]] = {
        "transaction with SELECT 1": ("floor", _reading(partial(_select_one, workspace_id=workspace_id)))
    }
    measured |= {
        f"preview: {segment.name}": (
            "preview",
            _reading(partial(_preview_count, workspace_id=workspace_id, data=RuleIn(rule_text=segment.rule_text))),
        )
        for segment in rules
    }
    measured["refresh_all, nothing to do"] = ("refresh", _reading(partial(_refresh_moves, workspace_id=workspace_id)))
    measured["fans list, page 1"] = (
        "fans",
        _reading(partial(_fans_page, workspace_id=workspace_id, fan_filter=FanFilter())),
    )
    if LIST_SEGMENT in ids:
        measured[f"fans list, segment {LIST_SEGMENT!r}, page 1"] = (
            "fans",
            _reading(
                partial(_fans_page, workspace_id=workspace_id, fan_filter=FanFilter(segment_id=ids[LIST_SEGMENT]))
            ),
        )
    if MEMBERS_SEGMENT in ids:
        for page in (1, MEMBERS_DEEP_PAGE):
            measured[f"segment members {MEMBERS_SEGMENT!r}, page {page}"] = (
                "members",
                _reading(partial(_members_page, workspace_id=workspace_id, segment_id=ids[MEMBERS_SEGMENT], page=page)),
            )
    highest = highest_fan_id(database, workspace_id)
    emails = _emails(database, workspace_id)
    for label, record, make, is_orders in (
        (f"{BATCH} orders, one batch", orders_events.record_orders, OrderIn.model_validate, True),
        (f"{BATCH} events, one batch", orders_events.record_events, EventIn.model_validate, False),
        (f"{BATCH} orders by email, one batch", orders_events.record_orders, partial(_by_email, emails), True),
    ):
        measured[label] = (
            "write",
            _writing(
                record,
                make,
                workspace_id=workspace_id,
                highest_fan=highest,
                is_orders=is_orders,
                batches=calls,
                seed=seed + len(measured),
            ),
        )
    return measured


def _emails(database: Database, workspace_id: int) -> dict[int, str]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        rows = connection.execute(
            text("SELECT id, email FROM fans WHERE workspace_id = :workspace_id"), {"workspace_id": workspace_id}
        )
        return {int(fan_id): str(email) for fan_id, email in rows}


def _by_email(emails: Mapping[int, str], item: dict[str, Any]) -> OrderIn:
    """An order naming its (existing) fan by email, as a shop's export does, instead of by id."""
    return OrderIn.model_validate({**item, "fan_id": None, "email": emails[item["fan_id"]]})


def measure_operations(
    databases: Mapping[str, Database],
    measured: Mapping[str, tuple[str, Operation]],
    *,
    runs: int,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Every operation, timed in alternation on the scoped and the owner database."""
    result: dict[str, Any] = {}
    for name, (kind, operation) in measured.items():
        progress(name)
        figures = alternate({side: operation(side, database) for side, database in databases.items()}, runs=runs)
        result[name] = {"kind": kind, **figures}
    return result


# --- plans -------------------------------------------------------------------------------------------------------

Statement = tuple[str, Any]


class StatementLog:
    """The queries the engines send while ``capture`` is open (SQLAlchemy's ``before_cursor_execute``)."""

    def __init__(self, engines: Sequence[Engine]) -> None:
        self.captured: list[Statement] | None = None
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._record)

    def _record(
        self, _connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
    ) -> None:
        if self.captured is not None and not executemany:
            self.captured.append((statement, parameters))

    @contextmanager
    def capture(self) -> Iterator[list[Statement]]:
        captured: list[Statement] = []
        self.captured = captured
        try:
            yield captured
        finally:
            self.captured = None


# The statements EXPLAIN takes (it plans a write without running it); the rest (SET, SAVEPOINT) have no plan.
_EXPLAINABLE = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")


def _is_explainable(statement: Statement) -> bool:
    """A statement with a plan, other than the one that scopes a transaction (``set_config`` of the role and the
    workspace), which only the scoped side sends."""
    sql = statement[0].lstrip()
    return sql.upper().startswith(_EXPLAINABLE) and "set_config(" not in sql


def _is_gate(node: Mapping[str, Any]) -> bool:
    """A Result node that only evaluates a one-time filter over the one plan it gates. Under a policy, the query's
    ``workspace_id = :id`` and the policy's ``workspace_id = <the setting>`` are one equivalence class, from which
    PostgreSQL derives ``<the setting> = :id``, a condition on no column: it runs once, in a Result over the plan."""
    gated = [child for child in node.get("Plans", []) if child.get("Parent Relationship") == "Outer"]
    return node["Node Type"] == "Result" and "One-Time Filter" in node and len(gated) == 1


def _ungated(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """The plan without gates (``_is_gate``): each gate's place taken by the plan it gates, which also takes the
    gate's subplans (a subquery in the target list is the gate's to evaluate when there is one)."""
    children = [(child.get("Parent Relationship"), _ungated(child)) for child in node.get("Plans", [])]
    if _is_gate(node):
        [gated] = [child for relationship, child in children if relationship == "Outer"]
        others = [child for relationship, child in children if relationship != "Outer"]
        return {**gated, "Plans": [*gated.get("Plans", []), *others]}
    return {**node, "Plans": [child for _, child in children]}


def _shape(node: Mapping[str, Any], *, detailed: bool = False) -> str:
    """A plan as its nested node types; ``detailed`` adds the relation or index each scan reads."""
    label = str(node["Node Type"])
    if detailed:
        target = node.get("Index Name") or node.get("Relation Name")
        label = f"{label} {target}" if target else label
    children = [_shape(child, detailed=detailed) for child in node.get("Plans", [])]
    return f"{label}({', '.join(children)})" if children else label


# The forms a statement's plan takes: planned for its parameters (what EXPLAIN with them shows), and generic, planned
# for any parameters. psycopg prepares a statement its connection has run five times, and PostgreSQL may then
# keep a generic plan after five more, so a pooled connection's repeated statements mostly run generic plans.
PLAN_FORMS = ("custom", "generic")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_prepared_names = itertools.count()


def _explain(connection: Connection, statement: Statement, *, form: str) -> Mapping[str, Any]:
    sql, parameters = statement
    if form == "custom":
        explained = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", parameters).scalar_one()
    else:
        # A statement PREPAREd with its placeholders numbered, planned generically whatever its parameters (NULLs).
        numbered = {name: index for index, name in enumerate(dict.fromkeys(_PLACEHOLDER.findall(sql)), start=1)}
        prepared = _PLACEHOLDER.sub(lambda found: f"${numbered[found[1]]}", sql).replace("%%", "%")
        name = f"row_security_{next(_prepared_names)}"
        arguments = f"({', '.join(['NULL'] * len(numbered))})" if numbered else ""
        driver: Any = connection.connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute(f"PREPARE {name} AS {prepared}")
            cursor.execute(f"EXPLAIN (FORMAT JSON) EXECUTE {name}{arguments}")
            explained = cursor.fetchone()[0]
            cursor.execute(f"DEALLOCATE {name}")
    plan: Mapping[str, Any] = explained[0]["Plan"]
    return plan


def _plans(database: Database, workspace_id: int, statement: Statement) -> dict[str, Mapping[str, Any] | None]:
    """The statement's plans, in each form, in a transaction the database opens for the workspace (scoped or as the
    owner); None for a form it cannot be planned in again after its own transaction (it names a temporary table
    that went with it, or a parameter's type is only known to the driver)."""
    plans: dict[str, Mapping[str, Any] | None] = {}
    for form in PLAN_FORMS:
        try:
            with database.transaction(workspace_id=workspace_id, write=False) as connection:
                plans[form] = _explain(connection, statement, form=form)
        except (DBAPIError, psycopg.Error):
            plans[form] = None
    return plans


def plan_differences(
    databases: Mapping[str, Database],
    workspace_id: int,
    measured: Mapping[str, tuple[str, Operation]],
    *,
    log: StatementLog,
) -> dict[str, Any]:
    """For each operation: the statements one call sends on each side (captured), the scoped side's each explained
    on both sides, in each form (``PLAN_FORMS``); the plans that differ in node types other than the scoped side's
    gates (``_is_gate``, counted apart), with both. A write is called once more on each side for this, with a batch
    drawn as its timed ones were."""
    differing: dict[str, list[dict[str, str]]] = {}
    unequal_statements: list[str] = []
    counts = {form: {"explained": 0, "not_explainable": 0, "only_gate": 0, "differing": 0} for form in PLAN_FORMS}
    for name, (_, operation) in measured.items():
        sent: dict[str, list[Statement]] = {}
        for side, database in databases.items():
            action = operation(side, database)
            with log.capture() as captured:
                action()
            sent[side] = [statement for statement in captured if _is_explainable(statement)]
        if [sql for sql, _ in sent["scoped"]] != [sql for sql, _ in sent["owner"]]:
            unequal_statements.append(name)
        for statement in sent["scoped"]:
            found = {side: _plans(database, workspace_id, statement) for side, database in databases.items()}
            for form in PLAN_FORMS:
                scoped, owner = found["scoped"][form], found["owner"][form]
                tally = counts[form]
                if scoped is None or owner is None:
                    tally["not_explainable"] += 1
                    continue
                tally["explained"] += 1
                if _shape(scoped) == _shape(owner):
                    continue
                if _shape(_ungated(scoped)) == _shape(_ungated(owner)):
                    tally["only_gate"] += 1
                    continue
                tally["differing"] += 1
                differing.setdefault(name, []).append(
                    {
                        "statement": statement[0],
                        "form": form,
                        "scoped": _shape(scoped, detailed=True),
                        "owner": _shape(owner, detailed=True),
                    }
                )
    return {
        "operations": len(measured),
        "statements": counts,
        "operations_with_different_statements": unequal_statements,
        "differing": differing,
    }


# --- the run -----------------------------------------------------------------------------------------------------


def measure_row_security(
    database: Database,
    *,
    fans: int,
    seed: int,
    runs: int,
    rules: Sequence[BenchSegment] = SEGMENTS,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """On an empty PostgreSQL database: load, copy, build, then time every operation and compare the plans."""
    started = time.perf_counter()
    report = load(database, fans=fans, seed=seed, now=NOW, index_strategy="drop")
    workspace_id = report.workspace_id
    progress(f"loaded {fans:,} fans in {time.perf_counter() - started:.0f} s")
    other = copy_workspace(database, workspace_id, now=NOW)
    # The copy doubled the tables behind the product's back: without statistics that know the new workspace, its
    # segments' first builds are planned as nested loops over "one fan" (minutes each; bench/RESULTS.md, issue 13).
    vacuum(database)
    progress(f"copied into workspace {other}")
    for built in (workspace_id, other):
        build(database, built, rules, now=NOW)
    vacuum(database)
    progress(f"segments built in both workspaces; {time.perf_counter() - started:.0f} s since the start")
    with database.transaction(workspace_id=ACROSS_WORKSPACES, write=False) as connection:
        rows = {str(found): row_counts(connection, found) for found in (workspace_id, other)}
    owner = OwnerDatabase.from_url(database.engine.url.render_as_string(hide_password=False))
    try:
        databases: dict[str, Database] = {"scoped": database, "owner": owner}
        log = StatementLog([side.engine for side in databases.values()])
        load_before = os.getloadavg()[0]
        measured = operations(database, workspace_id, rules, calls=WARMUP + runs, seed=seed)
        timed = measure_operations(databases, measured, runs=runs, progress=progress)
        load_after = os.getloadavg()[0]
        progress("plans")
        plans = plan_differences(databases, workspace_id, measured, log=log)
    finally:
        owner.dispose()
    return {
        "fans": fans,
        "seed": seed,
        "runs": runs,
        "warmup": WARMUP,
        "now": NOW.isoformat(),
        "workspaces": {"measured": workspace_id, "other": other, "rows": rows},
        "load_average": {"before": load_before, "after": load_after},
        "operations": timed,
        "summary": summary(timed),
        "plans": plans,
    }


def summary(measured: Mapping[str, Any]) -> dict[str, Any]:
    """Geometric mean of the ratios per kind, the operations above ``NOTABLE_RATIO``, and any read whose two sides
    answered differently (which would make the baseline no baseline)."""
    kinds: dict[str, list[float]] = {}
    for figures in measured.values():
        kinds.setdefault(figures["kind"], []).append(figures["ratio"])
    return {
        "geometric_mean_ratio": {
            kind: math.exp(statistics.fmean(map(math.log, ratios))) for kind, ratios in kinds.items()
        },
        "all_geometric_mean_ratio": math.exp(
            statistics.fmean(math.log(figures["ratio"]) for figures in measured.values())
        ),
        "above_notable_ratio": {
            name: figures["ratio"] for name, figures in measured.items() if figures["ratio"] > NOTABLE_RATIO
        },
        "answers_differ": [
            name
            for name, figures in measured.items()
            if figures["kind"] != "write" and figures["answers"]["scoped"] != figures["answers"]["owner"]
        ],
    }


def print_report(result: Mapping[str, Any]) -> None:
    found = result["machine"]
    print(
        f"\nrow-level security — {result['fans']:,} fans (and a copy in workspace {result['workspaces']['other']}), "
        f"{result['runs']} runs after {result['warmup']} warm-ups, {found['date']}"
    )
    print(
        f"machine: {found['nproc']} cores, {found['memory']}, PostgreSQL {found['postgresql']}; load average "
        f"{result['load_average']['before']:.1f} → {result['load_average']['after']:.1f}"
    )
    print(f"  {'operation':<52} {'scoped median / p95':>21} {'owner median / p95':>21} {'ratio':>7}  (ms)")
    for name, figures in result["operations"].items():
        scoped, owner = figures["scoped"], figures["owner"]
        flag = "  <--" if figures["ratio"] > NOTABLE_RATIO else ""
        print(
            f"  {name[:52]:<52} {scoped['median_ms']:>9.2f} / {scoped['p95_ms']:>9.2f} "
            f"{owner['median_ms']:>9.2f} / {owner['p95_ms']:>9.2f} {figures['ratio']:>6.2f}x{flag}"
        )
    totals = result["summary"]
    print(
        "  geometric mean ratio: "
        + ", ".join(f"{kind} {ratio:.2f}x" for kind, ratio in totals["geometric_mean_ratio"].items())
        + f"; all {totals['all_geometric_mean_ratio']:.2f}x"
    )
    if totals["answers_differ"]:
        print(f"  ANSWERS DIFFER between the two sides: {totals['answers_differ']}")
    plans = result["plans"]
    for form, counts in plans["statements"].items():
        print(
            f"  {form} plans: {counts['explained']} statements of {plans['operations']} operations explained on both "
            f"sides ({counts['not_explainable']} could not be planned again); {counts['only_gate']} differ only by the "
            f"scoped side's one-time gate (a Result node); {counts['differing']} differ in shape"
        )
    for name, statements in plans["differing"].items():
        for statement in statements:
            print(f"    {name} ({statement['form']}): {' '.join(statement['statement'].split())[:160]}")
            print(f"      scoped: {statement['scoped']}")
            print(f"      owner:  {statement['owner']}")
    if plans["operations_with_different_statements"]:
        print(f"  operations that sent other statements on each side: {plans['operations_with_different_statements']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.row_security", description=__doc__.splitlines()[0])
    parser.add_argument("--fans", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15, help="timed runs per operation and side")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the database (printed) instead of dropping it")
    arguments = parser.parse_args(argv)
    if arguments.runs < 2:
        parser.error("--runs needs at least 2 (for the quantiles)")
    result: dict[str, Any] = {"machine": machine()}
    with throwaway_database("postgresql", keep=arguments.keep) as database:
        result |= measure_row_security(
            database,
            fans=arguments.fans,
            seed=arguments.seed,
            runs=arguments.runs,
            progress=lambda message: print(message, file=sys.stderr, flush=True),
        )
    print_report(result)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"row_security_{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"written to {path}")
    return 1 if result["summary"]["answers_differ"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
