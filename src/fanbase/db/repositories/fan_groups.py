"""What tags and lists share as tables: rows of a workspace, unique and found by their case-folded name.

``FanGroupTable`` is one such table read as its record (``Tag``, ``FanList``); the module functions take the table
itself, for the callers that handle tags and lists alike (creating them by name on import, the rule context).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Generic
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import Column
from sqlalchemy import Connection
from sqlalchemy import Select
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.sql import ColumnElement

from fanbase.db.repositories.sql import chunks

RecordT = TypeVar("RecordT", bound=BaseModel)


def name_key(name: str) -> str:
    """Tags and lists are unique, and found, by their case-folded name."""
    return name.strip().casefold()


def ids_by_name(connection: Connection, table: Table, workspace_id: int, names: Iterable[str]) -> dict[str, int]:
    """Map case-folded names to ids, for tags or lists."""
    keys = sorted({name_key(name) for name in names})
    found: dict[str, int] = {}
    for chunk in chunks(keys):
        rows = connection.execute(
            select(table.c.name_key, table.c.id).where(
                table.c.workspace_id == workspace_id, table.c.name_key.in_(chunk)
            )
        )
        found.update(dict(rows.all()))
    return found


def all_ids_by_name(connection: Connection, table: Table, workspace_id: int) -> dict[str, int]:
    """Every tag or list of the workspace: case-folded name → id."""
    rows = connection.execute(select(table.c.name_key, table.c.id).where(table.c.workspace_id == workspace_id))
    return dict(rows.all())


def all_names_and_ids(connection: Connection, table: Table, workspace_id: int) -> dict[str, tuple[str, int]]:
    """Every tag or list of the workspace: case-folded name → (its name as written, its id)."""
    rows = connection.execute(
        select(table.c.name_key, table.c.name, table.c.id).where(table.c.workspace_id == workspace_id)
    )
    return {key: (name, group_id) for key, name, group_id in rows}


def insert_named(
    connection: Connection, table: Table, workspace_id: int, names: Sequence[str], *, now: datetime
) -> dict[str, int]:
    """Create tags or lists by name (the names must be new); returns case-folded name → id."""
    if not names:
        return {}
    rows = [
        {"workspace_id": workspace_id, "name": name, "name_key": name_key(name), "created_at": now} for name in names
    ]
    result = connection.execute(
        insert(table).returning(table.c.name_key, table.c.id, sort_by_parameter_order=True), rows
    )
    return dict(result.all())


def delete_fan_links(
    connection: Connection,
    links: Table,
    group_column: Column[int],
    workspace_id: int,
    group_id: int,
    fan_ids: Sequence[int],
) -> list[int]:
    """Drop the rows tying these fans to one tag or list; returns the fans that had one."""
    removed: list[int] = []
    for chunk in chunks(sorted(set(fan_ids))):
        result = connection.execute(
            delete(links)
            .where(links.c.workspace_id == workspace_id, group_column == group_id, links.c.fan_id.in_(chunk))
            .returning(links.c.fan_id)
        )
        removed.extend(result.scalars())
    return removed


@dataclass(frozen=True)
class FanGroupTable(Generic[RecordT]):
    """The tags or the lists table, read as its record with the counts the record carries."""

    table: Table
    record: type[RecordT]
    columns: Callable[[], Sequence[ColumnElement[Any]]]

    def _select(self) -> Select[Any]:
        return select(*self.columns())

    def ids_by_name(self, connection: Connection, workspace_id: int, names: Iterable[str]) -> dict[str, int]:
        return ids_by_name(connection, self.table, workspace_id, names)

    def all_ids_by_name(self, connection: Connection, workspace_id: int) -> dict[str, int]:
        return all_ids_by_name(connection, self.table, workspace_id)

    def all_names_and_ids(self, connection: Connection, workspace_id: int) -> dict[str, tuple[str, int]]:
        return all_names_and_ids(connection, self.table, workspace_id)

    def ensure_named(
        self, connection: Connection, workspace_id: int, names: Iterable[str], *, now: datetime
    ) -> dict[str, int]:
        """Ids by case-folded name, creating the missing ones (the first spelling of a name wins)."""
        wanted: dict[str, str] = {}
        for name in names:
            wanted.setdefault(name_key(name), name.strip())
        found = self.ids_by_name(connection, workspace_id, wanted)
        missing = [name for key, name in wanted.items() if key not in found]
        found.update(insert_named(connection, self.table, workspace_id, missing, now=now))
        return found

    def insert(self, connection: Connection, workspace_id: int, values: Mapping[str, Any], *, now: datetime) -> int:
        table = self.table
        return int(
            connection.execute(
                insert(table)
                .values(workspace_id=workspace_id, name_key=name_key(values["name"]), created_at=now, **values)
                .returning(table.c.id)
            ).scalar_one()
        )

    def get(self, connection: Connection, workspace_id: int, group_id: int) -> RecordT | None:
        table = self.table
        row = connection.execute(
            self._select().where(table.c.workspace_id == workspace_id, table.c.id == group_id)
        ).one_or_none()
        return self.record.model_validate(row._mapping) if row else None

    def list_all(self, connection: Connection, workspace_id: int) -> list[RecordT]:
        table = self.table
        rows = connection.execute(self._select().where(table.c.workspace_id == workspace_id).order_by(table.c.name_key))
        return [self.record.model_validate(row._mapping) for row in rows]

    def update(self, connection: Connection, workspace_id: int, group_id: int, values: Mapping[str, Any]) -> None:
        table = self.table
        extra = {"name_key": name_key(values["name"])} if "name" in values else {}
        connection.execute(
            update(table).where(table.c.workspace_id == workspace_id, table.c.id == group_id).values(**values, **extra)
        )

    def delete(self, connection: Connection, workspace_id: int, group_id: int) -> bool:
        table = self.table
        result = connection.execute(delete(table).where(table.c.workspace_id == workspace_id, table.c.id == group_id))
        return result.rowcount > 0
