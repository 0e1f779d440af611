"""Stored replies for requests sent with an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import NamedTuple

from sqlalchemy import Connection
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select

from fanbase.db.repositories.sql import named_columns
from fanbase.db.repositories.sql import read_one
from fanbase.db.tables import idempotency_keys


class StoredReply(NamedTuple):
    request_hash: str
    status_code: int
    response: Any


def find_reply(connection: Connection, workspace_id: int, key: str) -> StoredReply | None:
    statement = select(*named_columns(StoredReply._fields, idempotency_keys)).where(
        idempotency_keys.c.workspace_id == workspace_id, idempotency_keys.c.key == key
    )
    return read_one(connection, statement, StoredReply)


def store_reply(connection: Connection, workspace_id: int, key: str, *, reply: StoredReply, now: datetime) -> None:
    connection.execute(
        insert(idempotency_keys).values(workspace_id=workspace_id, key=key, created_at=now, **reply._asdict())
    )


def forget_reply(connection: Connection, workspace_id: int, key: str, *, stored_before: datetime) -> None:
    """Forget the key's reply if it was stored before ``stored_before`` (it has expired)."""
    connection.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.workspace_id == workspace_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.created_at < stored_before,
        )
    )


def forget_replies_before(connection: Connection, *, stored_before: datetime) -> int:
    """Forget every reply stored before ``stored_before`` (expired keys); how many."""
    result = connection.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < stored_before))
    return int(result.rowcount or 0)


def forget_replies_naming_fan(connection: Connection, workspace_id: int, fan_id: int) -> int:
    """Forget the replies that name a fan (a recorded order's or event's ``fan_id``): erasure leaves no copy."""
    result = connection.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.workspace_id == workspace_id,
            idempotency_keys.c.response["fan_id"].as_integer() == fan_id,
        )
    )
    return int(result.rowcount or 0)
