"""A tiny run of the benchmark code (generate + load + baselines) on both backends, so the harness cannot rot.

It checks consistency, never time: row counts, derived figures equal to ``recompute_figures``, foreign keys,
sequences moved past the loaded ids, baseline counts equal to a count over the generated rows, compiled counts
equal to hand-written ones, stored membership equal to the hand-written SQL after the write phases (the service's
and the hand-written micro-batch's, and a bulk load's), and a kept database made ready for another run.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterable
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bench.baselines import BEHAVIOUR_GIGS
from bench.baselines import PROPERTY_SPENT
from bench.baselines import SEGMENT_SQL
from bench.baselines import segment_count
from bench.baselines import segment_member_ids
from bench.bulk_load import BEHAVIOUR_SHAPES
from bench.bulk_load import BULK_SEGMENTS
from bench.generate import COLUMNS
from bench.generate import NOW
from bench.generate import Generator
from bench.generate import Spec
from bench.ingestion import EVENT_SEGMENTS
from bench.ingestion import MicroBatch
from bench.ingestion import random_event
from bench.load import IndexStrategy
from bench.load import LoadReport
from bench.load import load
from bench.load import reuse
from bench.load import row_counts
from bench.load import vacuum
from bench.load import verify_derived_figures
from bench.measure import ALL_PHASES
from bench.measure import SQLITE_PHASES
from bench.measure import build
from bench.measure import check
from bench.measure import compare
from bench.measure import run_segment_phases
from bench.run import main
from bench.run import throwaway_database
from bench.segments import NAIVE_SEGMENTS
from bench.segments import SEGMENTS
from bench.segments import SEGMENTS_BY_NAME
from bench.segments import SMOKE_SEGMENTS
from bench.segments import referenced
from sqlalchemy import Connection
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bench import row_security
from bench import under_load
from fanbase.core.text import parse_rule_text
from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import latest_events
from fanbase.db.tables import api_keys
from fanbase.db.tables import fan_latest_events
from fanbase.db.tables import scheduler_state
from fanbase.db.tables import segment_members
from fanbase.db.tables import segment_membership_log
from fanbase.db.tables import segments
from fanbase.services import membership
from fanbase.services import segments as segments_service
from fanbase.services.rule_context import load_context
from fanbase.services.segment_templates import TEMPLATES

FANS = 1_000
POSTGRES_SERVER = os.environ.get("FANBASE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def expected_counts() -> dict[str, int]:
    """The two baselines, counted in Python over the generated rows."""
    generator = Generator(Spec(fans=FANS))
    generator.catalogue()
    spenders = 0
    gigs: Counter[int] = Counter()
    since = NOW - timedelta(days=365)
    for chunk in generator.chunks():
        spenders += sum(1 for fan in chunk.rows["fans"] if fan[COLUMNS["fans"].index("total_spent_cents")] > 10_000)
        for _, _, fan_id, kind, _, occurred_at, _ in chunk.rows["events"]:
            if kind == "gig_attended" and since <= occurred_at <= NOW:
                gigs[fan_id] += 1
    return {"spenders": spenders, "gig_goers": sum(1 for count in gigs.values() if count >= 2)}


@pytest.fixture(scope="module")
def expected() -> dict[str, int]:
    return expected_counts()


@pytest.fixture(
    params=[
        pytest.param(("sqlite", "drop"), id="sqlite-drop"),
        pytest.param(("sqlite", "keep"), id="sqlite-keep"),
        pytest.param(("postgresql", "drop"), id="postgresql-drop", marks=pytest.mark.postgres),
        pytest.param(("postgresql", "keep"), id="postgresql-keep", marks=pytest.mark.postgres),
    ]
)
def loaded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, LoadReport]]:
    backend, strategy = request.param
    index_strategy: IndexStrategy = strategy
    try:
        with throwaway_database(backend, directory=tmp_path, server=POSTGRES_SERVER) as database:
            yield database, load(database, fans=FANS, now=NOW, index_strategy=index_strategy)
    except OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is not available: {error}")
        pytest.skip(f"SKIPPED LOUDLY: PostgreSQL is not available ({str(error.orig).strip().splitlines()[0]})")


def test_generator_is_deterministic_whatever_the_chunk_size() -> None:
    def rows(chunk_size: int) -> dict[str, list[tuple[object, ...]]]:
        generator = Generator(Spec(fans=300, chunk_size=chunk_size))
        by_table: dict[str, list[tuple[object, ...]]] = dict(generator.catalogue())
        for chunk in generator.chunks():
            for table, table_rows in chunk.rows.items():
                by_table.setdefault(table, []).extend(table_rows)
        return by_table

    assert rows(7) == rows(1000)
    assert rows(50) != {table: [] for table in COLUMNS}


def test_generator_has_about_ten_orders_and_events_per_fan() -> None:
    generator = Generator(Spec(fans=FANS))
    generator.catalogue()
    for _ in generator.chunks():
        pass
    per_fan = (generator.totals["orders"] + generator.totals["events"]) / FANS
    assert 8 <= per_fan <= 12


def test_load_is_consistent_and_baselines_count_right(
    loaded: tuple[Database, LoadReport], expected: dict[str, int]
) -> None:
    database, report = loaded
    workspace_id = report.workspace_id
    with database.transaction(workspace_id=None, write=False) as connection:
        assert row_counts(connection, workspace_id) == report.rows

    verification = verify_derived_figures(database, workspace_id)
    assert verification.fans == FANS
    assert verification.mismatched == 0

    if database.dialect == "sqlite":
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    else:
        with database.engine.connect() as connection:
            invalid = connection.exec_driver_sql("SELECT conname FROM pg_constraint WHERE NOT convalidated").all()
            assert invalid == []

    # Sequences were moved past the loaded ids: the next fan inserted through the repository gets a fresh id.
    with database.engine.connect() as connection, connection.begin() as transaction:
        [new_id] = fans_repo.insert_fans(
            connection,
            workspace_id,
            [{"email": "new.fan@example.com", "created_at": NOW, "updated_at": NOW}],
        )
        assert new_id == FANS + 1
        transaction.rollback()

    vacuum(database)
    with database.engine.connect() as connection:
        assert PROPERTY_SPENT.count(connection, workspace_id=workspace_id, now=NOW) == expected["spenders"]
        assert BEHAVIOUR_GIGS.count(connection, workspace_id=workspace_id, now=NOW) == expected["gig_goers"]
    assert expected["spenders"] > 0
    assert expected["gig_goers"] > 0


# --- the segment phases (issue 6, phase 2) ---------------------------------------------------------------------

SEGMENT_FANS = 1_500


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def loaded_for_segments(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, LoadReport]]:
    try:
        with throwaway_database(request.param, directory=tmp_path, server=POSTGRES_SERVER) as database:
            report = load(database, fans=SEGMENT_FANS, now=NOW, index_strategy="drop")
            vacuum(database)
            yield database, report
    except OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is not available: {error}")
        pytest.skip(f"SKIPPED LOUDLY: PostgreSQL is not available ({str(error.orig).strip().splitlines()[0]})")


def test_every_bench_segment_parses_and_has_hand_written_sql() -> None:
    assert len(SEGMENTS) == 50
    assert set(SEGMENT_SQL) == set(SEGMENTS_BY_NAME)
    for segment in SEGMENTS:
        parse_rule_text(segment.rule_text)
        assert set(SEGMENT_SQL[segment.name]) == {"postgresql", "sqlite"}
    assert {segment.kind for segment in SEGMENTS} == {
        "property",
        "date",
        "behaviour",
        "label",
        "combination",
        "segments",
    }


def test_segment_phases_run_and_agree_with_hand_written_sql(loaded_for_segments: tuple[Database, LoadReport]) -> None:
    database, report = loaded_for_segments
    phases = ALL_PHASES if database.dialect == "postgresql" else SQLITE_PHASES
    result = run_segment_phases(
        database,
        report.workspace_id,
        api_key=report.api_key,
        bench_segments=referenced(SMOKE_SEGMENTS),
        now=NOW,
        runs=2,
        compare_runs=2,
        phases=phases,
        naive=NAIVE_SEGMENTS[:1],
        events=3,
        orders=2,
        batches=1,
        batch_size=20,
        flips=2,
        refresh_runs=2,
    )
    assert result["build"]["segments"] == len(SMOKE_SEGMENTS)
    assert result["check"]["mismatches"] == {}
    compared = result["compare"]
    assert compared["mismatches"] == {}
    assert list(compared["per_segment"]) == list(SMOKE_SEGMENTS)  # in creation order
    assert compared["per_segment"]["Gig goers"]["count"] == result["build"]["sizes"]["Gig goers"] > 0
    assert compared["per_segment"]["Gig goers"]["compiled"]["runs"] == 2
    assert 0 <= compared["within_target"] <= len(SMOKE_SEGMENTS)
    assert len(compared["worst"]) == 5
    assert compared["geometric_mean_ratio"] > 0
    assert compared["hand_written_sum_ms"] > 0
    for label in ("property", "behaviour"):
        counts = result["preview"][label]["count"]
        assert counts["service"] == counts["compiled"] == counts["hand_written"] > 0
    assert result["refresh"]["ledger_rows_written"] == 0
    assert result["refresh"]["member_rows_changed"] == 0
    assert result["refresh"]["reported_moves"] == 0
    assert result["refresh"]["floor"]["segments_pending"] == 0  # its floor found nothing to do either
    assert result["refresh"]["floor"]["runs"] == 2
    assert result["refresh"]["ratio_to_floor"] > 0
    assert_ingestion_kept_membership_exact(result["throughput"])
    assert_restricted_sql_agrees(database, report.workspace_id, range(1, SEGMENT_FANS + 1, 2))
    assert_bulk_load_is_consistent(database, result["bulkload"])
    if database.dialect == "postgresql":
        assert result["latency"]["event"]["runs"] == 3
        writers = result["writers"]
        assert list(writers) == ["1", "2", "4"]
        assert all(round_["errors"] == 0 and round_["items_per_second"] > 0 for round_ in writers.values())
        assert result["time"]["drift_after"] == 0
        [naive] = result["naive"].values()
        assert naive["members"] == naive["fanbase_members"] > 0
        # After live writes and ticks, stored membership is still what the rules say.
        drift = segments_service.verify(database, report.workspace_id, now=NOW + timedelta(days=1))
        assert all(item.missing == item.extra == 0 for item in drift if item.pending_time == 0)


def assert_ingestion_kept_membership_exact(throughput: dict[str, Any]) -> None:
    """The service, HTTP and both hand-written micro-batches wrote, and every segment still holds what its
    hand-written SQL says; the micro-batch moved fans, so that this means something."""
    for label in ("service", "http", "reference", "reference_all_segments"):
        assert throughput[label]["batches"] == 1
        assert throughput[label]["events_per_second"] > 0
    assert throughput["membership"]["mismatches"] == {}
    assert throughput["drift"] == 0
    assert throughput["reference"]["segments"] == len(EVENT_SEGMENTS & set(SMOKE_SEGMENTS)) > 0
    assert throughput["reference_all_segments"]["segments"] == len(SMOKE_SEGMENTS)
    assert throughput["reference"]["ledger_rows_written"] > 0
    assert throughput["ratio_service_to_reference"] > 0
    assert throughput["ratio_http_to_reference"] > 0


def assert_restricted_sql_agrees(database: Database, workspace_id: int, fan_ids: Iterable[int]) -> None:
    """The micro-batch's hand-written SQL, restricted to some fans, finds exactly the whole workspace's members
    (the unrestricted hand-written SQL) among them, for every bench segment of the workspace."""
    among = set(fan_ids)
    reference = MicroBatch.prepare(database, workspace_id)
    with database.engine.connect() as connection:
        ids = {
            name: segment_id
            for segment_id, name in connection.execute(
                select(segments.c.id, segments.c.name).where(segments.c.workspace_id == workspace_id)
            )
        }
        expected = {
            (ids[name], fan_id)
            for name in ids
            for fan_id in segment_member_ids(connection, name, workspace_id=workspace_id, now=NOW) & among
        }
        assert reference.members_among(connection, sorted(among), now=NOW) == expected
    assert expected


def assert_bulk_load_is_consistent(database: Database, bulk: dict[str, Any]) -> None:
    """The load wrote what it sent and created its fans; the live segments and the previews agree with the
    hand-written SQL in the new workspace."""
    assert bulk["segments"] == len(BULK_SEGMENTS)
    assert bulk["membership"]["mismatches"] == {}
    assert bulk["batches"] == 1
    assert bulk["rows"] == {"fans": bulk["fans_created"], "orders": bulk["orders"]}
    assert 0 < bulk["fans_created"] < bulk["orders"]
    assert [preview["rule"] for preview in bulk["previews"]] == [
        *(template.rule_text for template in TEMPLATES),
        *BEHAVIOUR_SHAPES,
    ]
    assert bulk["slowest_preview"] in bulk["previews"]
    counts = {preview["rule"]: preview["count"] for preview in bulk["previews"]}
    workspace_id = bulk["workspace_id"]
    with database.engine.connect() as connection:
        for rule, name in (
            ("max(amount of orders) >= 100", "Big order"),
            ("total_spent > 200", "High-Spenders"),
            ('count(events where type = "gig_attended" within 365 days) >= 2', "Gig goers"),
        ):
            assert counts[rule] == segment_count(connection, name, workspace_id=workspace_id, now=NOW)
    assert counts["max(amount of orders) >= 100"] > 0


def latest_event_rows(connection: Connection, workspace_id: int) -> set[tuple[Any, ...]]:
    rows = connection.execute(select(fan_latest_events).where(fan_latest_events.c.workspace_id == workspace_id))
    return {tuple(row) for row in rows}


def test_all_fifty_segments_equal_their_hand_written_sql(tmp_path: Path) -> None:
    """Every bench segment, built by fanbase, holds exactly the fans its hand-written SQL returns (SQLite, 1,000
    fans; the bench run checks PostgreSQL at full size)."""
    with throwaway_database("sqlite", directory=tmp_path) as database:
        report = load(database, fans=FANS, now=NOW, index_strategy="drop")
        built = build(database, report.workspace_id, SEGMENTS, now=NOW)
        assert built["segments"] == 50
        assert check(database, report.workspace_id, SEGMENTS, now=NOW)["mismatches"] == {}
        assert sum(1 for size in built["sizes"].values() if size > 0) >= 45  # the rules select somebody
        compared = compare(database, report.workspace_id, SEGMENTS, now=NOW, runs=2)
        assert compared["mismatches"] == {}
        assert {name: figures["count"] for name, figures in compared["per_segment"].items()} == built["sizes"]

        # The segments the micro-batch evaluates for an event are those fanbase's write path evaluates.
        with database.engine.connect() as connection:
            context = load_context(connection, report.workspace_id)
        affected = membership.affected_segments(context, membership.EVENTS)
        assert {context.segment_rows[segment_id].name for segment_id in affected} == EVENT_SEGMENTS
        # Over every segment, the micro-batch keeps them all exact, batch after batch.
        assert_restricted_sql_agrees(database, report.workspace_id, range(1, FANS + 1, 3))
        reference = MicroBatch.prepare(database, report.workspace_id)
        rnd = random.Random(3)
        moved = sum(reference.write([random_event(rnd, FANS) for _ in range(200)], now=NOW) for _ in range(3))
        assert moved > 0
        assert check(database, report.workspace_id, SEGMENTS, now=NOW)["mismatches"] == {}
        # It keeps the fans' latest event times as the product does: what a rebuild from the events gives.
        with database.engine.connect() as connection:
            kept = latest_event_rows(connection, report.workspace_id)
            latest_events.rebuild(connection, report.workspace_id)
            rebuilt = latest_event_rows(connection, report.workspace_id)
            connection.rollback()
        assert kept == rebuilt


# --- a kept database, reused ------------------------------------------------------------------------------------


def _segment_rows(database: Database, workspace_id: int) -> dict[str, int]:
    with database.engine.connect() as connection:
        return {
            table.name: int(
                connection.execute(select(func.count()).where(table.c.workspace_id == workspace_id)).scalar_one()
            )
            for table in (segments, segment_members, segment_membership_log, scheduler_state, api_keys)
        }


def test_a_kept_database_is_made_ready_for_another_run(loaded_for_segments: tuple[Database, LoadReport]) -> None:
    database, report = loaded_for_segments
    workspace_id = report.workspace_id
    build(database, workspace_id, referenced(SMOKE_SEGMENTS), now=NOW)
    membership.apply_time(database, workspace_id, now=NOW + timedelta(hours=6))  # as a time phase leaves it
    before = _segment_rows(database, workspace_id)
    assert before["segment_membership_log"] > 0
    assert before["scheduler_state"] == 1

    kept = reuse(database, clear_segments=False, now=NOW)
    assert (kept.workspace_id, kept.fans, kept.segments_found) == (workspace_id, SEGMENT_FANS, len(SMOKE_SEGMENTS))
    assert kept.schema_differences == []
    assert kept.rows_at_now == {"events": 0, "orders": 0}  # nothing written since the load
    assert kept.api_key and kept.api_key != report.api_key
    assert kept.rows == {table: count for table, count in report.rows.items() if count}
    assert _segment_rows(database, workspace_id) == {**before, "api_keys": before["api_keys"] + 1}

    cleared = reuse(database, clear_segments=True, now=NOW)
    assert cleared.segments_found == len(SMOKE_SEGMENTS)
    assert _segment_rows(database, workspace_id) == {
        "segments": 0,
        "segment_members": 0,
        "segment_membership_log": 0,
        "scheduler_state": 0,
        "api_keys": before["api_keys"] + 2,
    }
    vacuum(database, analyze_sqlite=True)
    # Built anew, the segments hold what a fresh load's build gives.
    rebuilt = build(database, workspace_id, referenced(SMOKE_SEGMENTS), now=NOW)
    assert check(database, workspace_id, referenced(SMOKE_SEGMENTS), now=NOW)["mismatches"] == {}
    assert rebuilt["rows"]["members"] == _segment_rows(database, workspace_id)["segment_members"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--reuse-database", "sqlite:///no/such/file.sqlite3"], "no SQLite file"),
        (["--reuse-database", "sqlite:///x.sqlite3", "--backend", "postgresql"], "contradicts"),
        (["--reuse-database", "mysql://localhost/fanbase"], "no bench for"),
        (["--compare-runs", "1"], "at least 2"),
        (["--runs", "1"], "--runs needs at least 2"),
    ],
)
def test_run_refuses_what_it_cannot_do(arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_the_under_load_phases_run_and_report_every_answer(tmp_path: Path) -> None:
    """bench.under_load at toy sizes: the import with writers beside it, and concurrent writers for a moment."""
    with throwaway_database("sqlite", directory=tmp_path) as database:
        upgrade(database.engine)
        imported = under_load.import_with_writers(database, 3_000, buyers=20)
    assert imported["created"] == [3_000, 3_000]
    assert imported["writer_batches"] >= 1 and set(imported["statuses"]) == {201}
    with throwaway_database("postgresql", directory=tmp_path, server=POSTGRES_SERVER) as database:
        upgrade(database.engine)
        written = under_load.concurrent_writers(database, 2, 1.0, buyers=20)
    assert written["batches"] >= 2 and written["server_errors"] == 0


@pytest.mark.postgres
def test_row_security_compares_the_two_sides_on_the_same_rows(tmp_path: Path) -> None:
    """bench.row_security at toy size: the copied workspace holds what the loaded one holds, the scoped and the owner
    side answer every read alike and write every batch whole, and the operations' statements were explained."""
    with throwaway_database("postgresql", directory=tmp_path, server=POSTGRES_SERVER) as database:
        result = row_security.measure_row_security(database, fans=300, seed=6, runs=2, rules=referenced(SMOKE_SEGMENTS))
    loaded, copied = result["workspaces"]["rows"].values()
    assert loaded == copied and loaded["fans"] == 300
    operations = result["operations"]
    assert {figures["kind"] for figures in operations.values()} == {
        "floor",
        "preview",
        "refresh",
        "fans",
        "members",
        "write",
    }
    assert all(figures[side]["runs"] == 2 for figures in operations.values() for side in row_security.SIDES)
    assert result["summary"]["answers_differ"] == []
    assert operations["preview: Spent over 100"]["answers"]["scoped"] != ["0"]
    assert operations["refresh_all, nothing to do"]["answers"] == {"scoped": ["0"], "owner": ["0"]}
    writes = [figures for figures in operations.values() if figures["kind"] == "write"]
    assert len(writes) == 3  # orders, events, orders by email
    assert all(figures["answers"] == {"scoped": ["100"], "owner": ["100"]} for figures in writes)
    plans = result["plans"]
    assert plans["operations"] == len(operations)
    assert all(counts["explained"] >= len(operations) for counts in plans["statements"].values())
    # A read sends the same statements on both sides (a write's may follow its batch).
    unequal = plans["operations_with_different_statements"]
    assert [name for name in unequal if operations[name]["kind"] != "write"] == []
