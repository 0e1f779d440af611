"""Small SQL helpers shared by repositories."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from itertools import islice
from typing import Any
from typing import TypeVar

import psycopg
from sqlalchemy import BigInteger
from sqlalchemy import ColumnElement
from sqlalchemy import Connection
from sqlalchemy import FromClause
from sqlalchemy import Row
from sqlalchemy import RowMapping
from sqlalchemy import Select
from sqlalchemy import Table
from sqlalchemy import any_
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

from fanbase.db.engine import as_owner
from fanbase.db.engine import scoped_workspace

T = TypeVar("T")
R = TypeVar("R")

# Bound parameters per statement stay well under SQLite's limit (32,766) and PostgreSQL's (65,535).
CHUNK = 5000


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    iterator = iter(values)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


def is_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def id_conditions(
    connection: Connection, column: ColumnElement[int], ids: Iterable[int]
) -> Iterator[ColumnElement[bool]]:
    """``column`` is one of ``ids``, as conditions to run a statement with each (their answers make the whole)."""
    return one_of(connection, column, ids, BigInteger())


def one_of(
    connection: Connection, column: ColumnElement[Any], values: Iterable[Any], item_type: TypeEngine[Any]
) -> Iterator[ColumnElement[bool]]:
    """``column`` is one of ``values``, as conditions to run a statement with each (their answers make the whole).

    PostgreSQL: one condition, the values as one array parameter (``= ANY(:values)``), so the statement's text is
    the same for any number of values: psycopg converts and PostgreSQL plans it once, where ``IN (…)`` with a
    parameter per value made a new long statement, converted value by value, each call.
    SQLite has no arrays: ``IN`` lists of at most ``CHUNK`` values."""
    if is_postgresql(connection):
        listed = list(values)
        if listed:
            yield column == any_(bindparam(None, listed, type_=ARRAY(item_type)))
        return
    for chunk in chunks(values):
        yield column.in_(chunk)


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows (each with the same keys): PostgreSQL's COPY, else one executemany of plain tuples (each value
    through its column's type, as a bound parameter would be, but without a statement's per-row bookkeeping)."""
    if not rows:
        return
    columns = list(rows[0])
    values = ([row[name] for name in columns] for row in rows)
    if is_postgresql(connection):
        copy_rows(connection, table, columns, values)
        return
    quote = connection.dialect.identifier_preparer.quote
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    connection.exec_driver_sql(statement, list(processed_rows(connection, table, columns, values)))


def insert_from_arrays(
    connection: Connection,
    table: Table,
    constants: Mapping[str, Any],
    arrays: Mapping[str, tuple[Sequence[Any], TypeEngine[Any]]],
) -> None:
    """PostgreSQL: many rows in one ``INSERT … SELECT`` from parallel arrays (a column each, the ``constants`` the
    same in every row). Numbers and flags travel as arrays: no per-row work in Python, where COPY formats every
    value of every row."""
    given = select(
        *(
            func.unnest(bindparam(f"a_{name}", list(values), type_=ARRAY(item_type))).label(name)
            for name, (values, item_type) in arrays.items()
        )
    ).subquery("given")
    names = [*constants, *arrays]
    selected = [
        *(literal(value, table.c[name].type) for name, value in constants.items()),
        *(given.c[name] for name in arrays),
    ]
    connection.execute(insert(table).from_select(names, select(*selected)))


def processed_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Iterator[tuple[Any, ...]]:
    """Each row's values as the driver takes them, through their columns' SQLAlchemy types (UTC datetimes, JSON).
    A value repeated down a column (a write's ``now``) is converted once."""
    dialect = connection.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    memo: list[dict[Any, Any]] = [{} for _ in columns]
    for row in rows:
        yield tuple(
            value
            if process is None or value is None
            else (seen[value] if value in seen else seen.setdefault(value, process(value)))
            if isinstance(value, datetime)
            else process(value)
            for value, process, seen in zip(row, processors, memo, strict=True)
        )


def copy_rows(connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL's ``COPY … FROM STDIN`` into ``table``, in the connection's transaction: each value goes through its
    column's SQLAlchemy type (UTC datetimes, JSON) as a bound parameter would. A database error is raised as
    SQLAlchemy raises it for a statement (an ``IntegrityError`` for a duplicate), so callers handle both alike."""
    quote = connection.dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(name) for name in columns)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    rows = _of_scoped_workspace(connection, table, columns, rows)
    try:
        with as_owner(connection), driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in processed_rows(connection, table, columns, rows):
                copy.write_row(row)
    except psycopg.Error as error:
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from error


def _of_scoped_workspace(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Iterable[Sequence[Any]]:
    """The rows, each checked to belong to the workspace the transaction is scoped to: ``COPY FROM`` runs as the
    owner (PostgreSQL refuses it on a table with row-level security), so the check the policy would make is made
    here, as the rows go in."""
    workspace_id = scoped_workspace(connection)
    if workspace_id is None or "workspace_id" not in columns:
        return rows
    position = list(columns).index("workspace_id")

    def checked() -> Iterator[Sequence[Any]]:
        for row in rows:
            if row[position] != workspace_id:
                raise ValueError(f"a row of workspace {row[position]} copied into {table.name} for {workspace_id}")
            yield row

    return checked()


def insert_returning_ids(
    connection: Connection, table: Table, workspace_id: int, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert many rows of a workspace's table; returns their ids in the order given.

    PostgreSQL: the ids are drawn from the table's sequence first, then the rows go in by COPY (cheaper than an
    INSERT … RETURNING of the batch); elsewhere one INSERT … RETURNING per 2,000 rows."""
    if not rows:
        return []
    if is_postgresql(connection):
        sequence = func.pg_get_serial_sequence(literal(table.name), literal("id"))
        drawn = connection.execute(select(func.nextval(sequence)).select_from(func.generate_series(1, len(rows))))
        new_ids = sorted(int(value) for value in drawn.scalars())
        names = list(rows[0])
        copy_rows(
            connection,
            table,
            ["id", "workspace_id", *names],
            ([new_id, workspace_id, *(row[name] for name in names)] for new_id, row in zip(new_ids, rows, strict=True)),
        )
        return new_ids
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


def named_columns(names: Iterable[str], table: FromClause, **others: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """The columns called ``names``, in that order: each of ``others`` labelled with its name, else ``table``'s column
    of that name. Given a record's fields, the rows read so go straight into the record (the select cannot drift
    from it)."""
    return [others[name].label(name) if name in others else table.c[name] for name in names]


def read_one(connection: Connection, statement: Select[Any], record: Callable[..., R]) -> R | None:
    """The row ``statement`` finds (one at most) as a ``record`` whose fields are its columns' names, or None."""
    row = connection.execute(statement).one_or_none()
    return record(**row._mapping) if row else None


def page_of(
    connection: Connection, statement: Select[Any], *, counted: FromClause, offset: int, limit: int
) -> tuple[list[Row[Any]], int]:
    """One page of ``statement``'s rows (it gives their order), and how many rows its conditions select of
    ``counted`` in all: the count reads only that table, not the rows the statement joins to it."""
    count = select(func.count()).select_from(counted)
    if statement.whereclause is not None:
        count = count.where(statement.whereclause)
    total = connection.execute(count).scalar_one()
    return list(connection.execute(statement.offset(offset).limit(limit)).all()), int(total)


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_folded(column: ColumnElement[str], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring test that means the same on SQLite and PostgreSQL (ASCII folding)."""
    return func.lower(column).like(f"%{like_escape(text.lower())}%", escape="\\")


def any_contains(columns: Sequence[ColumnElement[str]], text: str) -> ColumnElement[bool]:
    return or_(*(contains_folded(column, text) for column in columns))
