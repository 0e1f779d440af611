"""/fans: create, read, update, erase, list with filters (by segment, by ad-hoc rule), CSV import/export, search
with a JSON rule; a fan's orders, events and lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Depends
from fastapi import File
from fastapi import Query
from fastapi import Response
from fastapi import UploadFile
from fastapi import status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import Field
from pydantic import ValidationError

from fanbase.api.deps import ActorDep
from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import PagingDep
from fanbase.api.deps import StateDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.downloads import csv_responses
from fanbase.api.downloads import fans_csv
from fanbase.api.schemas import FanId
from fanbase.api.schemas import error_responses
from fanbase.api.uploads import read_upload
from fanbase.errors import InvalidInput
from fanbase.schemas.common import MAX_ID
from fanbase.schemas.common import Page
from fanbase.schemas.common import RowId
from fanbase.schemas.common import RuleText
from fanbase.schemas.fan_csv import ImportReport
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.fans import FanIn
from fanbase.schemas.fans import FanPatch
from fanbase.schemas.fans import FanSource
from fanbase.schemas.fans import LifecycleStage
from fanbase.schemas.lists import ListMembership
from fanbase.schemas.lists import SubscriptionStatus
from fanbase.schemas.orders_events import Event
from fanbase.schemas.orders_events import Order
from fanbase.schemas.privacy import FanExport
from fanbase.services import fan_csv
from fanbase.services import fans
from fanbase.services import privacy

router = APIRouter(prefix="/fans", tags=["fans"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_fan(body: FanIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Fan:
    return fans.create_fan(database, workspace_id, body, now=now)


def get_fan_filter(
    tag: Annotated[str | None, Query(max_length=100, description="Tag name")] = None,
    list_name: Annotated[str | None, Query(alias="list", max_length=100, description="List name")] = None,
    list_status: Annotated[SubscriptionStatus, Query(description="Status in `list`")] = "subscribed",
    lifecycle_stage: LifecycleStage | None = None,
    source: FanSource | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Search email and names")] = None,
    segment_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only members of this segment")] = None,
    rule_text: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=10_000,
            description='An ad-hoc rule in the text form (URL-encoded), e.g. `total_spent > 100 and tag "VIP"`. '
            "For a JSON rule, use `POST /fans/search`.",
        ),
    ] = None,
) -> FanFilter:
    """The fan list's filters as query parameters; shared by the list and the CSV export so they always agree."""
    try:
        return FanFilter(
            tag=tag,
            list=list_name,
            list_status=list_status,
            lifecycle_stage=lifecycle_stage,
            source=source,
            q=q,
            segment_id=segment_id,
            rule_text=rule_text,
        )
    except ValidationError as error:
        # The model's own checks (e.g. no NUL characters) are the client's mistake: a 422 naming the parameter.
        raise RequestValidationError(error.errors(include_url=False)) from error


FanFilterDep = Annotated[FanFilter, Depends(get_fan_filter)]


@router.get("", responses=error_responses(404, 422))
def list_fans(
    database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep, fan_filter: FanFilterDep, now: NowDep
) -> Page[Fan]:
    """Fans matching every given filter. A bad `rule_text` is a 422 naming the path in the rule; an unknown
    `segment_id` is a 404."""
    return fans.list_fans(database, workspace_id, fan_filter, page=paging.page, page_size=paging.page_size, now=now)


class FanSearch(FanFilter):
    """The fan list's filters as a JSON body: what the query string cannot carry well, a rule in JSON form."""

    segment_id: RowId | None = Field(default=None, description="Only members of this segment.")
    rule_text: RuleText | None = Field(default=None, description="An ad-hoc rule (text form).")
    page: int = Field(default=1, ge=1, le=1_000_000, description="1-based page number")
    page_size: int = Field(default=50, ge=1, description="Items per page (bounded by the server)")


@router.post("/search", responses=error_responses(404, 422))
def search_fans(
    body: FanSearch, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, state: StateDep
) -> Page[Fan]:
    """Fans matching an ad-hoc rule (`rule` as JSON, or `rule_text`) and the other filters, a page at a time."""
    if body.page_size > state.settings.max_page_size:
        raise InvalidInput(f"must be at most {state.settings.max_page_size}", field="page_size")
    fan_filter = FanFilter.model_validate(body.model_dump(exclude={"page", "page_size"}))
    return fans.list_fans(database, workspace_id, fan_filter, page=body.page, page_size=body.page_size, now=now)


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
    data = read_upload(file, limit=limit, too_large=f"the file is larger than the limit of {limit:,} bytes; split it")
    return fan_csv.import_fans_csv(database, workspace_id, data, now=now, max_bytes=limit)


@router.get("/export", response_class=StreamingResponse, responses=csv_responses("The fans as CSV.", 404, 422))
def export_fans(
    database: DatabaseDep, workspace_id: WorkspaceDep, fan_filter: FanFilterDep, now: NowDep, actor: ActorDep
) -> StreamingResponse:
    """Every fan matching the filters (the same as `GET /fans`), as CSV, streamed; formula-injection safe. The
    export is written to the audit log."""
    return fans_csv(database, workspace_id, fan_filter, file_name="fans.csv", actor=actor, now=now)


@router.get("/{fan_id}/export", responses=error_responses(404))
def export_fan(
    fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> FanExport:
    """Everything held about the fan in one JSON document (a subject access request): the profile, lists with
    consent, segments now and every entry and exit, orders and events. Written to the audit log."""
    return privacy.export_fan(database, workspace_id, fan_id, now=now, actor=actor)


@router.get("/{fan_id}")
def get_fan(fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Fan:
    return fans.get_fan(database, workspace_id, fan_id)


@router.patch("/{fan_id}")
def update_fan(fan_id: FanId, body: FanPatch, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Fan:
    return fans.update_fan(database, workspace_id, fan_id, body, now=now)


@router.delete("/{fan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_fan(
    fan_id: FanId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> Response:
    """Erase the fan and everything held about them; written to the audit log."""
    fans.delete_fan(database, workspace_id, fan_id, now=now, actor=actor)
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
