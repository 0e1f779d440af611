"""Tags and the fan↔tag links, with the tag ledger (one row per link added or removed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from fanbase.db.repositories.fan_groups import FanGroupTable
from fanbase.db.repositories.fan_groups import delete_fan_links
from fanbase.db.repositories.sql import chunks
from fanbase.db.repositories.sql import insert_rows
from fanbase.db.tables import fan_tags
from fanbase.db.tables import tag_membership_log
from fanbase.db.tables import tags
from fanbase.schemas.tags import Tag


def _tag_columns() -> list[ColumnElement[Any]]:
    fan_count = (
        select(func.count())
        .where(fan_tags.c.workspace_id == tags.c.workspace_id, fan_tags.c.tag_id == tags.c.id)
        .scalar_subquery()
        .label("fan_count")
    )
    return [tags.c.id, tags.c.name, tags.c.color, tags.c.category, tags.c.description, tags.c.created_at, fan_count]


TAGS = FanGroupTable(table=tags, record=Tag, columns=_tag_columns)

# For the callers that write or check one tag outside the tag service (the demo, the history).
insert_tag, get_tag = TAGS.insert, TAGS.get


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
    insert_rows(
        connection,
        fan_tags,
        [{"workspace_id": workspace_id, "tag_id": t, "fan_id": f, "added_at": now} for t, f in new],
    )
    log_tag_changes(connection, workspace_id, new, added=True, now=now)
    return new


def unlink_tag(
    connection: Connection, workspace_id: int, tag_id: int, fan_ids: Sequence[int], *, now: datetime
) -> list[int]:
    removed = delete_fan_links(connection, fan_tags, fan_tags.c.tag_id, workspace_id, tag_id, fan_ids)
    log_tag_changes(connection, workspace_id, [(tag_id, fan_id) for fan_id in removed], added=False, now=now)
    return removed


def log_tag_changes(
    connection: Connection, workspace_id: int, pairs: Sequence[tuple[int, int]], *, added: bool, now: datetime
) -> None:
    """The tag ledger: one row per (tag, fan) added or removed, for tag sizes over time."""
    insert_rows(
        connection,
        tag_membership_log,
        [{"workspace_id": workspace_id, "tag_id": t, "fan_id": f, "added": added, "at": now} for t, f in pairs],
    )
