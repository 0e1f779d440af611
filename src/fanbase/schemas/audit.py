"""The audit log's records: who acted (an actor), and each entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import Literal

from pydantic import Field

from fanbase.schemas.common import Record

AuditAction = Literal[
    "api_key.created",
    "api_key.revoked",
    "user.created",
    "sign_in.succeeded",
    "sign_in.failed",
    "export.fans",
    "export.members",
    "export.fan",
    "fan.erased",
    "webhook.created",
    "webhook.disabled",
    "segment.deleted",
    "suppression.added",
    "suppression.lifted",
    "message.scheduled",
    "message.unscheduled",
    "message.sent",
    "message.cancelled",
    "workspace.updated",
    "sales_source.created",
    "sales_source.deleted",
]
AUDIT_ACTIONS: tuple[AuditAction, ...] = AuditAction.__args__  # type: ignore[attr-defined]


class Actor(Record):
    """Who acted: an API key (by its public prefix), a dashboard user (by email) or the command line."""

    kind: Literal["api_key", "user", "command_line"]
    name: str = Field(description="fb_1a2b3c4d for a key, the email for a user, the system user for the CLI.")
    client: str | None = Field(default=None, description="The client's address, when over HTTP.")

    @property
    def label(self) -> str:
        prefix = {"api_key": "API key", "user": "user", "command_line": "command line"}[self.kind]
        return f"{prefix} {self.name}"


class AuditEntry(Record):
    id: int
    at: datetime
    actor: str = Field(description='e.g. "API key fb_1a2b3c4d", "user ann@example.com", "command line root".')
    client: str | None
    action: AuditAction
    target: str | None = Field(description='What it was done to, e.g. "fan 42", "segment 7 (VIPs)".')
    details: dict[str, Any] | None
