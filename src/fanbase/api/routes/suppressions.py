"""/suppressions: emails never re-created as fans (an erased fan's, or any the workspace adds) until lifted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Query
from fastapi import Response
from fastapi import status

from fanbase.api.deps import ActorDep
from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.schemas import error_responses
from fanbase.schemas.common import Email
from fanbase.schemas.suppressions import Suppression
from fanbase.schemas.suppressions import SuppressionIn
from fanbase.services import suppressions

router = APIRouter(prefix="/suppressions", tags=["suppressions"])

EmailQuery = Annotated[Email, Query(max_length=320, description="The email address asked about.")]


@router.post("", status_code=status.HTTP_201_CREATED)
def add_suppression(
    body: SuppressionIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> Suppression:
    """Suppress an email: no fan is created for it (API, import, batches) until the suppression is lifted. Erasing a
    fan suppresses their email by itself. Only a hash of the address is stored."""
    return suppressions.add_suppression(database, workspace_id, body.email, now=now, actor=actor)


@router.get("", responses=error_responses(404))
def get_suppression(email: EmailQuery, database: DatabaseDep, workspace_id: WorkspaceDep) -> Suppression:
    """Whether an email is suppressed (404 if not), why and since when."""
    return suppressions.get_suppression(database, workspace_id, email)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
def lift_suppression(
    email: EmailQuery, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> Response:
    """Lift a suppression: the email may become a fan again (say, the person signed up anew)."""
    suppressions.lift_suppression(database, workspace_id, email, now=now, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
