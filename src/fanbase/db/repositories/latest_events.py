"""Each fan's latest event times per type (``fan_latest_events``), kept in the transaction of every event insert.

The rule compiler's set form reads them for "at least N events of type T (in the last W)"; the events stay the truth
that ``rebuild`` recomputes the table from, and that the tests compare it with.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import update

from fanbase.db.repositories.sql import id_conditions
from fanbase.db.repositories.sql import insert_rows
from fanbase.db.tables import LATEST_EVENTS
from fanbase.db.tables import events
from fanbase.db.tables import fan_latest_events

_TIMES = tuple(f"t{rank}" for rank in range(1, LATEST_EVENTS + 1))


def record_latest(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
    """Fold newly inserted events (``fan_id``, ``type``, ``occurred_at``) into their fans' latest times: one read of
    those fans' rows, the merge here, one insert of the new (fan, type) pairs and one update of the changed ones.
    An event older than a fan's three latest of its type changes nothing."""
    if not rows:
        return
    arriving: dict[tuple[int, str], list[datetime]] = {}
    for row in rows:
        arriving.setdefault((int(row["fan_id"]), str(row["type"])), []).append(row["occurred_at"])
    table = fan_latest_events
    stored: dict[tuple[int, str], tuple[datetime | None, ...]] = {}
    for listed in id_conditions(connection, table.c.fan_id, sorted({fan_id for fan_id, _ in arriving})):
        found = connection.execute(
            select(table.c.fan_id, table.c.type, *(table.c[name] for name in _TIMES)).where(
                table.c.workspace_id == workspace_id, listed
            )
        )
        for fan_id, event_type, *times in found:
            if (fan_id, event_type) in arriving:
                stored[(fan_id, event_type)] = tuple(times)
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for (fan_id, event_type), times in arriving.items():
        before = stored.get((fan_id, event_type))
        latest = heapq.nlargest(LATEST_EVENTS, [*times, *(time for time in before or () if time is not None)])
        values = dict(zip(_TIMES, [*latest, *[None] * (LATEST_EVENTS - len(latest))], strict=True))
        if before is None:
            added.append({"workspace_id": workspace_id, "fan_id": fan_id, "type": event_type, **values})
        elif tuple(values.values()) != before:
            changed.append({"key_fan_id": fan_id, "key_type": event_type, **{f"new_{k}": v for k, v in values.items()}})
    insert_rows(connection, table, added)
    if changed:
        connection.execute(
            update(table)
            .where(
                table.c.workspace_id == workspace_id,
                table.c.fan_id == bindparam("key_fan_id"),
                table.c.type == bindparam("key_type"),
            )
            .values({name: bindparam(f"new_{name}") for name in _TIMES}),
            changed,
        )


def rebuild(connection: Connection, workspace_id: int) -> None:
    """Recompute a workspace's latest event times from its events (after a load that wrote events directly)."""
    ranked = (
        select(
            events.c.fan_id,
            events.c.type,
            events.c.occurred_at,
            func.row_number()
            .over(partition_by=(events.c.fan_id, events.c.type), order_by=events.c.occurred_at.desc())
            .label("nth"),
        )
        .where(events.c.workspace_id == workspace_id)
        .subquery()
    )
    latest = (
        select(
            literal(workspace_id, fan_latest_events.c.workspace_id.type),
            ranked.c.fan_id,
            ranked.c.type,
            *(func.max(case((ranked.c.nth == rank, ranked.c.occurred_at))) for rank in range(1, LATEST_EVENTS + 1)),
        )
        .where(ranked.c.nth <= LATEST_EVENTS)
        .group_by(ranked.c.fan_id, ranked.c.type)
    )
    connection.execute(delete(fan_latest_events).where(fan_latest_events.c.workspace_id == workspace_id))
    connection.execute(insert(fan_latest_events).from_select(["workspace_id", "fan_id", "type", *_TIMES], latest))
