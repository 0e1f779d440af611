"""Lists: broad categories of fans, each member with a subscription status and the consent behind it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import lists as lists_repo
from fanbase.schemas.common import Changed
from fanbase.schemas.common import Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.lists import FanList
from fanbase.schemas.lists import SubscriptionIn
from fanbase.schemas.lists import SubscriptionStatus
from fanbase.services import fans as fans_service
from fanbase.services.fan_groups import FanGroups

LISTS = FanGroups(noun="list", table=lists_repo.LISTS)

create_list, get_list, list_lists = LISTS.create, LISTS.get, LISTS.list_all
update_list, delete_list = LISTS.update, LISTS.delete


def set_subscription(
    database: Database, workspace_id: int, list_id: int, data: SubscriptionIn, *, now: datetime
) -> Changed:
    """Subscribe, unsubscribe or mark bounced; each change is kept in the consent log."""

    def set_statuses(connection: Connection, fan_list: FanList) -> list[int]:
        return lists_repo.set_statuses(
            connection,
            workspace_id,
            fan_list.id,
            data.fan_ids,
            status=data.status,
            consent_source=data.consent_source,
            consent_at=data.consent_at,
            now=now,
        )

    return LISTS.change_fans(database, workspace_id, list_id, data.fan_ids, now=now, write=set_statuses)


def subscribe_fans(
    database: Database,
    workspace_id: int,
    list_id: int,
    fan_ids: Sequence[int],
    *,
    consent_source: str,
    now: datetime,
) -> Changed:
    """Subscribe fans chosen in the dashboard (any number: "all N matching"), in one transaction; the consent log
    records ``consent_source``. A fan who unsubscribed or bounced is subscribed again only by this explicit act."""

    def subscribe(connection: Connection, fan_list: FanList) -> list[int]:
        return lists_repo.set_statuses(
            connection,
            workspace_id,
            fan_list.id,
            fan_ids,
            status="subscribed",
            consent_source=consent_source,
            consent_at=None,
            now=now,
        )

    return LISTS.change_fans(database, workspace_id, list_id, fan_ids, now=now, write=subscribe)


def remove_from_list(
    database: Database, workspace_id: int, list_id: int, fan_ids: Sequence[int], *, now: datetime
) -> Changed:
    """Forget the membership row entirely (the consent log keeps its history)."""

    def remove(connection: Connection, fan_list: FanList) -> list[int]:
        return lists_repo.remove_members(connection, workspace_id, fan_list.id, fan_ids, now=now)

    return LISTS.change_fans(database, workspace_id, list_id, fan_ids, now=now, write=remove)


def list_members(
    database: Database, workspace_id: int, list_id: int, *, status: SubscriptionStatus, page: int, page_size: int
) -> Page[Fan]:
    fan_list = get_list(database, workspace_id, list_id)
    return fans_service.list_fans(
        database, workspace_id, FanFilter(list=fan_list.name, list_status=status), page=page, page_size=page_size
    )
