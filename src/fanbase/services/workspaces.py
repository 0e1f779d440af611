"""Workspaces and API keys: create, authenticate, revoke."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from datetime import timedelta

from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.engine import scope_to_workspace
from fanbase.db.repositories import workspaces as workspaces_repo
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.errors import Unauthorized
from fanbase.schemas.audit import Actor
from fanbase.schemas.workspaces import ApiKey
from fanbase.schemas.workspaces import ApiKeyCreated
from fanbase.schemas.workspaces import Workspace
from fanbase.schemas.workspaces import WorkspaceCreated
from fanbase.schemas.workspaces import WorkspaceSettingsIn
from fanbase.services import audit

KEY_PREFIX_LENGTH = 11  # "fb_" + 8 hex characters: unique, shown in listings, not secret
# last_used_at is a hint for people, not an audit log: writing it on every request would make every read a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> str:
    return f"fb_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def create_workspace(database: Database, *, name: str, currency: str = "USD", now: datetime) -> WorkspaceCreated:
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:  # scoped once the workspace exists
        return create_workspace_within(connection, name=name, currency=currency, now=now)


def create_workspace_within(
    connection: Connection, *, name: str, currency: str = "USD", now: datetime
) -> WorkspaceCreated:
    """Create a workspace and its first key inside the caller's transaction (e.g. with its demo data)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("must be 1 to 200 characters", field="name")
    currency = currency.upper()
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidInput("must be a three-letter ISO 4217 code", field="currency")
    workspace = workspaces_repo.insert_workspace(connection, name=name, currency=currency, now=now)
    scope_to_workspace(connection, workspace.id)
    key = _issue_key(connection, workspace.id, name="default", now=now)
    return WorkspaceCreated(workspace=workspace, api_key=key)


def _issue_key(connection: Connection, workspace_id: int, *, name: str, now: datetime) -> ApiKeyCreated:
    key = _new_key()
    record = workspaces_repo.insert_api_key(
        connection, workspace_id, name=name, prefix=key[:KEY_PREFIX_LENGTH], key_hash=_hash_key(key), now=now
    )
    return ApiKeyCreated(**record.model_dump(), key=key)


def create_api_key(
    database: Database, workspace_id: int, *, name: str, now: datetime, actor: Actor | None = None
) -> ApiKeyCreated:
    with database.transaction(workspace_id=workspace_id) as connection:
        if workspaces_repo.get_workspace(connection, workspace_id) is None:
            raise NotFound(f"workspace {workspace_id} not found")
        created = _issue_key(connection, workspace_id, name=name.strip() or "key", now=now)
        audit.record(
            connection,
            workspace_id,
            actor,
            "api_key.created",
            target=f"API key {created.prefix} ({created.name})",
            now=now,
        )
        return created


def replace_api_key(database: Database, workspace_id: int, *, name: str, now: datetime) -> ApiKeyCreated:
    """Revoke the workspace's live keys named ``name`` and issue a new one, in one transaction: each start of the
    demo (``serve --demo``) prints a fresh key and leaves only that one valid."""
    with database.transaction(workspace_id=workspace_id) as connection:
        if workspaces_repo.get_workspace(connection, workspace_id) is None:
            raise NotFound(f"workspace {workspace_id} not found")
        for key in workspaces_repo.list_api_keys(connection, workspace_id):
            if key.name == name and key.revoked_at is None:
                workspaces_repo.revoke_api_key(connection, workspace_id, key.id, now=now)
        return _issue_key(connection, workspace_id, name=name, now=now)


def list_api_keys(database: Database, workspace_id: int) -> list[ApiKey]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return workspaces_repo.list_api_keys(connection, workspace_id)


def revoke_api_key(
    database: Database, workspace_id: int, key_id: int, *, now: datetime, actor: Actor | None = None
) -> None:
    with database.transaction(workspace_id=workspace_id) as connection:
        if not workspaces_repo.revoke_api_key(connection, workspace_id, key_id, now=now):
            raise NotFound(f"API key {key_id} not found")
        audit.record(connection, workspace_id, actor, "api_key.revoked", target=f"API key {key_id}", now=now)


def authenticate(database: Database, key: str, *, now: datetime) -> int:
    """The workspace a key belongs to; Unauthorized if the key is unknown or revoked."""
    with database.transaction(workspace_id=ACROSS_WORKSPACES, write=False) as connection:  # finds the workspace
        found = workspaces_repo.find_api_key(connection, key[:KEY_PREFIX_LENGTH])
    if found is None or not hmac.compare_digest(found["key_hash"], _hash_key(key)):
        raise Unauthorized("unknown API key")
    if found["revoked_at"] is not None:
        raise Unauthorized("this API key has been revoked")
    last_used = found["last_used_at"]
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        with database.transaction(workspace_id=int(found["workspace_id"])) as connection:
            workspaces_repo.touch_api_key(connection, found["id"], now=now)
    return int(found["workspace_id"])


def get_workspace(database: Database, workspace_id: int) -> Workspace:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        workspace = workspaces_repo.get_workspace(connection, workspace_id)
    if workspace is None:
        raise NotFound(f"workspace {workspace_id} not found")
    return workspace


def list_workspaces(database: Database) -> list[Workspace]:
    with database.transaction(workspace_id=ACROSS_WORKSPACES, write=False) as connection:  # every workspace
        return workspaces_repo.list_workspaces(connection)


def update_settings(
    database: Database, workspace_id: int, settings: WorkspaceSettingsIn, *, now: datetime, actor: Actor | None
) -> Workspace:
    """Change the workspace's settings (only those given); audited."""
    with database.transaction(workspace_id=workspace_id) as connection:
        if settings.lifecycle_from_purchases is not None:
            workspaces_repo.set_lifecycle_from_purchases(connection, workspace_id, settings.lifecycle_from_purchases)
            details = settings.model_dump(exclude_none=True)
            audit.record(
                connection, workspace_id, actor, "workspace.updated", target="workspace", details=details, now=now
            )
        workspace = workspaces_repo.get_workspace(connection, workspace_id)
    assert workspace is not None
    return workspace
