"""/audit: the workspace's audit log, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Query

from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import PagingDep
from fanbase.api.deps import WorkspaceDep
from fanbase.schemas.audit import AuditAction
from fanbase.schemas.audit import AuditEntry
from fanbase.schemas.common import Page
from fanbase.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def list_audit(
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    paging: PagingDep,
    action: Annotated[AuditAction | None, Query(description="Only entries of this action")] = None,
) -> Page[AuditEntry]:
    """Who did what, to what, when and from where: keys created and revoked, users created, sign-ins (succeeded and
    failed), exports, erasures, webhook changes and segment deletions. Kept for FANBASE_AUDIT_RETENTION_DAYS."""
    return audit.entries(database, workspace_id, action=action, page=paging.page, page_size=paging.page_size)
