"""Lists and their members' subscription statuses, with the consent log (one row per status change or removal)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.sql import ColumnElement

from fanbase.db.repositories.fan_groups import FanGroupTable
from fanbase.db.repositories.fan_groups import delete_fan_links
from fanbase.db.repositories.sql import chunks
from fanbase.db.repositories.sql import insert_rows
from fanbase.db.repositories.sql import named_columns
from fanbase.db.tables import list_members
from fanbase.db.tables import list_subscription_log
from fanbase.db.tables import lists
from fanbase.schemas.lists import FanList
from fanbase.schemas.lists import ListMembership
from fanbase.schemas.lists import SubscriptionStatus


def _status_count(status: SubscriptionStatus) -> ColumnElement[int]:
    return (
        select(func.count())
        .where(
            list_members.c.workspace_id == lists.c.workspace_id,
            list_members.c.list_id == lists.c.id,
            list_members.c.status == status,
        )
        .scalar_subquery()
        .label(status)
    )


def _list_columns() -> list[ColumnElement[Any]]:
    counts = [_status_count("subscribed"), _status_count("unsubscribed"), _status_count("bounced")]
    return [lists.c.id, lists.c.name, lists.c.description, lists.c.created_at, *counts]


LISTS = FanGroupTable(table=lists, record=FanList, columns=_list_columns)

# For the callers that write or check one list outside the list service (the demo, the history).
insert_list, get_list = LISTS.insert, LISTS.get


def _members_among(workspace_id: int, list_id: int, fan_ids: Sequence[int]) -> tuple[ColumnElement[bool], ...]:
    """The list's membership rows of these fans."""
    return (
        list_members.c.workspace_id == workspace_id,
        list_members.c.list_id == list_id,
        list_members.c.fan_id.in_(fan_ids),
    )


def current_statuses(
    connection: Connection, workspace_id: int, list_id: int, fan_ids: Sequence[int]
) -> dict[int, SubscriptionStatus]:
    statuses: dict[int, SubscriptionStatus] = {}
    for chunk in chunks(sorted(set(fan_ids))):
        rows = connection.execute(
            select(list_members.c.fan_id, list_members.c.status).where(*_members_among(workspace_id, list_id, chunk))
        )
        statuses.update(dict(rows.all()))
    return statuses


def set_statuses(
    connection: Connection,
    workspace_id: int,
    list_id: int,
    fan_ids: Sequence[int],
    *,
    status: SubscriptionStatus,
    consent_source: str | None,
    consent_at: datetime | None,
    now: datetime,
) -> list[int]:
    """Set a list status for fans and log each change (the consent record). Returns the fans whose status changed.

    A fan already in that status is left alone, so repeating a subscribe neither rewrites consent nor logs twice.
    """
    current = current_statuses(connection, workspace_id, list_id, fan_ids)
    changed = sorted(fan_id for fan_id in set(fan_ids) if current.get(fan_id) != status)
    if not changed:
        return []
    consent = {"consent_at": consent_at or now, "consent_source": consent_source} if status == "subscribed" else {}
    new = [fan_id for fan_id in changed if fan_id not in current]
    old = [fan_id for fan_id in changed if fan_id in current]
    insert_rows(
        connection,
        list_members,
        [
            {
                "workspace_id": workspace_id,
                "list_id": list_id,
                "fan_id": fan_id,
                "status": status,
                "status_changed_at": now,
                "consent_at": consent.get("consent_at"),
                "consent_source": consent.get("consent_source"),
            }
            for fan_id in new
        ],
    )
    for chunk in chunks(old):
        connection.execute(
            update(list_members)
            .where(*_members_among(workspace_id, list_id, chunk))
            .values(status=status, status_changed_at=now, **consent)
        )
    _log_statuses(connection, workspace_id, list_id, changed, status=status, source=consent_source, now=now)
    return changed


def remove_members(
    connection: Connection, workspace_id: int, list_id: int, fan_ids: Sequence[int], *, now: datetime
) -> list[int]:
    removed = delete_fan_links(connection, list_members, list_members.c.list_id, workspace_id, list_id, fan_ids)
    # The consent log keeps the fact that the membership was dropped (and list sizes over time read it).
    _log_statuses(connection, workspace_id, list_id, removed, status="removed", source=None, now=now)
    return removed


def _log_statuses(
    connection: Connection,
    workspace_id: int,
    list_id: int,
    fan_ids: Sequence[int],
    *,
    status: str,
    source: str | None,
    now: datetime,
) -> None:
    insert_rows(
        connection,
        list_subscription_log,
        [
            {
                "workspace_id": workspace_id,
                "list_id": list_id,
                "fan_id": fan_id,
                "status": status,
                "source": source,
                "at": now,
            }
            for fan_id in fan_ids
        ],
    )


def memberships_of_fan(connection: Connection, workspace_id: int, fan_id: int) -> list[ListMembership]:
    rows = connection.execute(
        select(*named_columns(ListMembership.model_fields, list_members, list_name=lists.c.name))
        .join(lists, and_(lists.c.workspace_id == list_members.c.workspace_id, lists.c.id == list_members.c.list_id))
        .where(list_members.c.workspace_id == workspace_id, list_members.c.fan_id == fan_id)
        .order_by(lists.c.name_key)
    )
    return [ListMembership.model_validate(row._mapping) for row in rows]
