"""The pieces every table is built from: the metadata with its naming convention, the id and JSON types, and the
shapes of workspace tables (each key and foreign key leading with ``workspace_id``; see ``tables``)."""

from __future__ import annotations

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import ForeignKeyConstraint
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import PrimaryKeyConstraint
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.schema import SchemaItem

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite auto-increments only INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL (indexable, compact); JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")


def check_in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def workspace_fk(*columns: str, table: str, ondelete: str = "CASCADE") -> ForeignKeyConstraint:
    """A foreign key that leads with workspace_id, so it can never point into another workspace."""
    return ForeignKeyConstraint(["workspace_id", *columns], [f"{table}.workspace_id", f"{table}.id"], ondelete=ondelete)


def id_column() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


def workspace_id_column() -> Column[int]:
    """The workspace owning the row, deleted with it."""
    return Column("workspace_id", Id, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False)


def workspace_references(**tables: str) -> list[SchemaItem]:
    """``workspace_id`` and one column per referenced table (``fan_id="fans"``), each a foreign key leading with
    workspace_id."""
    return [
        Column("workspace_id", Id, nullable=False),
        *(Column(column, Id, nullable=False) for column in tables),
        *(workspace_fk(column, table=table) for column, table in tables.items()),
    ]


def workspace_table(name: str, *items: SchemaItem) -> Table:
    """A table of things a workspace owns, with a surrogate id that other tables reference with the workspace."""
    return Table(name, metadata, id_column(), workspace_id_column(), *items, UniqueConstraint("workspace_id", "id"))


def named_table(name: str, *items: SchemaItem) -> Table:
    """Tags, lists and segments: rules name them, case-insensitively (``name_key`` is the casefolded name)."""
    return workspace_table(
        name,
        Column("name", String(100), nullable=False),
        Column("name_key", String(100), nullable=False),
        *items,
        UniqueConstraint("workspace_id", "name_key"),
    )


def records_table(name: str, *items: SchemaItem, **references: str) -> Table:
    """Rows with a surrogate id that belong to rows of their workspace (``fan_id="fans"``): orders, events, ledgers."""
    return Table(name, metadata, id_column(), *workspace_references(**references), *items)


def membership_table(name: str, *items: SchemaItem, group: str, table: str, covering: tuple[str, ...] = ()) -> Table:
    """Who is in a tag, list or segment (``group`` in ``table``) now: one row per fan in it, and an index that
    finds a fan's groups (with the ``covering`` columns, so reading them needs no visit to the table)."""
    return Table(
        name,
        metadata,
        *workspace_references(**{group: table, "fan_id": "fans"}),
        *items,
        PrimaryKeyConstraint("workspace_id", group, "fan_id"),
        Index(f"ix_{name}_workspace_fan", "workspace_id", "fan_id", group, *covering),
    )
