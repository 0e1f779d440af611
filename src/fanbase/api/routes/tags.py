"""/tags: CRUD, the fans carrying a tag, and bulk attach / detach."""

from __future__ import annotations

from fastapi import APIRouter

from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import PagingDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.routes.fan_groups import FanGroupRoutes
from fanbase.api.routes.fan_groups import add_fan_group_routes
from fanbase.api.schemas import TagId
from fanbase.api.schemas import error_responses
from fanbase.schemas.common import Changed
from fanbase.schemas.common import FanIds
from fanbase.schemas.common import Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.tags import Tag
from fanbase.schemas.tags import TagIn
from fanbase.schemas.tags import TagPatch
from fanbase.services import tags

router = APIRouter(prefix="/tags", tags=["tags"], responses=error_responses(401, 422))

add_fan_group_routes(
    router,
    FanGroupRoutes(
        service=tags.TAGS,
        record=Tag,
        create_body=TagIn,
        patch_body=TagPatch,
        id_type=TagId,
        docs={
            "create": "Names are unique per workspace regardless of case: a second 'VIP' (or 'vip') is a 409.",
            "update": "Only the fields sent change; send null to clear color, category or description.",
            "delete": "Delete the tag and detach it from every fan (the fans stay).",
        },
    ),
)


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
