"""Core tests are pure: no database. ``tests/strategies.py`` is shared with the database cross-checks."""

from __future__ import annotations

import sys
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest

# tests/ is not a package; put it on the path so `import strategies` finds tests/strategies.py.
_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def core_now() -> datetime:
    return NOW
