"""Sign-in, sign-out and the guard that keeps every page but the sign-in page behind a session.

The session is a random token in an HttpOnly, SameSite=Lax cookie; the database stores only its SHA-256
(``fanbase.services.users``). Sign-in is a plain HTML form POST, so the cookie is set by an ordinary HTTP
response (NiceGUI's websocket cannot set cookies).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI
from fastapi import Request
from fastapi.responses import RedirectResponse
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from fanbase.errors import Throttled
from fanbase.errors import Unauthorized
from fanbase.errors import Unavailable
from fanbase.schemas.users import SignedInUser
from fanbase.services import users
from fanbase.web.state import current

SESSION_COOKIE = "fanbase_session"
USER_SCOPE_KEY = "fanbase.user"
# Reachable without a session: the sign-in page and its form, NiceGUI's assets and websocket, the REST API (which
# has its own bearer-key auth) with its docs, and what mail recipients and vendors reach: unsubscribe pages and
# tracking links (their tokens are signed), and the signed inbound endpoints (``api.public_mail``, ``public_sales``).
PUBLIC_PREFIXES = (
    "/login",
    "/auth/",
    "/_nicegui",
    "/api/",
    "/docs",
    "/openapi.json",
    "/favicon.ico",
    "/u/",
    "/t/",
    "/inbound/",
)


def _is_public(path: str) -> bool:
    return any(path == prefix.rstrip("/") or path.startswith(prefix) for prefix in PUBLIC_PREFIXES)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect to another host after sign-in.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def user_from_cookies(cookies: dict[str, str]) -> SignedInUser | None:
    state = current()
    return users.session_user(state.database, cookies.get(SESSION_COOKIE), now=state.now())


def request_user(request: Request) -> SignedInUser | None:
    """The signed-in user of a page request (found by the guard; looked up again if the guard did not run)."""
    user = request.scope.get(USER_SCOPE_KEY)
    if isinstance(user, SignedInUser):
        return user
    return user_from_cookies(dict(request.cookies))


class SessionGuard:
    """ASGI middleware: an HTTP request for anything but a public path needs a valid session, else → /login."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        user = await run_in_threadpool(user_from_cookies, dict(request.cookies))
        if user is None:
            target = scope["path"] + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")
            response: Response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            if request.method not in ("GET", "HEAD"):
                response = Response("sign in first", status_code=401)
            await response(scope, receive, send)
            return
        scope[USER_SCOPE_KEY] = user
        await self.app(scope, receive, send)


def install_auth_routes(app: FastAPI) -> None:
    @app.post("/auth/login", include_in_schema=False)
    async def sign_in(request: Request) -> Response:
        form = await request.form()
        email, password = str(form.get("email") or ""), str(form.get("password") or "")
        target = _safe_next(str(form.get("next") or ""))
        state = current()
        client = request.client.host if request.client else None
        try:
            session = await run_in_threadpool(
                lambda: users.sign_in(state.database, email=email, password=password, now=state.now(), client=client)
            )
        except Unauthorized:
            return RedirectResponse(f"/login?error=1&next={quote(target)}", status_code=303)
        except (Throttled, Unavailable) as refusal:
            # Back to the form, which says how long to wait; Retry-After says it to a script.
            error = "throttled" if isinstance(refusal, Throttled) else "busy"
            wait = refusal.retry_after
            return RedirectResponse(
                f"/login?error={error}&wait={wait}&next={quote(target)}",
                status_code=303,
                headers={"Retry-After": str(wait)},
            )
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            max_age=int((session.expires_at - state.now()).total_seconds()),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.post("/auth/logout", include_in_schema=False)
    async def sign_out(request: Request) -> Response:
        state = current()
        token = request.cookies.get(SESSION_COOKIE)
        await run_in_threadpool(users.sign_out, state.database, token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return response
