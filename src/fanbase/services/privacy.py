"""Privacy requests: a fan's data, all of it, in one document (subject access). Erasure is ``fans.delete_fan``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from fanbase.db.engine import Database
from fanbase.db.repositories import activity as activity_repo
from fanbase.db.repositories import history as history_repo
from fanbase.db.repositories import lists as lists_repo
from fanbase.db.repositories import recipients as recipients_repo
from fanbase.schemas.audit import Actor
from fanbase.schemas.privacy import FanExport
from fanbase.schemas.privacy import MailReceived
from fanbase.services import audit
from fanbase.services.fans import load_fan

T = TypeVar("T")
# Rows are read in pages of this size (every page, so the export is complete).
READ_PAGE = 5_000


def _all(read: Callable[[int, int], list[T]]) -> list[T]:
    rows: list[T] = []
    while True:
        page = read(READ_PAGE, len(rows))
        rows.extend(page)
        if len(page) < READ_PAGE:
            return rows


def export_fan(
    database: Database, workspace_id: int, fan_id: int, *, now: datetime, actor: Actor | None = None
) -> FanExport:
    """Everything held about a fan, read in one transaction (a consistent picture); the export is audited."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        fan = load_fan(connection, workspace_id, fan_id)
        exported = FanExport(
            exported_at=now,
            fan=fan,
            lists=lists_repo.memberships_of_fan(connection, workspace_id, fan_id),
            segments=history_repo.current_memberships(connection, workspace_id, fan_id),
            segment_history=_all(
                lambda limit, offset: history_repo.segment_log(
                    connection, workspace_id, fan_id=fan_id, limit=limit, offset=offset
                )[0]
            ),
            orders=_all(
                lambda limit, offset: activity_repo.orders_of_fan(
                    connection, workspace_id, fan_id, limit=limit, offset=offset
                )
            ),
            events=_all(
                lambda limit, offset: activity_repo.events_of_fan(
                    connection, workspace_id, fan_id, limit=limit, offset=offset
                )
            ),
            mail=[
                MailReceived.model_validate(dict(row._mapping))
                for row in recipients_repo.mail_of_fan(connection, workspace_id, fan_id)
            ],
        )
    with database.transaction(workspace_id=workspace_id) as connection:  # of its own: an export only reads
        audit.record(connection, workspace_id, actor, "export.fan", target=f"fan {fan_id}", now=now)
    return exported
