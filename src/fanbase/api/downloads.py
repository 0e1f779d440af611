"""Fans as a CSV download: `GET /fans/export` and a segment's members, streamed and written to the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.responses import StreamingResponse

from fanbase.api.schemas import error_responses
from fanbase.schemas.audit import Actor
from fanbase.schemas.fans import FanFilter
from fanbase.services import fan_export
from fanbase.services.unit_of_work import Database


def csv_responses(description: str, *errors: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a CSV download: the 200 as text/csv, and the given error statuses."""
    return {
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": description},
        **error_responses(*errors),
    }


def fans_csv(
    database: Database,
    workspace_id: int,
    fan_filter: FanFilter,
    *,
    file_name: str,
    actor: Actor | None,
    now: datetime,
) -> StreamingResponse:
    """Every fan matching ``fan_filter`` as a CSV attachment called ``file_name``; the export is audited as it
    starts."""
    # Started before the response: a bad filter is then a 404/422, not a cut-off CSV.
    return StreamingResponse(
        fan_export.start_export(database, workspace_id, fan_filter, actor=actor, now=now),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )
