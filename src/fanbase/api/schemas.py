"""Shapes that only the HTTP API speaks: batch envelopes, the error bodies, and path parameter types.

The domain's own records live in ``fanbase.schemas``; what is here exists because of HTTP (an envelope around
a batch, a header, an error body that ``fanbase.api.app`` writes).
"""

from __future__ import annotations

from typing import Annotated
from typing import Any

from fastapi import Path
from pydantic import BaseModel
from pydantic import Field

from fanbase.schemas.common import MAX_ID
from fanbase.schemas.common import Input
from fanbase.schemas.common import Name
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import OrderIn


def object_id(what: str) -> Any:
    # Bounded like stored ids: a larger number names nothing, and binding it would overflow the database driver.
    return Path(ge=1, le=MAX_ID, description=f"The {what}'s id.")


FanId = Annotated[int, object_id("fan")]
OrderId = Annotated[int, object_id("order")]
EventId = Annotated[int, object_id("event")]
TagId = Annotated[int, object_id("tag")]
ListId = Annotated[int, object_id("list")]
ApiKeyId = Annotated[int, object_id("API key")]
SegmentId = Annotated[int, object_id("segment")]


class OrderBatch(Input):
    # The upper bound is the server's setting (max_batch_size), checked by the route so it can answer 413.
    items: list[OrderIn] = Field(min_length=1, description="The orders; at most the server's max_batch_size.")


class EventBatch(Input):
    items: list[EventIn] = Field(min_length=1, description="The events; at most the server's max_batch_size.")


class ApiKeyIn(Input):
    name: Name


# --- error bodies, as written by fanbase.api.app (documented here so clients and fuzzers know them) ----------------


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong, naming the field when one is at fault.")
    field: str | None = Field(default=None, description="The field at fault, when there is one.")


class FieldError(BaseModel):
    field: str
    message: str


class ValidationErrorBody(BaseModel):
    detail: str
    errors: list[FieldError]


_DESCRIPTIONS = {
    401: "Missing, unknown or revoked API key.",
    404: "No such object in this workspace.",
    409: "Conflicts with the current state (duplicate, already done, idempotency key reused).",
    413: "Larger than the server's bound; the message names the limit.",
    422: "A field is invalid; the message names it.",
    503: "Concurrent writes kept the database busy past the retries; nothing was written. Retry after `Retry-After`.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the given error statuses, with the bodies the app really sends."""
    return {
        status: {"model": ValidationErrorBody if status == 422 else ErrorBody, "description": _DESCRIPTIONS[status]}
        for status in statuses
    }
