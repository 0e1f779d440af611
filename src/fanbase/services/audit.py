"""The audit log: who did what, to what, when and from where.

A use case that changes who can get in (keys, users, sign-ins), takes data out (exports) or destroys it (erasure,
a segment's deletion, webhooks) records an entry with ``record`` in its own transaction, so an entry exists exactly
when the change does. Sign-ins are recorded in the signing-in user's workspace (an unknown email has none: its
failures are counted by the throttles, not logged). Entries are kept ``retention`` long (FANBASE_AUDIT_RETENTION_DAYS).
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any

from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import audit as audit_repo
from fanbase.schemas.audit import Actor
from fanbase.schemas.audit import AuditAction
from fanbase.schemas.audit import AuditEntry
from fanbase.schemas.common import Page

RETENTION = timedelta(days=365)


def record(
    connection: Connection,
    workspace_id: int,
    actor: Actor | None,
    action: AuditAction,
    *,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    """Add an entry in the caller's transaction; nothing when no actor is known (a service called from a test or a
    job acting for no one)."""
    if actor is None:
        return
    audit_repo.add(
        connection,
        workspace_id,
        at=now,
        actor=actor.label,
        client=actor.client,
        action=action,
        target=target,
        details=details,
    )


def entries(
    database: Database, workspace_id: int, *, action: AuditAction | None = None, page: int, page_size: int
) -> Page[AuditEntry]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        rows, total = audit_repo.page(
            connection, workspace_id, action=action, offset=(page - 1) * page_size, limit=page_size
        )
    items = [AuditEntry.model_validate(row, from_attributes=True) for row in rows]
    return Page(items=items, total=total, page=page, page_size=page_size)


def forget_old(database: Database, *, now: datetime, retention: timedelta = RETENTION) -> int:
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:  # a chore over every workspace
        return audit_repo.forget_before(connection, before=now - retention)
