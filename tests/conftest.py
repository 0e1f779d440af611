"""Shared fixtures: every database test runs on real SQLite and real PostgreSQL.

PostgreSQL is the local server (127.0.0.1:5432, user postgres, trust auth); each run makes a throwaway database and
drops it at the end. Tests isolate themselves by working in a fresh workspace each (nothing crosses workspaces), so
no truncation is needed between tests. Without PostgreSQL, its half of the tests is skipped loudly; with CI=true,
that is a failure instead.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.schemas.workspaces import WorkspaceCreated
from fanbase.services import workspaces
from tests_support import throwaway_postgres

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _missing(what: str, reason: str) -> None:
    message = f"{what} is not available ({reason})"
    if IN_CI:
        pytest.fail(f"{message}: CI=true requires it", pytrace=False)
    warnings.warn(f"SKIPPING {what} TESTS: {message}", stacklevel=2)
    pytest.skip(f"SKIPPED LOUDLY: {message}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        with throwaway_postgres() as url:
            yield url
    except OperationalError as error:
        _missing("PostgreSQL", str(error.orig).strip().splitlines()[0])


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "fanbase.sqlite3"
    return f"sqlite:///{path}"


_databases: dict[str, Database] = {}


def open_database(request: pytest.FixtureRequest, backend: str) -> Database:
    """One migrated Database per backend for the whole run."""
    if backend not in _databases:
        url = request.getfixturevalue("postgres_url" if backend == "postgresql" else "sqlite_url")
        database = Database.from_url(url)
        upgrade(database.engine)
        _databases[backend] = database
    return _databases[backend]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Database:
    return open_database(request, request.param)


@pytest.fixture
def sqlite_database(request: pytest.FixtureRequest) -> Database:
    return open_database(request, "sqlite")


@pytest.fixture
def postgres_database(request: pytest.FixtureRequest) -> Database:
    return open_database(request, "postgresql")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A new, empty, migrated database of the test's own (no statistics gathered yet; no other test's rows)."""
    if request.param == "sqlite":
        database = Database.from_url(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        upgrade(database.engine)
        yield database
        database.dispose()
        return
    request.getfixturevalue("postgres_url")  # the suite's loud skip (or, under CI, failure) without a server
    with throwaway_postgres() as url:
        database = Database.from_url(url)
        upgrade(database.engine)
        yield database
        database.dispose()


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def workspace(database: Database, now: datetime) -> WorkspaceCreated:
    return workspaces.create_workspace(database, name=f"test {uuid.uuid4().hex[:6]}", now=now)


@pytest.fixture
def workspace_id(workspace: WorkspaceCreated) -> int:
    return workspace.workspace.id


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for database in _databases.values():
        database.dispose()
    _databases.clear()
