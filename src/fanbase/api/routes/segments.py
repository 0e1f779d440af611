"""/segments: CRUD, templates, live preview, members (paginated, CSV), static add/remove/import, refresh.

A bad rule is a 422 whose `errors` name each problem's path in the rule (`all[2].count.where.field`); a segment
that another segment's rule names cannot be deleted or renamed (409 naming the users).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import File
from fastapi import Path
from fastapi import Query
from fastapi import Response
from fastapi import UploadFile
from fastapi import status
from fastapi.responses import StreamingResponse

from fanbase.api.deps import ActorDep
from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import PagingDep
from fanbase.api.deps import StateDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.downloads import csv_responses
from fanbase.api.downloads import fans_csv
from fanbase.api.schemas import SegmentId
from fanbase.api.schemas import error_responses
from fanbase.api.uploads import read_upload
from fanbase.schemas.common import FanIds
from fanbase.schemas.common import Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.segments import EmailsIn
from fanbase.schemas.segments import MembershipChange
from fanbase.schemas.segments import Preview
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import Segment
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.segments import SegmentPatch
from fanbase.schemas.segments import SegmentTemplate
from fanbase.services import previews
from fanbase.services import segments

router = APIRouter(prefix="/segments", tags=["segments"])


@router.get("")
def list_segments(
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    paging: PagingDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Only segments whose name or description holds this text.")
    ] = None,
) -> Page[Segment]:
    """The workspace's segments by name, a page at a time, with the total."""
    return segments.segment_page(database, workspace_id, page=paging.page, page_size=paging.page_size, search=q)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409, 422))
def create_segment(body: SegmentIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Segment:
    return segments.create_segment(database, workspace_id, body, now=now)


@router.get("/templates")
def list_templates(workspace_id: WorkspaceDep) -> list[SegmentTemplate]:
    return segments.list_templates()


TemplateKey = Annotated[str, Path(max_length=64, description="A template's key, from `GET /segments/templates`.")]


@router.post("/templates/{key}", status_code=status.HTTP_201_CREATED, responses=error_responses(404, 409))
def create_from_template(key: TemplateKey, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Segment:
    """Create the template's segment (and any segments it is built on that are missing)."""
    return segments.create_from_template(database, workspace_id, key, now=now)


@router.post("/preview", responses=error_responses(422))
def preview(body: RuleIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Preview:
    """Count, sample and per-condition counts for a rule, without creating anything."""
    return previews.preview(database, workspace_id, body, now=now)


@router.get("/{segment_id}", responses=error_responses(404))
def get_segment(segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Segment:
    return segments.get_segment(database, workspace_id, segment_id)


@router.patch("/{segment_id}", responses=error_responses(404, 409, 422))
def update_segment(
    segment_id: SegmentId, body: SegmentPatch, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> Segment:
    return segments.update_segment(database, workspace_id, segment_id, body, now=now)


@router.delete("/{segment_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404, 409))
def delete_segment(
    segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> Response:
    """Delete the segment (refused, 409, while another segment's rule uses it); written to the audit log."""
    segments.delete_segment(database, workspace_id, segment_id, now=now, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{segment_id}/duplicate", status_code=status.HTTP_201_CREATED, responses=error_responses(404))
def duplicate_segment(segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Segment:
    """A copy named "<name> (copy)" with the same description and rule (a static segment's copy: the same members)."""
    return segments.duplicate_segment(database, workspace_id, segment_id, now=now)


@router.post("/{segment_id}/refresh", responses=error_responses(404, 422))
def refresh_segment(
    segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> MembershipChange:
    return segments.refresh_segment(database, workspace_id, segment_id, now=now)


@router.get("/{segment_id}/members", responses=error_responses(404))
def list_members(
    segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep
) -> Page[Fan]:
    return segments.members(database, workspace_id, segment_id, page=paging.page, page_size=paging.page_size)


@router.get(
    "/{segment_id}/members/export",
    response_class=StreamingResponse,
    responses=csv_responses("The members as CSV.", 404),
)
def export_members(
    segment_id: SegmentId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> StreamingResponse:
    """Every member, as CSV (the columns of `GET /fans/export`), streamed; written to the audit log."""
    members = FanFilter(segment_id=segment_id)
    return fans_csv(database, workspace_id, members, file_name=f"segment-{segment_id}.csv", actor=actor, now=now)


@router.post("/{segment_id}/members", responses=error_responses(404, 422))
def add_members(
    segment_id: SegmentId, body: FanIds, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> MembershipChange:
    """Static segments: add fans by id."""
    return segments.add_fans(database, workspace_id, segment_id, body.fan_ids, now=now)


@router.post("/{segment_id}/members/remove", responses=error_responses(404, 422))
def remove_members(
    segment_id: SegmentId, body: FanIds, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> MembershipChange:
    """Static segments: remove fans by id."""
    return segments.remove_fans(database, workspace_id, segment_id, body.fan_ids, now=now)


@router.post("/{segment_id}/members/emails", responses=error_responses(404, 422))
def add_members_by_email(
    segment_id: SegmentId, body: EmailsIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> MembershipChange:
    """Static segments: add fans by email."""
    return segments.add_fans_by_email(database, workspace_id, segment_id, body, now=now)


@router.post("/{segment_id}/members/import", responses=error_responses(404, 413, 422))
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
    data = read_upload(file, limit=limit, too_large=f"the file is larger than {limit} bytes")
    emails = segments.emails_from_csv(data)
    return segments.add_fans_by_email(database, workspace_id, segment_id, EmailsIn(emails=emails), now=now)
