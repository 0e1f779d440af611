"""The command line's tests: a migrated database (SQLite and PostgreSQL) with a new workspace, selected through
FANBASE_WORKSPACE as a user would. Modules that need more in it define their own ``env``."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fanbase.cli.main import app


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    runner = CliRunner()
    environment = {"FANBASE_DATABASE_URL": url, "FANBASE_WORKSPACE": ""}
    assert runner.invoke(app, ["db", "upgrade"], env=environment).exit_code == 0
    created = runner.invoke(app, ["workspace", "create", f"CLI {uuid.uuid4().hex[:6]}"], env=environment)
    match = re.search(r"Created workspace (\d+)", created.stdout)
    assert match, created.output
    return {**environment, "FANBASE_WORKSPACE": match.group(1)}
