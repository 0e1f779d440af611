"""Lifecycle that follows behaviour: a fan's first paid purchase makes a subscriber or lead a customer.

On per workspace (``workspaces.lifecycle_from_purchases``; on for new workspaces, off for those created before it
existed; ``PATCH /api/v1/workspace`` switches it). "First paid" means a completed order with an amount, by a fan who
had paid nothing so far (a free guest-list ticket is an order, not a purchase that makes a customer): a fan set
back to subscriber by hand stays there until they buy again after refunds left them with nothing paid.

Each move is a ``lifecycle_changed`` event in the fan's history (properties ``from``, ``to``, ``reason``), dated
at the purchase that made it, which is not activity (``NOT_ACTIVITY_EVENTS``). Reversible by hand: set the stage
with ``PATCH /api/v1/fans/{id}``.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
from datetime import datetime

from fanbase.db.engine import Connection
from fanbase.db.repositories import bulk as bulk_repo
from fanbase.db.repositories import lifecycle as lifecycle_repo
from fanbase.db.repositories import workspaces as workspaces_repo
from fanbase.services import membership

PROMOTED_FROM = ("subscriber", "lead")
PROMOTED_TO = "customer"
EVENT_TYPE = "lifecycle_changed"
# What a promotion changes, in the vocabulary of rules: the stage, and a (non-activity) event.
CHANGE = membership.fields_changed({"lifecycle_stage"}) | membership.Change(sources=membership.EVENTS.sources)


def first_buyers(connection: Connection, workspace_id: int, fan_ids: Collection[int]) -> dict[int, str]:
    """Before purchases are folded in: the fans among ``fan_ids`` a completed purchase would promote (id → stage)."""
    workspace = workspaces_repo.get_workspace(connection, workspace_id)
    if not fan_ids or workspace is None or not workspace.lifecycle_from_purchases:
        return {}
    return lifecycle_repo.without_purchases(connection, workspace_id, fan_ids, stages=PROMOTED_FROM)


def promote(
    connection: Connection,
    workspace_id: int,
    stages: Mapping[int, str],
    *,
    at: Mapping[int, datetime],
    now: datetime | None,
) -> membership.Change:
    """Make these fans customers and log each move (at the time of the purchase that did it); returns what changed
    for live membership (nothing when no fan moved). The caller re-evaluates the fans."""
    if not stages or now is None:
        return membership.Change()
    lifecycle_repo.set_stage(connection, workspace_id, stages, PROMOTED_TO, now=now)
    bulk_repo.insert_events(
        connection,
        workspace_id,
        [
            {
                "fan_id": fan_id,
                "type": EVENT_TYPE,
                "properties": {"from": stage, "to": PROMOTED_TO, "reason": "first purchase"},
                "occurred_at": at.get(fan_id, now),
                "created_at": now,
            }
            for fan_id, stage in sorted(stages.items())
        ],
    )
    return CHANGE
