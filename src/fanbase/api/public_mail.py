"""The links in a mail, served without sign-in: ``/u/{token}`` (unsubscribe), ``/t/o/{token}.gif`` (the open
pixel) and ``/t/c/{token}`` (a tracked link). Their tokens are signed per recipient (services.mail_links), and each
client address is held to the API's rate limit.

Unsubscribing follows RFC 8058: a mail client's one-click ``POST`` (body ``List-Unsubscribe=One-Click``) is
answered with no page; a person following the footer's link gets a page asking to confirm (``GET`` never changes
anything: mail scanners fetch links), whose button posts the form and shows that it is done.
"""

from __future__ import annotations

import base64
import contextlib
import html
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Path
from fastapi import Request
from fastapi import Response
from fastapi.responses import HTMLResponse
from fastapi.responses import JSONResponse
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from fanbase.api.deps import AppState
from fanbase.api.deps import app_state
from fanbase.api.deps import get_now
from fanbase.errors import FanbaseError
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.errors import Unauthorized
from fanbase.schemas.common import MAX_ID
from fanbase.schemas.messages import InboundResult
from fanbase.services import engagement
from fanbase.services import inbound_mail
from fanbase.services import throttles
from fanbase.services.throttles import RateLimit

router = APIRouter(include_in_schema=False)

# A transparent 1 by 1 pixel GIF.
# The unsubscribe link of a preview (services.messages.preview): a page that changes nothing.
PREVIEW_TOKEN = "preview"  # noqa: S105 - not a secret
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _throttled(
    request: Request, state: Annotated[AppState, Depends(app_state)], now: Annotated[datetime, Depends(get_now)]
) -> None:
    client = request.client.host if request.client else "?"
    throttles.take(
        state.database, ((f"public:client:{client}", RateLimit(state.settings.rate_limit_per_address)),), now=now
    )


Guarded = Annotated[None, Depends(_throttled)]
StateDep = Annotated[AppState, Depends(app_state)]
NowDep = Annotated[datetime, Depends(get_now)]


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}"
        "button{font-size:1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#5b3cc4;color:#fff;"
        "cursor:pointer}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers={"Cache-Control": "no-store"})


def _refused(error: FanbaseError) -> HTMLResponse:
    status = 404 if isinstance(error, NotFound) else 400
    return _page("This link does not work", f"<p>{html.escape(error.message)}.</p>", status=status)


@router.get("/u/{token}")
def confirm_page(token: str, _: Guarded, state: StateDep, now: NowDep) -> HTMLResponse:
    if token == PREVIEW_TOKEN:
        return _page("Unsubscribe", "<p>This is a preview: the link in a real mail unsubscribes its recipient.</p>")
    try:
        who = engagement.who_unsubscribes(state.database, token, now=now)
    except FanbaseError as error:
        return _refused(error)
    if who.already:
        return _page("You are unsubscribed", f"<p>{html.escape(who.email)} gets no more of this mail.</p>")
    what = f"from <strong>{html.escape(who.list_name)}</strong>" if who.list_name else "from this sender's mail"
    return _page(
        "Unsubscribe?",
        f"<p>Stop sending mail to <strong>{html.escape(who.email)}</strong> {what}?</p>"
        "<form method=post><input type=hidden name=confirm value=yes><button type=submit>Unsubscribe</button></form>",
    )


@router.post("/u/{token}")
async def unsubscribe(token: str, request: Request, _: Guarded, state: StateDep, now: NowDep) -> Response:
    """One-click (RFC 8058) from a mail client, or the confirmation page's button."""
    form = await request.form()
    one_click = form.get("List-Unsubscribe") == "One-Click"
    try:
        done = engagement.unsubscribe(state.database, token, now=now)
    except FanbaseError as error:
        return Response(status_code=400) if one_click else _refused(error)
    if one_click:
        return Response(status_code=200)
    where = f"from {html.escape(done.list_name)}" if done.list_name else "from this sender's mail"
    return _page("You are unsubscribed", f"<p>{html.escape(done.email)} is unsubscribed {where}.</p>")


@router.post("/inbound/{workspace_id}/mail-events", response_model=None)
async def mail_events(
    workspace_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request, _: Guarded, state: StateDep, now: NowDep
) -> InboundResult | JSONResponse:
    """A provider's bounce and complaint events, signed with the workspace's inbound secret (services.inbound_mail
    documents the shape and the signature)."""
    body = await request.body()
    signature = request.headers.get("Fanbase-Signature")
    try:
        report = await run_in_threadpool(
            lambda: inbound_mail.receive_events(state.database, workspace_id, body, signature, now=now)
        )
    except Unauthorized as error:
        return JSONResponse({"detail": error.message, "field": "Fanbase-Signature"}, status_code=401)
    except InvalidInput as error:
        return JSONResponse({"detail": error.message, "field": error.field}, status_code=422)
    return report.result()


@router.get("/t/o/{token}.gif")
def opened(token: str, _: Guarded, state: StateDep, now: NowDep) -> Response:
    """The open pixel: recorded when its token is good; the image either way, so a mail never shows a broken one."""
    with contextlib.suppress(FanbaseError):
        engagement.record_open(state.database, token, now=now)
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


@router.get("/t/c/{token}")
def clicked(token: str, _: Guarded, state: StateDep, now: NowDep) -> Response:
    """A tracked link: recorded, then on to the address signed into it (never one given in the request)."""
    try:
        url = engagement.record_click(state.database, token, now=now)
    except FanbaseError as error:
        return _refused(error)
    return RedirectResponse(url, status_code=302)
