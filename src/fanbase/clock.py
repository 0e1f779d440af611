"""The one place that reads the wall clock. Edges call ``utc_now()`` and pass ``now=`` inward."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
