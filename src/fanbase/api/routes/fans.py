"""/fans: create, read, update, erase, list with filters; a fan's orders, events and list memberships."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from fanbase.api.deps import DatabaseDep, NowDep, PagingDep, WorkspaceDep
from fanbase.core.models import (
    Event,
    Fan,
    FanFilter,
    FanIn,
    FanPatch,
    LifecycleStage,
    ListMembership,
    ListStatus,
    Order,
    Page,
    Source,
)
from fanbase.services import fans

router = APIRouter(prefix="/fans", tags=["fans"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_fan(body: FanIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Fan:
    return fans.create_fan(database, workspace_id, body, now=now)


@router.get("")
def list_fans(
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    paging: PagingDep,
    tag: Annotated[str | None, Query(max_length=100, description="Tag name")] = None,
    list_name: Annotated[str | None, Query(alias="list", max_length=100, description="List name")] = None,
    list_status: Annotated[ListStatus, Query(description="Status in `list`")] = "subscribed",
    lifecycle_stage: LifecycleStage | None = None,
    source: Source | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Search email and names")] = None,
) -> Page[Fan]:
    fan_filter = FanFilter(
        tag=tag, list=list_name, list_status=list_status, lifecycle_stage=lifecycle_stage, source=source, q=q
    )
    return fans.list_fans(database, workspace_id, fan_filter, page=paging.page, page_size=paging.page_size)


@router.get("/{fan_id}")
def get_fan(fan_id: int, database: DatabaseDep, workspace_id: WorkspaceDep) -> Fan:
    return fans.get_fan(database, workspace_id, fan_id)


@router.patch("/{fan_id}")
def update_fan(fan_id: int, body: FanPatch, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Fan:
    return fans.update_fan(database, workspace_id, fan_id, body, now=now)


@router.delete("/{fan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_fan(fan_id: int, database: DatabaseDep, workspace_id: WorkspaceDep) -> Response:
    fans.delete_fan(database, workspace_id, fan_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{fan_id}/orders")
def fan_orders(fan_id: int, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep) -> list[Order]:
    return fans.fan_orders(database, workspace_id, fan_id, page=paging.page, page_size=paging.page_size)


@router.get("/{fan_id}/events")
def fan_events(fan_id: int, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep) -> list[Event]:
    return fans.fan_events(database, workspace_id, fan_id, page=paging.page, page_size=paging.page_size)


@router.get("/{fan_id}/lists")
def fan_lists(fan_id: int, database: DatabaseDep, workspace_id: WorkspaceDep) -> list[ListMembership]:
    return fans.fan_list_memberships(database, workspace_id, fan_id)
