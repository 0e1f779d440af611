"""Downloads for a signed-in user, streamed: a segment's members as CSV.

The file is written as it is read (``fan_export.export_fans_csv`` yields chunks), so a segment of a million members
costs the server one chunk's memory, not the whole file. The route sits behind the session guard like every page;
the export is audited as the signed-in user.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import FastAPI
from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.responses import Response
from fastapi.responses import StreamingResponse

from fanbase.errors import NotFound
from fanbase.schemas.audit import Actor
from fanbase.schemas.fans import FanFilter
from fanbase.services import fan_export
from fanbase.services import segments
from fanbase.web.auth import request_user
from fanbase.web.state import current

MEMBERS_CSV = "/downloads/segments/{segment_id}/members.csv"
UNSAFE = '/\\:*?"<>|'  # characters file systems refuse in a name


def members_csv_url(segment_id: int) -> str:
    return MEMBERS_CSV.format(segment_id=segment_id)


def export_file_name(name: str, day: date) -> str:
    """A members CSV named after its segment as the user wrote it: "High Value - Active members 2026-12-06.csv"
    (only the characters file systems refuse are replaced)."""
    safe = "".join("-" if character in UNSAFE or ord(character) < 32 else character for character in name)
    return f"{safe.strip(' .') or 'segment'} members {day.isoformat()}.csv"


def attachment(file_name: str) -> str:
    """A Content-Disposition naming the file in UTF-8 (RFC 6266 / 5987), with an ASCII fallback."""
    fallback = file_name.encode("ascii", "replace").decode().replace("?", "-").replace('"', "-")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name)}"


def install_download_routes(app: FastAPI) -> None:
    @app.get(MEMBERS_CSV, include_in_schema=False)
    def segment_members_csv(segment_id: int, request: Request) -> Response:
        user = request_user(request)
        if user is None:
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        state = current()
        try:
            segment = segments.get_segment(state.database, user.workspace_id, segment_id)
        except NotFound as error:
            return JSONResponse({"detail": str(error)}, status_code=404)
        client = request.client.host if request.client else None
        actor = Actor(kind="user", name=user.email, client=client)
        now = state.now()
        members = FanFilter(segment_id=segment_id)
        chunks = fan_export.start_export(state.database, user.workspace_id, members, actor=actor, now=now)
        name = export_file_name(segment.name, now.date())
        return StreamingResponse(
            chunks,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": attachment(name)},
        )
