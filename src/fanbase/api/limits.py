"""Limits before work: a request body is capped while it is read, before authentication and parsing.

A pure ASGI middleware (it sees every request, the dashboard's included): a ``Content-Length`` over the cap is
answered 413 before one byte is read; a body without one (chunked) is counted as it arrives and refused the moment it
passes the cap. The cap depends on the route class: uploads (``multipart/form-data``, ``text/csv``) may carry a CSV
file of ``max_csv_bytes``; anything else is JSON or a form, capped at ``max_json_bytes``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# A multipart body wraps the file in boundaries and part headers: this much on top of the file's own limit.
MULTIPART_OVERHEAD = 64 * 1024
UPLOAD_TYPES = ("multipart/form-data", "text/csv")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body without a length passes the cap: an HTTP 413 that FastAPI's body reading
    lets through (it turns other errors into a 400), answered by the app's handler or else by this middleware."""

    field = "body"

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(413, _too_large(limit, setting), headers={"Connection": "close"})


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes + MULTIPART_OVERHEAD

    def limit_for(self, scope: Scope) -> tuple[int, str]:
        """The cap for this request's body and the name of the setting that sets it."""
        content_type = ""
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                content_type = value.decode("latin-1").lower()
        if content_type.startswith(UPLOAD_TYPES):
            return self.max_upload_bytes, "FANBASE_MAX_CSV_BYTES"
        return self.max_json_bytes, "FANBASE_MAX_JSON_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit, setting)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, setting)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:  # an app without a handler for it (FastAPI's answers it itself, as a 413)
            if not started:
                await _refuse(send, limit, setting)


def _too_large(limit: int, setting: str) -> str:
    return f"the request body is larger than the limit of {limit:,} bytes (set by {setting})"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, limit: int, setting: str) -> None:
    body = json.dumps({"detail": _too_large(limit, setting), "field": "body"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            # The rest of the body is not read: the client must not reuse this connection for another request.
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
