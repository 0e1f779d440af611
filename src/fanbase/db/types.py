"""Column types that mean the same thing on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy import Dialect
from sqlalchemy.types import TypeDecorator

from fanbase.core.time import require_aware

# The stored form of a custom datetime (inside a fan's JSON custom fields): fixed width, so it sorts as text. The one
# definition: the custom fields service writes values in it, rules compare with constants bound in it, the
# evaluator's snapshots read it back.
STORED_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def format_stored_datetime(value: datetime) -> str:
    return require_aware(value).astimezone(UTC).strftime(STORED_DATETIME_FORMAT)


def parse_stored_datetime(value: str) -> datetime:
    return datetime.strptime(value, STORED_DATETIME_FORMAT).replace(tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on both backends.

    PostgreSQL stores ``timestamptz``. SQLite has no such type and SQLAlchemy's ``DateTime(timezone=True)``
    silently drops the zone, so we store naive UTC text in one fixed format (which also sorts correctly as text)
    and attach UTC again on the way out. Naive datetimes are refused on the way in: guessing a zone loses data.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone first")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # Aggregates such as max() on SQLite come back as text rather than through the column type.
        instant: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if instant.tzinfo is None:
            return instant.replace(tzinfo=UTC)
        return instant.astimezone(UTC)
