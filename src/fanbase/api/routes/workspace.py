"""/workspace and /api-keys: the caller's workspace, and its keys (list, issue, revoke)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import Response
from fastapi import status

from fanbase.api.deps import ActorDep
from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.schemas import ApiKeyId
from fanbase.api.schemas import ApiKeyIn
from fanbase.api.schemas import error_responses
from fanbase.schemas.workspaces import ApiKey
from fanbase.schemas.workspaces import ApiKeyCreated
from fanbase.schemas.workspaces import Workspace
from fanbase.schemas.workspaces import WorkspaceSettingsIn
from fanbase.services import workspaces

router = APIRouter(responses=error_responses(401, 422))


@router.get("/workspace", tags=["workspace"])
def get_workspace(database: DatabaseDep, workspace_id: WorkspaceDep) -> Workspace:
    """The workspace the calling key belongs to."""
    return workspaces.get_workspace(database, workspace_id)


@router.patch("/workspace", tags=["workspace"])
def update_workspace(
    body: WorkspaceSettingsIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> Workspace:
    """Change settings: ``lifecycle_from_purchases`` (a first completed purchase makes a subscriber or lead a
    customer). Only the fields given change."""
    return workspaces.update_settings(database, workspace_id, body, now=now, actor=actor)


@router.get("/api-keys", tags=["api keys"])
def list_api_keys(database: DatabaseDep, workspace_id: WorkspaceDep) -> list[ApiKey]:
    """Every key of this workspace, revoked ones included; secrets are never shown again, only their prefix."""
    return workspaces.list_api_keys(database, workspace_id)


@router.post("/api-keys", tags=["api keys"], status_code=status.HTTP_201_CREATED)
def create_api_key(
    body: ApiKeyIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> ApiKeyCreated:
    """Issue a key. The secret is in this reply only: store it now, it cannot be shown again."""
    return workspaces.create_api_key(database, workspace_id, name=body.name, now=now, actor=actor)


@router.delete(
    "/api-keys/{key_id}", tags=["api keys"], status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
def revoke_api_key(
    key_id: ApiKeyId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> Response:
    """Revoke a key: from now on it answers 401. Revoking the key making this call is allowed."""
    workspaces.revoke_api_key(database, workspace_id, key_id, now=now, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
