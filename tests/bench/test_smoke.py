"""A tiny run of the benchmark code (generate + load + baselines) on both backends, so the harness cannot rot.

It checks consistency, never time: row counts, derived figures equal to ``recompute_figures``, foreign keys,
sequences moved past the loaded ids, baseline counts equal to a count over the generated rows.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from bench.baselines import BEHAVIOUR_GIGS, PROPERTY_SPENT
from bench.generate import COLUMNS, NOW, Generator, Spec
from bench.load import IndexStrategy, LoadReport, load, row_counts, vacuum, verify_derived_figures
from bench.run import throwaway_database
from sqlalchemy.exc import OperationalError

from fanbase.db.engine import Database
from fanbase.db.repositories import fans as fans_repo

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
    with database.transaction(write=False) as connection:
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
