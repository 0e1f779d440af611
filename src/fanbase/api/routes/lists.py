"""/lists: CRUD, members by subscription status, subscribe / unsubscribe / bounce with consent, removal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Query

from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import PagingDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.routes.fan_groups import FanGroupRoutes
from fanbase.api.routes.fan_groups import add_fan_group_routes
from fanbase.api.schemas import ListId
from fanbase.api.schemas import error_responses
from fanbase.schemas.common import Changed
from fanbase.schemas.common import FanIds
from fanbase.schemas.common import Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.lists import FanList
from fanbase.schemas.lists import ListIn
from fanbase.schemas.lists import ListPatch
from fanbase.schemas.lists import SubscriptionIn
from fanbase.schemas.lists import SubscriptionStatus
from fanbase.services import lists

router = APIRouter(prefix="/lists", tags=["lists"], responses=error_responses(401, 422))


add_fan_group_routes(
    router,
    FanGroupRoutes(
        service=lists.LISTS,
        record=FanList,
        create_body=ListIn,
        patch_body=ListPatch,
        id_type=ListId,
        docs={"create": "Names are unique per workspace regardless of case."},
    ),
)


@router.get("/{list_id}/members", responses=error_responses(404))
def list_members(
    list_id: ListId,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    paging: PagingDep,
    member_status: Annotated[SubscriptionStatus, Query(alias="status", description="Which members")] = "subscribed",
) -> Page[Fan]:
    return lists.list_members(
        database, workspace_id, list_id, status=member_status, page=paging.page, page_size=paging.page_size
    )


@router.post("/{list_id}/subscriptions", responses=error_responses(404))
def set_subscription(
    list_id: ListId, body: SubscriptionIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> Changed:
    """Subscribe, unsubscribe or mark bounced, with how and when consent was given; every change is logged."""
    return lists.set_subscription(database, workspace_id, list_id, body, now=now)


@router.post("/{list_id}/members/remove", responses=error_responses(404))
def remove_members(
    list_id: ListId, body: FanIds, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> Changed:
    """Forget these fans' membership rows entirely (to record an opt-out, unsubscribe instead: it keeps the fact)."""
    return lists.remove_from_list(database, workspace_id, list_id, body.fan_ids, now=now)
