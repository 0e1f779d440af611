"""How the database stores what rules compare: custom datetimes as fixed-width text, and columns whose text is
already folded (or upper-cased), so that rules may compare them as stored, where their indexes serve."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Dialect
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

from fanbase.db.tables import events
from fanbase.db.tables import fan_latest_events
from fanbase.db.tables import fans
from fanbase.db.tables import orders
from fanbase.db.types import STORED_DATETIME_FORMAT
from fanbase.db.types import format_stored_datetime
from fanbase.db.types import parse_stored_datetime

__all__ = ["STORED_DATETIME_FORMAT", "StoredDateTimeText", "format_stored_datetime", "parse_stored_datetime"]


class StoredDateTimeText(TypeDecorator[datetime]):
    """A custom datetime as its stored JSON text: datetimes bound against it are written in the same format."""

    impl = String()
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return format_stored_datetime(value)
        raise TypeError(f"a custom datetime compares with datetimes, got {value!r}")


# Columns whose stored text is already folded (no ASCII A-Z), so rules compare them as stored, where their indexes
# serve: event types are slugs, order categories and emails are lower-cased on the way in, and migration 0004 holds
# every other writer to it (CHECK constraints; triggers on SQLite).
STORED_FOLDED: tuple[ColumnElement[Any], ...] = (
    events.c.type,
    fan_latest_events.c.type,  # copied from events.type
    orders.c.category,
    fans.c.email,
)
# Columns stored upper-case (no ASCII a-z): country codes. For text x without a-z and a folded constant c (no A-Z),
# fold(x) = c exactly when x = ascii_upper(c), so equality and membership compare the column as stored too.
STORED_UPPER: tuple[ColumnElement[Any], ...] = (fans.c.country,)
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def ascii_upper(text: str) -> str:
    return text.translate(_ASCII_UPPER)


def is_stored_folded(value: ColumnElement[Any]) -> bool:
    # By identity: SQLAlchemy overloads ==.
    return any(value is column for column in STORED_FOLDED)


def is_stored_upper(value: ColumnElement[Any]) -> bool:
    return any(value is column for column in STORED_UPPER)
