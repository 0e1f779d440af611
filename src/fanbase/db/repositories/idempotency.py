"""Stored replies for requests sent with an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import NamedTuple

from sqlalchemy import Connection
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select

from fanbase.db.tables import idempotency_keys


class StoredReply(NamedTuple):
    request_hash: str
    status_code: int
    response: Any


def find_reply(connection: Connection, workspace_id: int, key: str) -> StoredReply | None:
    row = connection.execute(
        select(idempotency_keys.c.request_hash, idempotency_keys.c.status_code, idempotency_keys.c.response).where(
            idempotency_keys.c.workspace_id == workspace_id, idempotency_keys.c.key == key
        )
    ).one_or_none()
    return StoredReply(**row._mapping) if row else None


def store_reply(
    connection: Connection,
    workspace_id: int,
    key: str,
    *,
    request_hash: str,
    status_code: int,
    response: Any,
    now: datetime,
) -> None:
    connection.execute(
        insert(idempotency_keys).values(
            workspace_id=workspace_id,
            key=key,
            request_hash=request_hash,
            status_code=status_code,
            response=response,
            created_at=now,
        )
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
