"""Engines and the unit of work. Services open ``database.transaction()``; repositories never commit."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import make_url
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError as DatabaseError
from sqlalchemy.pool import ConnectionPoolEntry

# What services may name of the database: the transaction they hand to repositories, the error a unique or
# foreign-key constraint raises (services turn it into a domain Conflict), and the error of a database that cannot
# do its work (unreachable, locked). They import these from here, never sqlalchemy itself, so "services build no
# SQL" is a rule import-linter can check.
__all__ = [
    "ACROSS_WORKSPACES",
    "Connection",
    "DBAPIError",
    "Database",
    "DatabaseError",
    "IntegrityError",
    "create_database_engine",
    "is_contention",
    "is_transient",
    "scope_to_workspace",
]

log = logging.getLogger("fanbase.db")

# PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race and may simply run again.
_CONTENTION_CODES = frozenset({"40P01", "40001"})
# How long a long job leaves SQLite's write lock free between its transactions (see Database.let_other_writers_in).
WRITER_GAP_SECONDS = 0.12


def is_contention(error: BaseException) -> bool:
    """A failure that says only that other transactions got in the way (a deadlock, a serialization failure,
    SQLite's busy timeout), so that running the same transaction again can succeed."""
    if not isinstance(error, DatabaseError):
        return False
    code = getattr(error.orig, "sqlstate", None)
    return code in _CONTENTION_CODES or "database is locked" in str(error.orig)


def is_transient(error: BaseException) -> bool:
    """A failure that says the database could not do the work just now: contention (``is_contention``), or the
    database unreachable or the connection lost (refused, terminated, timed out). Trying later can succeed."""
    if isinstance(error, DatabaseError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


# PostgreSQL's second line of tenant defence (migration 0016). A transaction opened for one workspace runs as
# TENANT_ROLE with WORKSPACE_SETTING holding the workspace's id; every table with a workspace_id has row-level security
# enabled and a policy that lets TENANT_ROLE see and write only the rows of that workspace. So a query that forgets its
# ``workspace_id = …`` clause still sees one workspace. The owner (the role the app connects as) is exempt: the
# transactions that work across workspaces (finding an API key's or a session's workspace, the scheduler's scan of
# every workspace, webhook claims, creating a workspace) run as it, opened with ``workspace_id=ACROSS_WORKSPACES``.
# This defends against a forgotten clause, not against injected SQL: the session may always go back to its own role.
TENANT_ROLE = "fanbase_tenant"
WORKSPACE_SETTING = "fanbase.workspace_id"
# What ``Database.transaction(workspace_id=…)`` takes for a unit of work that is not one workspace's.
ACROSS_WORKSPACES = None
_SCOPE = "fanbase_workspace"  # the execution option that remembers a connection's workspace


def scope_to_workspace(connection: Connection, workspace_id: int) -> None:
    """From here to the end of the connection's transaction, see and write only ``workspace_id``'s rows (PostgreSQL's
    row-level security; on SQLite only remembered). For a transaction that began across workspaces and has just
    found or created its workspace (a new workspace with its demo data)."""
    connection.execution_options(**{_SCOPE: workspace_id})
    if connection.dialect.name == "postgresql":
        # One round trip: set_config(…, true) is SET LOCAL, and "role" is the setting SET ROLE sets.
        connection.exec_driver_sql(
            f"SELECT set_config('role', '{TENANT_ROLE}', true), "
            f"set_config('{WORKSPACE_SETTING}', '{int(workspace_id)}', true)"
        )


def scoped_workspace(connection: Connection) -> int | None:
    """The workspace the connection's transaction is scoped to, or None across workspaces."""
    workspace_id: int | None = connection.get_execution_options().get(_SCOPE)
    return workspace_id


@contextmanager
def as_owner(connection: Connection) -> Iterator[None]:
    """Run the block as the connection's own role, outside row-level security: for what the tenant role may not do
    (``ANALYZE`` needs the table's owner; ``COPY FROM`` refuses a table with row-level security), each of which checks
    the workspace itself. Back to the tenant role when the block ends normally; after an error the transaction (or
    savepoint) is rolled back, and with it the role change."""
    if scoped_workspace(connection) is None or connection.dialect.name != "postgresql":
        yield
        return
    connection.exec_driver_sql("SET LOCAL ROLE NONE")
    yield
    connection.exec_driver_sql(f"SET LOCAL ROLE {TENANT_ROLE}")


def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # SQLAlchemy's recipe for pysqlite: turn off the driver's implicit transactions and emit BEGIN ourselves
    # (see _begin_sqlite), so transactions, savepoints and DDL behave as on PostgreSQL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA busy_timeout = 10000")
    cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    # Writers ask for IMMEDIATE: it takes the write lock up front, so concurrent writers queue on busy_timeout
    # instead of failing when a deferred read lock cannot be upgraded. Readers never block in WAL mode.
    connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))


def create_database_engine(url: str, **options: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **options)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    # No JIT: it pays off for long analytical queries, but here it added its compile time to previews and refreshes
    # that are short, once their cost estimate crossed jit_above_cost (bench/RESULTS.md, "Timings that left the code").
    connect_args = {"options": "-c jit=off", **options.pop("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **options)


# After a write of at least BULK_ROWS rows, the tables it wrote that grew by STALE_SHARE or more since their last
# ANALYZE have their statistics gathered at once (see Database.refresh_statistics_after_write).
BULK_ROWS = 500
STALE_SHARE = 0.1


def _grown(known: float | None, now: float) -> bool:
    """Statistics that know of no rows (never gathered: PostgreSQL's -1, SQLite's missing row) or of fewer than the
    table now holds by STALE_SHARE."""
    return known is None or known < 0 or now > known * (1 + STALE_SHARE)


def _stale_postgresql(connection: Connection, tables: Sequence[str]) -> list[str]:
    rows = connection.execute(
        text(
            "SELECT relname, reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int"
            " FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname = ANY(:names)"
        ),
        {"names": list(tables)},
    ).all()
    return sorted(name for name, tuples, pages, size in rows if tuples < 0 or _grown(pages, size))


# A workspace the statistics put at fewer rows than this is counted (up to twice the estimate) after a bulk write.
WORKSPACE_CHECK_BELOW = 50_000


def _workspace_unknown_postgresql(connection: Connection, tables: Sequence[str], workspace_id: int) -> list[str]:
    """The tables whose statistics put ``workspace_id`` at less than half the rows it has.

    A table's growth says nothing of one workspace's: a new workspace loaded into a database that holds a big one
    grows the tables by a few per cent, and its statistics still estimate it at a row or two. PostgreSQL then plans
    nested loops that walk the whole workspace once per fan (bench/RESULTS.md, issue 13). The estimate is
    PostgreSQL's own, from ``pg_stats``: the workspace's frequency among the most common values, or else an
    equal share of what the most common values leave. Counting is bounded by twice the estimate and done only for
    estimates below ``WORKSPACE_CHECK_BELOW`` rows: above, the planner already expects a big workspace."""
    rows = connection.execute(
        text(
            "SELECT c.relname, c.reltuples, s.null_frac, s.n_distinct,"
            " s.most_common_vals::text::bigint[], s.most_common_freqs"
            " FROM pg_class c LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = c.relname"
            " AND s.attname = 'workspace_id'"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(:names)"
        ),
        {"names": list(tables)},
    ).all()
    unknown = []
    for name, tuples, null_share, distinct, values, shares in rows:
        if distinct is None or tuples <= 0:
            continue  # never analysed: the table's own growth check has it
        estimate = _workspace_estimate(workspace_id, tuples, null_share, distinct, values or [], shares or [])
        if estimate >= WORKSPACE_CHECK_BELOW:
            continue
        bound = max(BULK_ROWS, 2 * math.ceil(estimate))
        counted = connection.execute(
            text(f'SELECT count(*) FROM (SELECT 1 FROM "{name}" WHERE workspace_id = :workspace LIMIT :bound) AS s'),
            {"workspace": workspace_id, "bound": bound},
        ).scalar_one()
        if counted >= bound:
            unknown.append(name)
    return unknown


def _workspace_estimate(
    workspace_id: int,
    tuples: float,
    null_share: float,
    distinct: float,
    values: Sequence[int],
    shares: Sequence[float],
) -> float:
    """PostgreSQL's estimate of the rows with ``workspace_id = <workspace_id>`` (``var_eq_const``): a most common
    value's frequency, or the rest shared equally among the other distinct values."""
    if workspace_id in values:
        return shares[list(values).index(workspace_id)] * tuples
    distinct_values = distinct if distinct > 0 else -distinct * tuples
    others = max(1.0, distinct_values - len(values))
    return max(0.0, 1.0 - null_share - sum(shares)) * tuples / others


def _stale_sqlite(connection: Connection, tables: Sequence[str]) -> list[str]:
    if connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar() is None:
        return list(tables)  # never analysed at all
    known: dict[str, int] = dict(
        connection.execute(
            text(
                "SELECT tbl, max(CAST(substr(stat, 1, instr(stat || ' ', ' ') - 1) AS INTEGER)) FROM sqlite_stat1"
                " GROUP BY tbl"
            )
        ).all()
    )
    stale = []
    for table in tables:
        highest = connection.exec_driver_sql(f'SELECT max(rowid) FROM "{table}"').scalar() or 0
        if highest and _grown(known.get(table), highest):
            stale.append(table)
    return stale


def _analyze_sqlite(connection: Connection) -> None:
    connection.exec_driver_sql("PRAGMA analysis_limit = 1000")
    connection.exec_driver_sql("ANALYZE")


class Database:
    """One database: its engine, and the only way to open a transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Database:
        return cls(create_database_engine(url, **options))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def location(self) -> str:
        """The database's URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(
        self, *, workspace_id: int | None, write: bool = True, durable: bool = True
    ) -> Iterator[Connection]:
        """One unit of work: commits if the block ends normally, rolls back on any exception.

        ``workspace_id`` is the workspace whose use case this is: on PostgreSQL the transaction then sees and writes
        that workspace's rows only, whatever its queries say (``scope_to_workspace``). ``ACROSS_WORKSPACES`` for the
        few units of work that are no one workspace's; each says why where it opens one.

        ``durable=False``: PostgreSQL does not wait for the commit to reach the disk (``synchronous_commit = off``),
        so a crash *of the database server* may forget this transaction, never half of it. For marks that are cheap
        to lose and many (a mail accepted by the SMTP server: one commit each, whose wait would pace the sender)."""
        with self.engine.connect() as connection:
            if write:
                connection = connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with connection.begin():
                if not durable and connection.dialect.name == "postgresql":
                    connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                if workspace_id is not None:
                    scope_to_workspace(connection, workspace_id)
                yield connection

    def let_other_writers_in(self) -> None:
        """Between the transactions of a long job (an import's chunks): on SQLite, leave the one write lock free for
        longer than a waiting writer's retry interval (its busy handler polls every 100 ms once it has waited a
        while), so it gets in before the job's next chunk. PostgreSQL's writers do not queue on one lock."""
        if self.dialect == "sqlite":
            time.sleep(WRITER_GAP_SECONDS)

    def refresh_planner_statistics(self) -> None:
        """Gather the query planner's statistics for every table (the scheduler does, every few minutes, on SQLite).

        SQLite never gathers them by itself, and without them it serves a behaviour subquery (correlated on
        ``fan_id``) from the workspace-wide ``(workspace_id, occurred_at)`` or ``(workspace_id, category, …)``
        index instead of the per-fan one, a walk of the whole workspace per fan (bench/RESULTS.md has the figures).
        PostgreSQL's autovacuum analyses on its own, as data changes. ``analysis_limit`` samples each index instead
        of reading it whole, so this stays cheap at any size.
        """
        if self.dialect == "sqlite":
            with self.engine.connect() as connection:
                _analyze_sqlite(connection)
                connection.commit()

    def refresh_statistics_after_write(
        self, written: Mapping[str, int], *, workspace_id: int | None = None
    ) -> list[str]:
        """After a bulk write has committed (table → rows it wrote), gather the statistics of each of those tables
        that has grown by ``STALE_SHARE`` or more since they were last gathered; returns the tables analysed.

        Autovacuum analyses a PostgreSQL table only after it changed by its threshold *and* once its worker comes
        round (up to a minute, longer under load); a preview right after a bulk load into a fresh database then ran
        on no statistics at all, planned a per-fan walk of the workspace's orders and took over a minute
        (bench/RESULTS.md, issue 13). Growth is measured against what the statistics know (PostgreSQL: the table's
        pages now against ``relpages`` at the last ANALYZE; SQLite: the highest rowid against ``sqlite_stat1``'s row
        count), so many batches that each add little still add up. A write of fewer than ``BULK_ROWS`` rows to every
        table is left to autovacuum (and on SQLite to the scheduler): checking costs a round trip.
        """
        if not written or max(written.values()) < BULK_ROWS:
            return []
        try:
            with self.engine.connect() as connection:
                stale = refresh_statistics_in(connection, written, workspace_id=workspace_id)
                connection.commit()
        except DatabaseError:
            # The write this follows has committed: statistics are an optimisation, and a busy database (another
            # writer holding SQLite's lock past the busy timeout) must not turn a stored write into an error.
            log.warning("gathering planner statistics after a bulk write failed", exc_info=True)
            return []
        return stale

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()


def refresh_statistics_in(
    connection: Connection, written: Mapping[str, int], *, workspace_id: int | None = None
) -> list[str]:
    """In the connection's transaction: gather the statistics of each table of ``written`` (table → rows written)
    that has grown by ``STALE_SHARE`` or more since they were last gathered, or (PostgreSQL, given the writing
    ``workspace_id``) whose statistics put the workspace at less than half the rows it has; returns the tables
    analysed.

    Inside the writing transaction, before the statements that read what it wrote: ANALYZE counts the rows the
    transaction itself inserted (PostgreSQL and SQLite alike), so the rest of the transaction is planned on them.
    Otherwise a fans CSV import into a new database evaluates its segments for the new fans as if the table were
    empty. Nothing to do below ``BULK_ROWS`` rows."""
    if not written or max(written.values()) < BULK_ROWS:
        return []
    tables = sorted(written)
    # As the owner: only it may ANALYZE, and pg_stats hides a table's statistics from a role its row-level security
    # applies to. The count of the workspace's rows (_workspace_unknown_postgresql) names the workspace itself.
    with as_owner(connection):
        if connection.dialect.name == "sqlite":
            stale = _stale_sqlite(connection, tables)
            connection.exec_driver_sql("PRAGMA analysis_limit = 1000")
        else:
            stale = _stale_postgresql(connection, tables)
            if workspace_id is not None:
                stale = sorted({*stale, *_workspace_unknown_postgresql(connection, tables, workspace_id)})
        for table in stale:
            connection.exec_driver_sql(f'ANALYZE "{table}"')
    return stale
