"""Which fans a list or an export shows: the fan list's filters, a segment's members (now or at a past instant) and
an ad-hoc rule, combined into one query and read a page or a batch at a time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from fanbase.core.rules import Rule
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import history as history_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.repositories.rule_evaluation import RuleScope
from fanbase.db.repositories.rule_evaluation import per_fan_condition
from fanbase.db.tables import fans
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.lists import SubscriptionStatus


@dataclass(frozen=True)
class RuleFilter:
    """A validated ad-hoc rule, with what it needs to run."""

    rule: Rule
    scope: RuleScope
    now: datetime


@dataclass(frozen=True)
class FanSelection:
    """All given parts must hold. Names are resolved to ids by the service before (a missing name selects nobody,
    so it never reaches here)."""

    fan_filter: FanFilter | None = None  # lifecycle stage, source, text search
    segment_id: int | None = None
    member_at: datetime | None = None  # with segment_id: members at that past instant, from the ledger
    tag_id: int | None = None
    list_id: int | None = None
    list_status: SubscriptionStatus = "subscribed"
    rule: RuleFilter | None = None


def _conditions(connection: Connection, workspace_id: int, selection: FanSelection) -> list[ColumnElement[bool]]:
    conditions = fans_repo.filter_conditions(workspace_id, selection.fan_filter or FanFilter())
    if selection.segment_id is not None:
        if selection.member_at is None:
            conditions.append(segments_repo.is_member(workspace_id, selection.segment_id))
        else:
            conditions.append(history_repo.members_as_of(workspace_id, selection.segment_id, selection.member_at))
    if selection.rule is not None:
        found = selection.rule
        conditions.append(per_fan_condition(connection, found.scope, found.rule, now=found.now))
    if selection.tag_id is not None:
        conditions.append(fans_repo.has_tag(workspace_id, selection.tag_id))
    if selection.list_id is not None:
        conditions.append(fans_repo.in_list(workspace_id, selection.list_id, selection.list_status))
    return conditions


def page_fans(
    connection: Connection, workspace_id: int, selection: FanSelection, *, page: int, page_size: int
) -> tuple[list[Fan], int]:
    """One page of the selected fans by id, and how many there are in all."""
    conditions = _conditions(connection, workspace_id, selection)
    return fans_repo.page_fans(connection, workspace_id, conditions, page=page, page_size=page_size)


def iterate_fans(connection: Connection, workspace_id: int, selection: FanSelection) -> Iterable[list[Fan]]:
    """Every selected fan, a batch at a time in id order (for exports)."""
    return fans_repo.iterate_fans(connection, workspace_id, _conditions(connection, workspace_id, selection))


def selected_ids(connection: Connection, workspace_id: int, selection: FanSelection, *, limit: int) -> list[int]:
    """The ids of the selected fans, in id order, at most ``limit`` (to act on all of them at once)."""
    conditions = _conditions(connection, workspace_id, selection)
    rows = connection.execute(
        select(fans.c.id).where(fans.c.workspace_id == workspace_id, *conditions).order_by(fans.c.id).limit(limit)
    )
    return [int(row.id) for row in rows]
