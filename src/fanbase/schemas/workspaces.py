"""Workspaces and their API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from fanbase.schemas.common import Input
from fanbase.schemas.common import Record


class Workspace(Record):
    id: int
    name: str
    currency: str
    created_at: datetime
    lifecycle_from_purchases: bool = Field(
        description="A first completed purchase makes a subscriber or lead a customer (logged as a "
        "lifecycle_changed event)."
    )


class WorkspaceSettingsIn(Input):
    lifecycle_from_purchases: bool | None = None


class ApiKey(Record):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret. Shown once: only its hash is stored.")


class WorkspaceCreated(Record):
    workspace: Workspace
    api_key: ApiKeyCreated
