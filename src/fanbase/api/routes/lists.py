"""/lists: CRUD, members by subscription status, subscribe / unsubscribe / bounce with consent, removal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from fanbase.api.deps import DatabaseDep, NowDep, PagingDep, WorkspaceDep
from fanbase.api.schemas import ListId, error_responses
from fanbase.schemas.common import Changed, FanIds, Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.lists import FanList, ListIn, ListPatch, SubscriptionIn, SubscriptionStatus
from fanbase.services import lists

router = APIRouter(prefix="/lists", tags=["lists"], responses=error_responses(401, 422))


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409))
def create_list(body: ListIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> FanList:
    """Names are unique per workspace regardless of case."""
    return lists.create_list(database, workspace_id, body, now=now)


@router.get("")
def list_lists(database: DatabaseDep, workspace_id: WorkspaceDep) -> list[FanList]:
    return lists.list_lists(database, workspace_id)


@router.get("/{list_id}", responses=error_responses(404))
def get_list(list_id: ListId, database: DatabaseDep, workspace_id: WorkspaceDep) -> FanList:
    return lists.get_list(database, workspace_id, list_id)


@router.patch("/{list_id}", responses=error_responses(404, 409))
def update_list(list_id: ListId, body: ListPatch, database: DatabaseDep, workspace_id: WorkspaceDep) -> FanList:
    return lists.update_list(database, workspace_id, list_id, body)


@router.delete("/{list_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
def delete_list(list_id: ListId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Response:
    lists.delete_list(database, workspace_id, list_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
