"""/custom-fields: declare typed fan fields for this workspace, and list them."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import status

from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.schemas import error_responses
from fanbase.schemas.custom_fields import CustomField
from fanbase.schemas.custom_fields import CustomFieldIn
from fanbase.services import custom_fields

router = APIRouter(prefix="/custom-fields", tags=["custom fields"], responses=error_responses(401, 422))


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409))
def create_custom_field(
    body: CustomFieldIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> CustomField:
    return custom_fields.create_custom_field(database, workspace_id, body, now=now)


@router.get("")
def list_custom_fields(database: DatabaseDep, workspace_id: WorkspaceDep) -> list[CustomField]:
    return custom_fields.list_custom_fields(database, workspace_id)
