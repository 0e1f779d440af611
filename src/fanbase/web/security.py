"""Web hygiene for the dashboard: security headers on every response, same-origin form posts, and a websocket that
answers only the dashboard's own pages.

- Headers: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``, ``X-Frame-Options: DENY`` on
  everything; on the dashboard's pages a ``Content-Security-Policy`` (nothing from other sites, no framing, forms
  post only here). NiceGUI builds its pages with inline scripts and evaluates the components' templates, so scripts
  need 'unsafe-inline' and 'unsafe-eval'; everything else is locked to the site itself. ``Strict-Transport-Security``
  when the request came over https. The API docs page (Swagger UI, from a CDN) keeps its own needs.
- Form posts (sign-in, sign-out) from another origin are refused (403): a page elsewhere cannot sign a visitor in
  as someone else (login CSRF). Browsers send ``Origin`` with every form post; a client without one (a script) is
  not a browser being tricked.
- NiceGUI's socket server accepts any origin; it is set to the page's own (engine.io checks ``Origin`` itself).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp
from starlette.types import Message
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
EVERYWHERE = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
# Paths whose responses are not dashboard pages: the API (JSON) and its docs (Swagger UI loads from a CDN).
NOT_PAGES = ("/api/", "/docs", "/openapi.json")
FORM_POSTS = ("/auth/login", "/auth/logout")


def own_origin(scope: Scope) -> str:
    headers = Headers(scope=scope)
    return f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response, and cross-origin form posts refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if scope["method"] == "POST" and path in FORM_POSTS:
            origin = Headers(scope=scope).get("origin")
            if origin is not None and origin != own_origin(scope):
                refusal = JSONResponse({"detail": "a form from another site cannot post here"}, status_code=403)
                await refusal(scope, receive, send)
                return
        is_page = not path.startswith(NOT_PAGES)
        is_https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERYWHERE.items():
                    headers.setdefault(name, value)
                if is_page:
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                if is_https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, with_headers)
