"""Lifecycle stages that follow purchases: who is buying for the first time, and moving them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy import select
from sqlalchemy import update

from fanbase.db.repositories.sql import id_conditions
from fanbase.db.tables import fans


def without_purchases(
    connection: Connection, workspace_id: int, fan_ids: Collection[int], *, stages: Collection[str]
) -> dict[int, str]:
    """The fans among ``fan_ids`` who have paid nothing so far (no completed order with an amount) and have a stage
    among ``stages``: id → stage."""
    found: dict[int, str] = {}
    for listed in id_conditions(connection, fans.c.id, sorted(set(fan_ids))):
        rows = connection.execute(
            select(fans.c.id, fans.c.lifecycle_stage).where(
                fans.c.workspace_id == workspace_id,
                listed,
                fans.c.total_spent_cents == 0,
                fans.c.lifecycle_stage.in_(sorted(stages)),
            )
        )
        found.update((int(row.id), row.lifecycle_stage) for row in rows)
    return found


def set_stage(
    connection: Connection, workspace_id: int, fan_ids: Collection[int], stage: str, *, now: datetime
) -> None:
    for listed in id_conditions(connection, fans.c.id, sorted(set(fan_ids))):
        connection.execute(
            update(fans)
            .where(fans.c.workspace_id == workspace_id, listed)
            .values(lifecycle_stage=stage, updated_at=now)
        )
