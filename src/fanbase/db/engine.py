"""Engines and the unit of work. Services open ``database.transaction()``; repositories never commit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import OperationalError as DatabaseError
from sqlalchemy.pool import ConnectionPoolEntry

# What services may name of the database: the transaction they hand to repositories, the error a unique or
# foreign-key constraint raises (services turn it into a domain Conflict), and the error of a database that cannot
# do its work (unreachable, locked). They import these from here, never sqlalchemy itself, so "services build no
# SQL" is a rule import-linter can check.
__all__ = ["Connection", "Database", "DatabaseError", "IntegrityError", "create_database_engine"]


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
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """One unit of work: commits if the block ends normally, rolls back on any exception."""
        with self.engine.connect() as connection:
            if write:
                connection = connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with connection.begin():
                yield connection

    def refresh_planner_statistics(self) -> None:
        """Gather the query planner's statistics after a bulk load.

        SQLite never gathers them by itself, and without them it serves a behaviour subquery (correlated on
        ``fan_id``) from the workspace-wide ``(workspace_id, occurred_at)`` or ``(workspace_id, category, …)``
        index instead of the per-fan one, a walk of the whole workspace per fan (bench/RESULTS.md has the figures).
        PostgreSQL's autovacuum analyses on its own. ``analysis_limit`` samples each index instead of reading it
        whole, so this stays cheap at any size and can run periodically (the scheduler does, every few minutes).
        """
        if self.dialect == "sqlite":
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA analysis_limit = 1000")
                connection.exec_driver_sql("ANALYZE")
                connection.commit()

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
