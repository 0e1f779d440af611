"""Small SQL helpers shared by repositories."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from itertools import islice
from typing import Any
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy import Connection
from sqlalchemy import RowMapping
from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_

T = TypeVar("T")

# Bound parameters per statement stay well under SQLite's limit (32,766) and PostgreSQL's (65,535).
CHUNK = 5000


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    iterator = iter(values)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


def insert_returning_ids(
    connection: Connection, table: Table, workspace_id: int, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert many rows of a workspace's table in one statement family; returns their ids in the order given."""
    ids: list[int] = []
    for chunk in chunks(rows, 2000):
        result = connection.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [{**row, "workspace_id": workspace_id} for row in chunk],
        )
        ids.extend(result.scalars())
    return ids


def insert_returning_row(
    connection: Connection, table: Table, values: Mapping[str, Any], columns: Sequence[ColumnElement[Any]]
) -> RowMapping:
    """Insert one row and read back the given columns of it (ids and defaults the database filled in)."""
    return connection.execute(insert(table).values(**values).returning(*columns)).one()._mapping


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_folded(column: ColumnElement[str], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring test that means the same on SQLite and PostgreSQL (ASCII folding)."""
    return func.lower(column).like(f"%{like_escape(text.lower())}%", escape="\\")


def any_contains(columns: Sequence[ColumnElement[str]], text: str) -> ColumnElement[bool]:
    return or_(*(contains_folded(column, text) for column in columns))
