"""Tags, lists, fan↔tag links and list memberships (with the consent log)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, func, insert, select, update
from sqlalchemy.sql import ColumnElement

from fanbase.db.repositories import webhooks as webhooks_repo
from fanbase.db.repositories.sql import chunks
from fanbase.db.tables import fan_tags, list_members, list_subscription_log, lists, tag_membership_log, tags
from fanbase.schemas.lists import FanList, ListMembership, SubscriptionStatus
from fanbase.schemas.tags import Tag


def name_key(name: str) -> str:
    """Tags and lists are unique, and found, by their case-folded name."""
    return name.strip().casefold()


# --- tags ------------------------------------------------------------------------------------------------


def _tag_count() -> ColumnElement[int]:
    return (
        select(func.count())
        .where(fan_tags.c.workspace_id == tags.c.workspace_id, fan_tags.c.tag_id == tags.c.id)
        .scalar_subquery()
    )


def _tag_select() -> Any:
    return select(
        tags.c.id,
        tags.c.name,
        tags.c.color,
        tags.c.category,
        tags.c.description,
        tags.c.created_at,
        _tag_count().label("fan_count"),
    )


def insert_tag(connection: Connection, workspace_id: int, values: Mapping[str, Any], *, now: datetime) -> int:
    return int(
        connection.execute(
            insert(tags)
            .values(workspace_id=workspace_id, name_key=name_key(values["name"]), created_at=now, **values)
            .returning(tags.c.id)
        ).scalar_one()
    )


def get_tag(connection: Connection, workspace_id: int, tag_id: int) -> Tag | None:
    row = connection.execute(
        _tag_select().where(tags.c.workspace_id == workspace_id, tags.c.id == tag_id)
    ).one_or_none()
    return Tag.model_validate(row._mapping) if row else None


def list_tags(connection: Connection, workspace_id: int) -> list[Tag]:
    rows = connection.execute(_tag_select().where(tags.c.workspace_id == workspace_id).order_by(tags.c.name_key))
    return [Tag.model_validate(row._mapping) for row in rows]


def update_tag(connection: Connection, workspace_id: int, tag_id: int, values: Mapping[str, Any]) -> None:
    extra = {"name_key": name_key(values["name"])} if "name" in values else {}
    connection.execute(
        update(tags).where(tags.c.workspace_id == workspace_id, tags.c.id == tag_id).values(**values, **extra)
    )


def delete_row(connection: Connection, table: Table, workspace_id: int, row_id: int) -> bool:
    result = connection.execute(delete(table).where(table.c.workspace_id == workspace_id, table.c.id == row_id))
    return result.rowcount > 0


def ids_by_name(connection: Connection, table: Table, workspace_id: int, names: Iterable[str]) -> dict[str, int]:
    """Map case-folded names to ids, for tags or lists."""
    keys = sorted({name_key(name) for name in names})
    found: dict[str, int] = {}
    for chunk in chunks(keys):
        rows = connection.execute(
            select(table.c.name_key, table.c.id).where(
                table.c.workspace_id == workspace_id, table.c.name_key.in_(chunk)
            )
        )
        found.update(dict(rows.all()))
    return found


def all_ids_by_name(connection: Connection, table: Table, workspace_id: int) -> dict[str, int]:
    """Every tag or list of the workspace: case-folded name → id."""
    rows = connection.execute(select(table.c.name_key, table.c.id).where(table.c.workspace_id == workspace_id))
    return dict(rows.all())


def insert_named(
    connection: Connection, table: Table, workspace_id: int, names: Sequence[str], *, now: datetime
) -> dict[str, int]:
    """Create tags or lists by name (the names must be new); returns case-folded name → id."""
    if not names:
        return {}
    rows = [
        {"workspace_id": workspace_id, "name": name, "name_key": name_key(name), "created_at": now} for name in names
    ]
    result = connection.execute(
        insert(table).returning(table.c.name_key, table.c.id, sort_by_parameter_order=True), rows
    )
    return dict(result.all())


def existing_tag_links(
    connection: Connection, workspace_id: int, pairs: Sequence[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Which of the (tag_id, fan_id) pairs already exist."""
    found: set[tuple[int, int]] = set()
    by_tag: dict[int, list[int]] = {}
    for tag_id, fan_id in pairs:
        by_tag.setdefault(tag_id, []).append(fan_id)
    for tag_id, fan_ids in by_tag.items():
        for chunk in chunks(fan_ids):
            rows = connection.execute(
                select(fan_tags.c.fan_id).where(
                    fan_tags.c.workspace_id == workspace_id, fan_tags.c.tag_id == tag_id, fan_tags.c.fan_id.in_(chunk)
                )
            )
            found.update((tag_id, fan_id) for fan_id in rows.scalars())
    return found


def link_tags(
    connection: Connection, workspace_id: int, pairs: Sequence[tuple[int, int]], *, now: datetime
) -> list[tuple[int, int]]:
    """Attach tags to fans; pairs already present are left alone. Returns the pairs newly added."""
    existing = existing_tag_links(connection, workspace_id, pairs)
    new = sorted(set(pairs) - existing)
    for chunk in chunks(new, 2000):
        connection.execute(
            insert(fan_tags),
            [{"workspace_id": workspace_id, "tag_id": t, "fan_id": f, "added_at": now} for t, f in chunk],
        )
    log_tag_changes(connection, workspace_id, new, added=True, now=now)
    return new


def unlink_tag(
    connection: Connection, workspace_id: int, tag_id: int, fan_ids: Sequence[int], *, now: datetime
) -> list[int]:
    removed: list[int] = []
    for chunk in chunks(sorted(set(fan_ids))):
        result = connection.execute(
            delete(fan_tags)
            .where(fan_tags.c.workspace_id == workspace_id, fan_tags.c.tag_id == tag_id, fan_tags.c.fan_id.in_(chunk))
            .returning(fan_tags.c.fan_id)
        )
        removed.extend(result.scalars())
    log_tag_changes(connection, workspace_id, [(tag_id, fan_id) for fan_id in removed], added=False, now=now)
    return removed


def log_tag_changes(
    connection: Connection, workspace_id: int, pairs: Sequence[tuple[int, int]], *, added: bool, now: datetime
) -> None:
    """The tag ledger: one row per (tag, fan) added or removed, for tag sizes over time."""
    for chunk in chunks(pairs, 2000):
        connection.execute(
            insert(tag_membership_log),
            [{"workspace_id": workspace_id, "tag_id": t, "fan_id": f, "added": added, "at": now} for t, f in chunk],
        )
    webhooks_repo.enqueue_tag_changes(connection, workspace_id, at=now, tag_ids={tag_id for tag_id, _ in pairs})


# --- lists -----------------------------------------------------------------------------------------------


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


def _list_select() -> Any:
    return select(
        lists.c.id,
        lists.c.name,
        lists.c.description,
        lists.c.created_at,
        _status_count("subscribed"),
        _status_count("unsubscribed"),
        _status_count("bounced"),
    )


def insert_list(connection: Connection, workspace_id: int, values: Mapping[str, Any], *, now: datetime) -> int:
    return int(
        connection.execute(
            insert(lists)
            .values(workspace_id=workspace_id, name_key=name_key(values["name"]), created_at=now, **values)
            .returning(lists.c.id)
        ).scalar_one()
    )


def get_list(connection: Connection, workspace_id: int, list_id: int) -> FanList | None:
    row = connection.execute(
        _list_select().where(lists.c.workspace_id == workspace_id, lists.c.id == list_id)
    ).one_or_none()
    return FanList.model_validate(row._mapping) if row else None


def list_lists(connection: Connection, workspace_id: int) -> list[FanList]:
    rows = connection.execute(_list_select().where(lists.c.workspace_id == workspace_id).order_by(lists.c.name_key))
    return [FanList.model_validate(row._mapping) for row in rows]


def update_list(connection: Connection, workspace_id: int, list_id: int, values: Mapping[str, Any]) -> None:
    extra = {"name_key": name_key(values["name"])} if "name" in values else {}
    connection.execute(
        update(lists).where(lists.c.workspace_id == workspace_id, lists.c.id == list_id).values(**values, **extra)
    )


def current_statuses(
    connection: Connection, workspace_id: int, list_id: int, fan_ids: Sequence[int]
) -> dict[int, SubscriptionStatus]:
    statuses: dict[int, SubscriptionStatus] = {}
    for chunk in chunks(sorted(set(fan_ids))):
        rows = connection.execute(
            select(list_members.c.fan_id, list_members.c.status).where(
                list_members.c.workspace_id == workspace_id,
                list_members.c.list_id == list_id,
                list_members.c.fan_id.in_(chunk),
            )
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
    for chunk in chunks(new, 2000):
        connection.execute(
            insert(list_members),
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
                for fan_id in chunk
            ],
        )
    for chunk in chunks(old):
        connection.execute(
            update(list_members)
            .where(
                list_members.c.workspace_id == workspace_id,
                list_members.c.list_id == list_id,
                list_members.c.fan_id.in_(chunk),
            )
            .values(status=status, status_changed_at=now, **consent)
        )
    for chunk in chunks(changed, 2000):
        connection.execute(
            insert(list_subscription_log),
            [
                {
                    "workspace_id": workspace_id,
                    "list_id": list_id,
                    "fan_id": fan_id,
                    "status": status,
                    "source": consent_source,
                    "at": now,
                }
                for fan_id in chunk
            ],
        )
    webhooks_repo.enqueue_list_changes(connection, workspace_id, at=now, list_ids=[list_id])
    return changed


def remove_members(
    connection: Connection, workspace_id: int, list_id: int, fan_ids: Sequence[int], *, now: datetime
) -> list[int]:
    removed: list[int] = []
    for chunk in chunks(sorted(set(fan_ids))):
        result = connection.execute(
            delete(list_members)
            .where(
                list_members.c.workspace_id == workspace_id,
                list_members.c.list_id == list_id,
                list_members.c.fan_id.in_(chunk),
            )
            .returning(list_members.c.fan_id)
        )
        removed.extend(result.scalars())
    # The consent log keeps the fact that the membership was dropped (and list sizes over time read it).
    for chunk in chunks(removed, 2000):
        connection.execute(
            insert(list_subscription_log),
            [
                {"workspace_id": workspace_id, "list_id": list_id, "fan_id": fan_id, "status": "removed", "at": now}
                for fan_id in chunk
            ],
        )
    return removed


def memberships_of_fan(connection: Connection, workspace_id: int, fan_id: int) -> list[ListMembership]:
    rows = connection.execute(
        select(
            list_members.c.list_id,
            lists.c.name.label("list_name"),
            list_members.c.fan_id,
            list_members.c.status,
            list_members.c.consent_at,
            list_members.c.consent_source,
            list_members.c.status_changed_at,
        )
        .join(lists, and_(lists.c.workspace_id == list_members.c.workspace_id, lists.c.id == list_members.c.list_id))
        .where(list_members.c.workspace_id == workspace_id, list_members.c.fan_id == fan_id)
        .order_by(lists.c.name_key)
    )
    return [ListMembership.model_validate(row._mapping) for row in rows]
