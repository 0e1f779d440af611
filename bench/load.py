"""Load a generated workspace into a fresh, migrated database: PostgreSQL by COPY, SQLite by executemany.

Both loaders stream the generator chunk by chunk (memory stays flat at 1M fans) and time generation apart from
writing: ``LoadReport.generate_seconds`` is the time spent inside the generator, ``load_seconds`` everything else
(writing, index builds, sequences, ANALYZE).

The derived figures on fans come precomputed from the generator; ``verify_derived_figures`` recomputes them with
``fans_repo.recompute_figures`` inside a rolled-back transaction and compares, which also measures how long the
alternative (load raw, then recompute) would take.
"""

from __future__ import annotations

import sqlite3
import time
import warnings
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import Literal

from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import Column
from sqlalchemy import Connection
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text

from bench.generate import CATALOGUE_TABLES
from bench.generate import COLUMNS
from bench.generate import FAN_TABLES
from bench.generate import TABLES_WITH_IDS
from bench.generate import Chunk
from bench.generate import Generator
from bench.generate import Row
from bench.generate import Spec
from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import latest_events
from fanbase.db.tables import events
from fanbase.db.tables import metadata
from fanbase.db.tables import orders
from fanbase.db.tables import scheduler_state
from fanbase.db.tables import segment_members
from fanbase.db.tables import segment_membership_log
from fanbase.db.tables import segments
from fanbase.schemas.workspaces import WorkspaceCreated
from fanbase.services import workspaces

IndexStrategy = Literal["keep", "drop"]


@dataclass
class LoadReport:
    backend: str
    fans: int
    rows: dict[str, int]
    generate_seconds: float
    load_seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    index_strategy: IndexStrategy = "keep"
    database_bytes: int = 0
    workspace_id: int = 0
    api_key: str = ""

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.load_seconds if self.load_seconds else 0.0


class _Timed:
    """Wraps the chunk iterator and adds up the time spent inside the generator."""

    def __init__(self, chunks: Iterator[Chunk]) -> None:
        self.chunks = chunks
        self.seconds = 0.0

    def __iter__(self) -> Iterator[Chunk]:
        while True:
            started = time.perf_counter()
            try:
                chunk = next(self.chunks)
            except StopIteration:
                self.seconds += time.perf_counter() - started
                return
            self.seconds += time.perf_counter() - started
            yield chunk


WORKSPACE_NAME = "Benchmark Artist"


def prepare(database: Database, *, now: datetime) -> WorkspaceCreated:
    """Migrate the empty database and create the workspace through the service (so it has a real API key)."""
    upgrade(database.engine)
    return workspaces.create_workspace(database, name=WORKSPACE_NAME, now=now)


def load(
    database: Database,
    *,
    fans: int,
    seed: int = 6,
    now: datetime | None = None,
    index_strategy: IndexStrategy = "keep",
    chunk_size: int = 5_000,
) -> LoadReport:
    """Migrate, create the workspace, generate and load ``fans`` fans with their history. The database must be new."""
    spec_now = now or Spec().now
    started = time.perf_counter()
    created = prepare(database, now=spec_now)
    workspace_id = created.workspace.id
    generator = Generator(Spec(fans=fans, seed=seed, workspace_id=workspace_id, now=spec_now, chunk_size=chunk_size))
    phases: dict[str, float] = {"migrate": time.perf_counter() - started}
    if database.dialect == "postgresql":
        timed = _load_postgresql(database, generator, index_strategy=index_strategy, phases=phases)
    elif database.dialect == "sqlite":
        timed = _load_sqlite(database, generator, index_strategy=index_strategy, phases=phases)
    else:
        raise ValueError(f"no loader for {database.dialect}")
    # The loaders write events directly; each fan's latest event times (which the service keeps with every event
    # insert) are computed from them once, as migration 0007 does for a database that had events before it.
    latest_started = time.perf_counter()
    with database.transaction(workspace_id=None) as connection:
        latest_events.rebuild(connection, workspace_id)
    if database.dialect == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE fan_latest_events")
    else:
        database.refresh_planner_statistics()
    _phase(phases, "latest_events", latest_started)
    elapsed = time.perf_counter() - started
    return LoadReport(
        backend=database.dialect,
        fans=fans,
        rows={table: count for table, count in generator.totals.items() if count},
        generate_seconds=timed.seconds,
        load_seconds=elapsed - timed.seconds,
        phases=phases,
        index_strategy=index_strategy,
        database_bytes=database_size(database),
        workspace_id=workspace_id,
        api_key=created.api_key.key,
    )


def _phase(phases: dict[str, float], name: str, started: float) -> float:
    now = time.perf_counter()
    phases[name] = phases.get(name, 0.0) + now - started
    return now


# --- PostgreSQL ----------------------------------------------------------------------------------------------

_PG_SECONDARY_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass)
ORDER BY i.indexname
"""
_PG_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(:tables)
ORDER BY c.conname
"""


def _load_postgresql(
    database: Database, generator: Generator, *, index_strategy: IndexStrategy, phases: dict[str, float]
) -> _Timed:
    tables = list(COLUMNS)
    indexes: list[tuple[str, str]] = []
    foreign_keys: list[tuple[str, str, str]] = []
    started = time.perf_counter()
    if index_strategy == "drop":
        # COPY then CREATE INDEX sorts once instead of inserting 10M entries into B-trees one by one; foreign keys
        # are checked by one anti-join when re-added instead of one trigger query per row.
        with database.transaction(workspace_id=None) as connection:
            indexes = [(r[0], r[1]) for r in connection.execute(text(_PG_SECONDARY_INDEXES), {"tables": tables})]
            foreign_keys = [(r[0], r[1], r[2]) for r in connection.execute(text(_PG_FOREIGN_KEYS), {"tables": tables})]
            for table, name, _ in foreign_keys:
                connection.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            for name, _ in indexes:
                connection.exec_driver_sql(f'DROP INDEX "{name}"')
        started = _phase(phases, "drop_indexes", started)

    timed = _Timed(generator.chunks())
    raw = database.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        with driver.cursor() as cursor:
            cursor.adapters.register_dumper(None, _JsonTextBinaryDumper)
            types = _column_types(cursor)
            _copy_postgresql(cursor, generator.catalogue(), types)
            for number, chunk in enumerate(timed):
                _copy_postgresql(cursor, chunk.rows, types, analyze_fans=number == 0 and index_strategy == "keep")
        driver.commit()
    finally:
        raw.close()
    started = _phase(phases, "copy", started)
    phases["copy"] -= timed.seconds  # phases are net of the time spent generating rows

    if index_strategy == "drop":
        with database.engine.connect() as connection:
            connection.exec_driver_sql("SET maintenance_work_mem = '256MB'")
            for _, definition in indexes:
                connection.exec_driver_sql(definition)
            started = _phase(phases, "create_indexes", started)
            for table, name, definition in foreign_keys:
                connection.exec_driver_sql(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
            connection.commit()
        started = _phase(phases, "add_foreign_keys", started)

    with database.transaction(workspace_id=None) as connection:
        for table in TABLES_WITH_IDS:
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 1), (SELECT count(*) > 0 FROM {table}))"
            )
    started = _phase(phases, "sequences", started)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    _phase(phases, "analyze", started)
    return timed


class _JsonTextBinaryDumper(Dumper):
    """jsonb in binary COPY from text that is already JSON: the wire form is a version byte then the text.

    psycopg's own jsonb dumper would serialise the (already serialised) string again.
    """

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: Any) -> bytes:
        serialised: str = obj
        return b"\x01" + serialised.encode()


def _column_types(cursor: Any) -> dict[str, dict[str, str]]:
    """The PostgreSQL type of every loaded column, read from the migrated database (so migrations stay the truth)."""
    cursor.execute(
        "SELECT table_name, column_name, udt_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        [list(COLUMNS)],
    )
    types: dict[str, dict[str, str]] = {}
    for table, column, udt in cursor.fetchall():
        types.setdefault(table, {})[column] = udt
    return types


def _copy_postgresql(
    cursor: Any, rows_by_table: dict[str, list[Row]], types: dict[str, dict[str, str]], *, analyze_fans: bool = False
) -> None:
    # Binary COPY: psycopg's text dumper for aware datetimes costs ~2.5 µs a value, the binary one ~0.1 µs, which
    # makes binary ~20x cheaper per row on the client (measured: 0.33 vs 7.0 µs per event row).
    for table, rows in rows_by_table.items():
        if not rows:
            continue
        columns = COLUMNS[table]
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([types[table][column] for column in columns])
            write_row = copy.write_row
            for row in rows:
                write_row(row)
        if analyze_fans and table == "fans":
            # Foreign-key triggers plan their lookups once per session; planned against an empty fans table they
            # scan it for every row (quadratic: 18 s for 2,000 fans). ANALYZE counts this transaction's own rows,
            # so statistics taken now make them use the unique index.
            cursor.execute("ANALYZE fans, tags, lists")


# --- SQLite ------------------------------------------------------------------------------------------------


def _sqlite_time(value: datetime | None) -> str | None:
    # isoformat is C-fast; timespec keeps ".000000" (SQLite compares text, so the width must never vary) and
    # [:26] drops the "+00:00" (the generator's datetimes are all UTC).
    return None if value is None else value.isoformat(" ", "microseconds")[:26]


def _sqlite_converter(table: str) -> Callable[[Row], Row] | None:
    """A row converter that turns datetimes into SQLAlchemy's SQLite text form; None when nothing needs it."""
    marks = tuple(name == "at" or name.endswith("_at") for name in COLUMNS[table])
    if not any(marks):
        return None
    # One generated lambda per table, because a generic per-value loop cost more than the inserts themselves.
    parts = ", ".join(f"t(r[{index}])" if is_time else f"r[{index}]" for index, is_time in enumerate(marks))
    converter: Callable[[Row], Row] = eval(f"lambda r: ({parts},)", {"t": _sqlite_time})
    return converter


def _load_sqlite(
    database: Database, generator: Generator, *, index_strategy: IndexStrategy, phases: dict[str, float]
) -> _Timed:
    path = database.engine.url.database
    assert path, "the SQLite loader needs a file database"
    database.dispose()
    started = time.perf_counter()
    # A plain connection: foreign keys are off (the generator's ids are consistent by construction, and the smoke
    # test runs PRAGMA foreign_key_check), synchronous off, one transaction per chunk.
    connection = sqlite3.connect(path, isolation_level=None)
    timed = _Timed(generator.chunks())
    try:
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -262144")  # 256 MiB
        indexes: list[tuple[str, str]] = []
        if index_strategy == "drop":
            tables = list(COLUMNS)
            indexes = connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({', '.join('?' * len(tables))}) ORDER BY name",
                tables,
            ).fetchall()
            for name, _ in indexes:
                connection.execute(f'DROP INDEX "{name}"')
            started = _phase(phases, "drop_indexes", started)
        connection.execute("BEGIN")
        _insert_sqlite(connection, generator.catalogue())
        for chunk in timed:
            _insert_sqlite(connection, chunk.rows)
        connection.execute("COMMIT")
        started = _phase(phases, "insert", started)
        phases["insert"] -= timed.seconds  # phases are net of the time spent generating rows
        if indexes:
            for _, definition in indexes:
                connection.execute(definition)
            started = _phase(phases, "create_indexes", started)
        connection.execute("ANALYZE")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _phase(phases, "analyze", started)
    finally:
        connection.close()
    return timed


def _insert_sqlite(connection: sqlite3.Connection, rows_by_table: dict[str, list[Row]]) -> None:
    for table, rows in rows_by_table.items():
        if not rows:
            continue
        columns = COLUMNS[table]
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        convert = _sqlite_converter(table)
        connection.executemany(statement, rows if convert is None else map(convert, rows))


# --- after the load ----------------------------------------------------------------------------------------


def database_size(database: Database) -> int:
    if database.dialect == "postgresql":
        with database.engine.connect() as connection:
            return int(connection.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())
    path = Path(database.engine.url.database or "")
    return sum(candidate.stat().st_size for candidate in (path, Path(f"{path}-wal")) if candidate.exists())


@dataclass
class Verification:
    fans: int
    mismatched: int
    recompute_seconds: float


def verify_derived_figures(database: Database, workspace_id: int) -> Verification:
    """Recompute the derived figures in a transaction that is rolled back; count fans whose figures differ."""
    with database.engine.connect() as connection:
        transaction = connection.begin()
        try:
            loaded = fans_repo.derived_figures(connection, workspace_id)
            started = time.perf_counter()
            fans_repo.recompute_figures(connection, workspace_id)
            seconds = time.perf_counter() - started
            recomputed = fans_repo.derived_figures(connection, workspace_id)
        finally:
            transaction.rollback()
    mismatched = sum(1 for fan_id, figures in loaded.items() if recomputed.get(fan_id) != figures)
    return Verification(fans=len(loaded), mismatched=mismatched, recompute_seconds=seconds)


def vacuum(database: Database, *, analyze_sqlite: bool = False) -> None:
    """Leave the tables as steady state: no dead tuples from the verification, a fresh visibility map.

    ``analyze_sqlite``: also gather SQLite's planner statistics anew (PostgreSQL's ``VACUUM (ANALYZE)`` always
    does), after rows were deleted in bulk — a reused database's segments — so that they describe what is left.
    """
    if database.dialect == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")
    else:
        with database.engine.connect() as connection:
            if analyze_sqlite:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def row_counts(connection: Connection, workspace_id: int) -> dict[str, int]:
    return {
        table: int(
            connection.execute(
                text(f"SELECT count(*) FROM {table} WHERE workspace_id = :workspace_id"),
                {"workspace_id": workspace_id},
            ).scalar_one()
        )
        for table in (*CATALOGUE_TABLES, *FAN_TABLES)
    }


# --- a database a previous run kept ------------------------------------------------------------------------


class ReuseError(Exception):
    """The database cannot be reused: it must hold exactly one workspace."""


@dataclass
class ReuseReport:
    """A database a previous ``--keep`` run left behind, as this run found it: nothing was generated or loaded."""

    backend: str
    database: str  # its URL, password hidden
    fans: int
    rows: dict[str, int]
    database_bytes: int  # as found, before any segment was deleted
    workspace_id: int
    segments_deleted: bool  # the run builds the segments anew, so the old ones (members, ledger) were deleted
    segments_found: int
    # Events and orders at ``now`` or later: the write phases (latency, throughput) of an earlier run add theirs
    # there, while a load has next to none; the data is then no longer a fresh load's.
    rows_at_now: dict[str, int] = field(default_factory=dict)
    schema_differences: list[str] = field(default_factory=list)
    api_key: str = ""


def reuse(database: Database, *, clear_segments: bool, now: datetime) -> ReuseReport:
    """Make a kept database ready for the segment phases, in place of ``load``.

    It is migrated (it may predate the latest migration) and its one workspace found; a key is issued for the
    HTTP phase, since keys are stored hashed and the load's cannot be read back. With ``clear_segments`` (the run
    builds the segments anew) the workspace's segments go, with their members and ledger, and so does the
    scheduler's last tick (an earlier ``time`` phase left it hours past ``now``, where no tick at ``now`` would
    run): the build then starts from the state a load leaves. The data itself stays as the earlier run left it,
    including the events and orders its write phases added.
    """
    upgrade(database.engine)
    # The loaded workspace; a bulkload phase adds others, which the segment phases leave alone.
    found = [workspace for workspace in workspaces.list_workspaces(database) if workspace.name == WORKSPACE_NAME]
    if not found:
        raise ReuseError(f"the database holds no workspace named {WORKSPACE_NAME!r}; it is not a bench database")
    workspace_id = found[0].id
    key = workspaces.create_api_key(database, workspace_id, name="bench", now=now)
    size = database_size(database)
    with database.transaction(workspace_id=None) as connection:
        rows = row_counts(connection, workspace_id)
        existing = connection.execute(select(func.count()).where(segments.c.workspace_id == workspace_id)).scalar_one()
        at_now = {
            table.name: int(
                connection.execute(
                    select(func.count()).where(table.c.workspace_id == workspace_id, column >= now)
                ).scalar_one()
            )
            for table, column in ((events, events.c.occurred_at), (orders, orders.c.placed_at))
        }
        if clear_segments:
            # Children first, in the same transaction: what the foreign keys' cascade would do, spelled out.
            for table in (segment_membership_log, segment_members, segments, scheduler_state):
                connection.execute(delete(table).where(table.c.workspace_id == workspace_id))
    return ReuseReport(
        backend=database.dialect,
        database=database.engine.url.render_as_string(hide_password=True),
        fans=rows["fans"],
        rows={table: count for table, count in rows.items() if count},
        database_bytes=size,
        workspace_id=workspace_id,
        segments_deleted=clear_segments,
        segments_found=int(existing),
        rows_at_now=at_now,
        schema_differences=schema_differences(database),
        api_key=key.key,
    )


def schema_differences(database: Database) -> list[str]:
    """Where the database's indexes differ from those the code's tables declare.

    ``upgrade`` runs each migration once: a database migrated before a migration was edited keeps the indexes the
    earlier edit made, and its figures would not be those of a fresh load. Expression indexes are not compared
    (SQLite's cannot be reflected); indexes that back a constraint are the constraint's.
    """
    inspector = inspect(database.engine)
    differences: list[str] = []
    for table in metadata.sorted_tables:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            found = {index["name"]: index for index in inspector.get_indexes(table.name)}
        declared = {index.name for index in table.indexes} | {constraint.name for constraint in table.constraints}
        for index in sorted(table.indexes, key=lambda index: str(index.name)):
            if not all(isinstance(expression, Column) for expression in index.expressions):
                continue
            reflected = found.get(index.name)
            if reflected is None:
                differences.append(f"{table.name}: index {index.name} is missing")
                continue
            columns = [column.name for column in index.columns]
            if list(reflected["column_names"]) != columns:
                differences.append(
                    f"{table.name}: index {index.name} is on {reflected['column_names']}, the code says {columns}"
                )
            if database.dialect == "postgresql":
                include = list(index.dialect_options["postgresql"]["include"] or [])
                reflected_include = list(reflected.get("dialect_options", {}).get("postgresql_include", []))
                if reflected_include != include:
                    differences.append(
                        f"{table.name}: index {index.name} includes {reflected_include}, the code says {include}"
                    )
        differences.extend(
            f"{table.name}: index {name} is not in the code"
            for name, reflected in sorted(found.items(), key=lambda item: str(item[0]))
            if name not in declared and "duplicates_constraint" not in reflected
        )
    return differences
