"""/fans: create, read, update, erase, list with filters, CSV import/export; a fan's orders, events and lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from fanbase.api.deps import DatabaseDep, NowDep, PagingDep, StateDep, WorkspaceDep
from fanbase.api.schemas import FanId, error_responses
from fanbase.core.models import (
    Event,
    Fan,
    FanFilter,
    FanIn,
    FanPatch,
    ImportReport,
    LifecycleStage,
    ListMembership,
    ListStatus,
    Order,
    Page,
    Source,
)
from fanbase.errors import TooLarge
from fanbase.services import fans, transfer

router = APIRouter(prefix="/fans", tags=["fans"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_fan(body: FanIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Fan:
    return fans.create_fan(database, workspace_id, body, now=now)


def get_fan_filter(
    tag: Annotated[str | None, Query(max_length=100, description="Tag name")] = None,
    list_name: Annotated[str | None, Query(alias="list", max_length=100, description="List name")] = None,
    list_status: Annotated[ListStatus, Query(description="Status in `list`")] = "subscribed",
    lifecycle_stage: LifecycleStage | None = None,
    source: Source | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Search email and names")] = None,
) -> FanFilter:
    """The fan list's filters as query parameters; shared by the list and the CSV export so they always agree."""
    try:
        return FanFilter(
            tag=tag, list=list_name, list_status=list_status, lifecycle_stage=lifecycle_stage, source=source, q=q
        )
    except ValidationError as error:
        # The model's own checks (e.g. no NUL characters) are the client's mistake: a 422 naming the parameter.
        raise RequestValidationError(error.errors(include_url=False)) from error


FanFilterDep = Annotated[FanFilter, Depends(get_fan_filter)]


@router.get("")
def list_fans(
    database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep, fan_filter: FanFilterDep
) -> Page[Fan]:
    return fans.list_fans(database, workspace_id, fan_filter, page=paging.page, page_size=paging.page_size)


# /import and /export are declared before /{fan_id}: routes match in order, and "export" would reach get_fan.
@router.post("/import", responses=error_responses(409, 413))
def import_fans(
    file: Annotated[UploadFile, File(description="A CSV file with a header row and at least an `email` column.")],
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
    state: StateDep,
) -> ImportReport:
    """Create or merge fans (by email) from a CSV file; bad rows are reported by line and the rest go in."""
    limit = state.settings.max_csv_bytes
    # Read one byte past the limit: enough to know the file is too large without holding all of it in memory.
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"the file is larger than the limit of {limit:,} bytes; split it", field="file")
    return transfer.import_fans_csv(database, workspace_id, data, now=now, max_bytes=limit)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The fans as CSV."}},
)
def export_fans(database: DatabaseDep, workspace_id: WorkspaceDep, fan_filter: FanFilterDep) -> StreamingResponse:
    """Every fan matching the filters (the same as `GET /fans`), as CSV, streamed; formula-injection safe."""
    return StreamingResponse(
        transfer.export_fans_csv(database, workspace_id, fan_filter),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="fans.csv"'},
    )


@router.get("/{fan_id}")
def get_fan(fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Fan:
    return fans.get_fan(database, workspace_id, fan_id)


@router.patch("/{fan_id}")
def update_fan(fan_id: FanId, body: FanPatch, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Fan:
    return fans.update_fan(database, workspace_id, fan_id, body, now=now)


@router.delete("/{fan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_fan(fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Response:
    fans.delete_fan(database, workspace_id, fan_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{fan_id}/orders")
def fan_orders(fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep) -> list[Order]:
    return fans.fan_orders(database, workspace_id, fan_id, page=paging.page, page_size=paging.page_size)


@router.get("/{fan_id}/events")
def fan_events(fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep) -> list[Event]:
    return fans.fan_events(database, workspace_id, fan_id, page=paging.page, page_size=paging.page_size)


@router.get("/{fan_id}/lists")
def fan_lists(fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep) -> list[ListMembership]:
    return fans.fan_list_memberships(database, workspace_id, fan_id)
