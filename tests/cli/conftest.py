"""The command line's tests: a migrated database (SQLite and PostgreSQL) with a new workspace, selected through
FANBASE_WORKSPACE as a user would. Modules that need more in it define their own ``env``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests_support import workspace_environment


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return workspace_environment(request, tmp_path)
