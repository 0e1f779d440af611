"""Suppressed emails, by the SHA-256 of the normalised address."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fanbase.db.repositories.sql import chunks
from fanbase.db.tables import suppressions


def add(
    connection: Connection, workspace_id: int, email_sha256: str, *, reason: str, at: datetime, fan_id: int | None
) -> None:
    """Suppress an address held by ``fan_id`` (None: by no fan). Already suppressed, it keeps its reason and time
    and takes the fan given."""
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(suppressions).values(
        workspace_id=workspace_id, email_sha256=email_sha256, reason=reason, at=at, fan_id=fan_id
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[suppressions.c.workspace_id, suppressions.c.email_sha256],
            set_={"fan_id": statement.excluded.fan_id},
        )
    )


def relink_fan(connection: Connection, workspace_id: int, fan_id: int, email_sha256: str) -> None:
    """A fan's address changed: the suppressions of its old address no longer name it, and one of its new does."""
    connection.execute(
        update(suppressions)
        .where(suppressions.c.workspace_id == workspace_id, suppressions.c.fan_id == fan_id)
        .values(fan_id=None)
    )
    connection.execute(
        update(suppressions)
        .where(suppressions.c.workspace_id == workspace_id, suppressions.c.email_sha256 == email_sha256)
        .values(fan_id=fan_id)
    )


def find(connection: Connection, workspace_id: int, hashes: Collection[str]) -> dict[str, Any]:
    """The suppressions among these hashes: hash → row (reason, at)."""
    found: dict[str, Any] = {}
    for chunk in chunks(sorted(set(hashes))):
        rows = connection.execute(
            select(suppressions.c.email_sha256, suppressions.c.reason, suppressions.c.at).where(
                suppressions.c.workspace_id == workspace_id, suppressions.c.email_sha256.in_(chunk)
            )
        )
        found.update((row.email_sha256, row) for row in rows)
    return found


def remove(connection: Connection, workspace_id: int, email_sha256: str) -> bool:
    result = connection.execute(
        delete(suppressions).where(
            suppressions.c.workspace_id == workspace_id, suppressions.c.email_sha256 == email_sha256
        )
    )
    return bool(result.rowcount)
