"""Workspaces and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict
from typing import cast

from sqlalchemy import Connection
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from fanbase.db.repositories.sql import insert_returning_row
from fanbase.db.tables import api_keys
from fanbase.db.tables import workspaces
from fanbase.schemas.workspaces import ApiKey
from fanbase.schemas.workspaces import Workspace

# A workspace as the services see it (the rules token is the write path's business: ``rules_token``).
_WORKSPACE_COLUMNS = (
    workspaces.c.id,
    workspaces.c.name,
    workspaces.c.currency,
    workspaces.c.created_at,
    workspaces.c.lifecycle_from_purchases,
)


def insert_workspace(connection: Connection, *, name: str, currency: str, now: datetime) -> Workspace:
    row = connection.execute(
        insert(workspaces).values(name=name, currency=currency, created_at=now).returning(*_WORKSPACE_COLUMNS)
    ).one()
    return Workspace.model_validate(row._mapping)


def get_workspace(connection: Connection, workspace_id: int) -> Workspace | None:
    row = connection.execute(select(*_WORKSPACE_COLUMNS).where(workspaces.c.id == workspace_id)).one_or_none()
    return Workspace.model_validate(row._mapping) if row else None


def set_lifecycle_from_purchases(connection: Connection, workspace_id: int, value: bool) -> None:
    connection.execute(update(workspaces).where(workspaces.c.id == workspace_id).values(lifecycle_from_purchases=value))


def rules_token(connection: Connection, workspace_id: int) -> int | None:
    """The workspace's rules token (see ``tables.workspaces``); None when there is no such workspace."""
    token = connection.execute(select(workspaces.c.rules_token).where(workspaces.c.id == workspace_id)).scalar()
    return None if token is None else int(token)


def list_workspaces(connection: Connection) -> list[Workspace]:
    rows = connection.execute(select(*_WORKSPACE_COLUMNS).order_by(workspaces.c.id))
    return [Workspace.model_validate(row._mapping) for row in rows]


_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.prefix,
    api_keys.c.created_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
)


def insert_api_key(
    connection: Connection, workspace_id: int, *, name: str, prefix: str, key_hash: str, now: datetime
) -> ApiKey:
    values = {"workspace_id": workspace_id, "name": name, "prefix": prefix, "key_hash": key_hash, "created_at": now}
    return ApiKey.model_validate(insert_returning_row(connection, api_keys, values, _KEY_COLUMNS))


class StoredApiKey(TypedDict):
    """What checking a presented key needs (read by key, as the callers did with the plain row)."""

    id: int
    workspace_id: int
    key_hash: str
    revoked_at: datetime | None
    last_used_at: datetime | None


def find_api_key(connection: Connection, prefix: str) -> StoredApiKey | None:
    row = connection.execute(
        select(
            api_keys.c.id,
            api_keys.c.workspace_id,
            api_keys.c.key_hash,
            api_keys.c.revoked_at,
            api_keys.c.last_used_at,
        ).where(api_keys.c.prefix == prefix)
    ).one_or_none()
    # The selected columns are the record's keys, one for one.
    return cast(StoredApiKey, dict(row._mapping)) if row else None


def touch_api_key(connection: Connection, key_id: int, *, now: datetime) -> None:
    connection.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))


def list_api_keys(connection: Connection, workspace_id: int) -> list[ApiKey]:
    rows = connection.execute(
        select(*_KEY_COLUMNS).where(api_keys.c.workspace_id == workspace_id).order_by(api_keys.c.id)
    )
    return [ApiKey.model_validate(row._mapping) for row in rows]


def revoke_api_key(connection: Connection, workspace_id: int, key_id: int, *, now: datetime) -> bool:
    result = connection.execute(
        update(api_keys)
        .where(api_keys.c.workspace_id == workspace_id, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount > 0
