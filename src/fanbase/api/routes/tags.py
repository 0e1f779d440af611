"""/tags: CRUD, the fans carrying a tag, and bulk attach / detach."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from fanbase.api.deps import DatabaseDep, NowDep, PagingDep, WorkspaceDep
from fanbase.api.schemas import TagId, error_responses
from fanbase.schemas.common import Changed, FanIds, Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.tags import Tag, TagIn, TagPatch
from fanbase.services import tags

router = APIRouter(prefix="/tags", tags=["tags"], responses=error_responses(401, 422))


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409))
def create_tag(body: TagIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Tag:
    """Names are unique per workspace regardless of case: a second 'VIP' (or 'vip') is a 409."""
    return tags.create_tag(database, workspace_id, body, now=now)


@router.get("")
def list_tags(database: DatabaseDep, workspace_id: WorkspaceDep) -> list[Tag]:
    return tags.list_tags(database, workspace_id)


@router.get("/{tag_id}", responses=error_responses(404))
def get_tag(tag_id: TagId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Tag:
    return tags.get_tag(database, workspace_id, tag_id)


@router.patch("/{tag_id}", responses=error_responses(404, 409))
def update_tag(tag_id: TagId, body: TagPatch, database: DatabaseDep, workspace_id: WorkspaceDep) -> Tag:
    """Only the fields sent change; send null to clear color, category or description."""
    return tags.update_tag(database, workspace_id, tag_id, body)


@router.delete("/{tag_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
def delete_tag(tag_id: TagId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Response:
    """Delete the tag and detach it from every fan (the fans stay)."""
    tags.delete_tag(database, workspace_id, tag_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{tag_id}/fans", responses=error_responses(404))
def tagged_fans(tag_id: TagId, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep) -> Page[Fan]:
    return tags.tagged_fans(database, workspace_id, tag_id, page=paging.page, page_size=paging.page_size)


@router.post("/{tag_id}/fans", responses=error_responses(404))
def tag_fans(tag_id: TagId, body: FanIds, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Changed:
    """Attach the tag to these fans; fans already tagged are left alone (and not counted)."""
    return tags.tag_fans(database, workspace_id, tag_id, body.fan_ids, now=now)


# A POST, not DELETE with a body: many HTTP clients and proxies drop or refuse bodies on DELETE.
@router.post("/{tag_id}/fans/remove", responses=error_responses(404))
def untag_fans(tag_id: TagId, body: FanIds, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Changed:
    """Detach the tag from these fans; fans without it are left alone (and not counted)."""
    return tags.untag_fans(database, workspace_id, tag_id, body.fan_ids, now=now)
