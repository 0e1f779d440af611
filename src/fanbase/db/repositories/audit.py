"""The audit log's rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Row
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select

from fanbase.db.repositories.sql import page_of
from fanbase.db.tables import audit_log


def add(
    connection: Connection,
    workspace_id: int,
    *,
    at: datetime,
    actor: str,
    client: str | None,
    action: str,
    target: str | None,
    details: dict[str, Any] | None,
) -> None:
    connection.execute(
        insert(audit_log).values(
            workspace_id=workspace_id,
            at=at,
            actor=actor[:320],
            client=client[:100] if client else None,
            action=action,
            target=target[:320] if target else None,
            details=details,
        )
    )


def page(
    connection: Connection, workspace_id: int, *, action: str | None, offset: int, limit: int
) -> tuple[list[Row[Any]], int]:
    """The workspace's entries, newest first (one page), and how many there are."""
    statement = select(audit_log).where(audit_log.c.workspace_id == workspace_id)
    if action is not None:
        statement = statement.where(audit_log.c.action == action)
    newest_first = statement.order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
    return page_of(connection, newest_first, counted=audit_log, offset=offset, limit=limit)


def forget_before(connection: Connection, *, before: datetime) -> int:
    result = connection.execute(delete(audit_log).where(audit_log.c.at < before))
    return int(result.rowcount or 0)
