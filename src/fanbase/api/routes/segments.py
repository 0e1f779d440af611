"""/segments: CRUD, templates, live preview, members (paginated, CSV), static add/remove/import, refresh."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from fanbase.api.deps import DatabaseDep, NowDep, PagingDep, StateDep, WorkspaceDep
from fanbase.api.schemas import SegmentId
from fanbase.core.models import (
    EmailsIn,
    Fan,
    FanFilter,
    FanIds,
    MembershipChange,
    Page,
    Preview,
    RuleIn,
    Segment,
    SegmentIn,
    SegmentPatch,
    SegmentTemplate,
)
from fanbase.errors import TooLarge
from fanbase.services import segments, transfer

router = APIRouter(prefix="/segments", tags=["segments"])


@router.get("")
def list_segments(database: DatabaseDep, workspace_id: WorkspaceDep) -> list[Segment]:
    return segments.list_segments(database, workspace_id)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_segment(body: SegmentIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Segment:
    return segments.create_segment(database, workspace_id, body, now=now)


@router.get("/templates")
def list_templates(workspace_id: WorkspaceDep) -> list[SegmentTemplate]:
    return segments.list_templates()


@router.post("/templates/{key}", status_code=status.HTTP_201_CREATED)
def create_from_template(key: str, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Segment:
    """Create the template's segment (and any segments it is built on that are missing)."""
    return segments.create_from_template(database, workspace_id, key, now=now)


@router.post("/preview")
def preview(body: RuleIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Preview:
    """Count, sample and per-condition counts for a rule, without creating anything."""
    return segments.preview(database, workspace_id, body, now=now)


@router.get("/{segment_id}")
def get_segment(segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Segment:
    return segments.get_segment(database, workspace_id, segment_id)


@router.patch("/{segment_id}")
def update_segment(
    segment_id: SegmentId, body: SegmentPatch, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> Segment:
    return segments.update_segment(database, workspace_id, segment_id, body, now=now)


@router.delete("/{segment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_segment(segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Response:
    segments.delete_segment(database, workspace_id, segment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{segment_id}/refresh")
def refresh_segment(
    segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> MembershipChange:
    return segments.refresh_segment(database, workspace_id, segment_id, now=now)


@router.get("/{segment_id}/members")
def list_members(
    segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep
) -> Page[Fan]:
    return segments.members(database, workspace_id, segment_id, page=paging.page, page_size=paging.page_size)


@router.get("/{segment_id}/members/export", response_class=StreamingResponse)
def export_members(segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep) -> StreamingResponse:
    segment = segments.get_segment(database, workspace_id, segment_id)
    chunks = transfer.export_fans_csv(database, workspace_id, FanFilter(segment_id=segment.id))
    filename = f"segment-{segment.id}.csv"
    return StreamingResponse(
        chunks, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.post("/{segment_id}/members")
def add_members(
    segment_id: SegmentId, body: FanIds, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> MembershipChange:
    """Static segments: add fans by id."""
    return segments.add_fans(database, workspace_id, segment_id, body.fan_ids, now=now)


@router.post("/{segment_id}/members/remove")
def remove_members(
    segment_id: SegmentId, body: FanIds, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> MembershipChange:
    """Static segments: remove fans by id."""
    return segments.remove_fans(database, workspace_id, segment_id, body.fan_ids, now=now)


@router.post("/{segment_id}/members/emails")
def add_members_by_email(
    segment_id: SegmentId, body: EmailsIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> MembershipChange:
    """Static segments: add fans by email."""
    return segments.add_fans_by_email(database, workspace_id, segment_id, body, now=now)


@router.post("/{segment_id}/members/import")
def import_members(
    segment_id: SegmentId,
    file: Annotated[UploadFile, File(description="CSV with an `email` column (or one column of emails)")],
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
    state: StateDep,
) -> MembershipChange:
    """Static segments: add the fans named in a CSV of emails."""
    limit = state.settings.max_csv_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"the file is larger than {limit} bytes", field="file")
    emails = segments.emails_from_csv(data)
    return segments.add_fans_by_email(database, workspace_id, segment_id, EmailsIn(emails=emails), now=now)
