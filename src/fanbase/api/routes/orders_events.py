"""/orders and /events: record one or a batch (idempotent with an ``Idempotency-Key``), read, refund."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from typing import Any

from fastapi import APIRouter
from fastapi import Header
from fastapi import status
from fastapi.responses import JSONResponse

from fanbase.api.deps import AppState
from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import StateDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.endpoints import build_endpoint
from fanbase.api.schemas import EventBatch
from fanbase.api.schemas import EventId
from fanbase.api.schemas import OrderBatch
from fanbase.api.schemas import OrderId
from fanbase.api.schemas import error_responses
from fanbase.errors import TooLarge
from fanbase.schemas.orders_events import BatchResult
from fanbase.schemas.orders_events import Event
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import Order
from fanbase.schemas.orders_events import OrderIn
from fanbase.services import orders_events
from fanbase.services.orders_events import Reply

router = APIRouter(responses=error_responses(401, 422))

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x20-\x7e]+$",
        description="Any unique string of printable ASCII (e.g. a UUID). A retry with the same key and body replays "
        "the first reply and changes nothing; the same key with a different body is refused with 409. Keys are per "
        "workspace.",
    ),
]

_CREATED: dict[int | str, dict[str, Any]] = {
    201: {
        "headers": {
            "Idempotency-Replayed": {
                "description": "`true` when this reply is a replay of an earlier request with the same key.",
                "schema": {"type": "string", "enum": ["true"]},
            }
        }
    },
    **error_responses(404, 409, 503),
}


def _respond(reply: Reply) -> JSONResponse:
    headers = {"Idempotency-Replayed": "true"} if reply.replayed else None
    return JSONResponse(reply.body, status_code=reply.status_code, headers=headers)


def _check_batch_size(count: int, state: StateDep) -> None:
    # Refuse before any work: a batch over the bound is the client's to split, not the server's to chew on.
    limit = state.settings.max_batch_size
    if count > limit:
        raise TooLarge(f"at most {limit} items per batch, got {count}; split the batch", field="items")


@dataclass(frozen=True)
class _Recording:
    """One kind that is recorded one at a time or in batches: orders or events."""

    noun: str  # "order": endpoints create_order and create_orders, paths /orders and /orders/batch
    body: type[Any]
    batch_body: type[Any]
    record: type[Any]
    record_one: Callable[..., Reply]
    record_many: Callable[..., Reply]
    doc_one: str
    doc_many: str


def _add_recording_routes(kind: _Recording) -> None:
    """POST /<noun>s (one) and POST /<noun>s/batch (all or nothing), idempotent with an ``Idempotency-Key``."""
    plural = f"{kind.noun}s"
    scope = {"database": DatabaseDep, "workspace_id": WorkspaceDep, "now": NowDep}

    def create_one(
        body: Any, database: Any, workspace_id: int, now: datetime, state: AppState, idempotency_key: str | None
    ) -> JSONResponse:
        ttl = state.settings.idempotency_ttl
        return _respond(
            kind.record_one(database, workspace_id, body, idempotency_key=idempotency_key, idempotency_ttl=ttl, now=now)
        )

    def create_many(
        body: Any, database: Any, workspace_id: int, now: datetime, state: AppState, idempotency_key: str | None
    ) -> JSONResponse:
        _check_batch_size(len(body.items), state)
        ttl = state.settings.idempotency_ttl
        return _respond(
            kind.record_many(
                database, workspace_id, body.items, idempotency_key=idempotency_key, idempotency_ttl=ttl, now=now
            )
        )

    def add_create_route(
        path: str, *, name: str, doc: str, body: type[Any], answers: type[Any], responses: Any, run: Callable[..., Any]
    ) -> None:
        # Both read the body, the workspace and the optional key, and answer 201 with JSONResponse themselves (a
        # replay carries its header); ``answers`` is the record the document names for the 201.
        router.post(
            path, tags=[plural], status_code=status.HTTP_201_CREATED, response_model=answers, responses=responses
        )(
            build_endpoint(
                name,
                doc=doc,
                parameters={"body": body, **scope, "state": StateDep, "idempotency_key": IdempotencyKey},
                returns=JSONResponse,
                run=run,
                defaults={"idempotency_key": None},
            )
        )

    add_create_route(
        f"/{plural}",
        name=f"create_{kind.noun}",
        doc=kind.doc_one,
        body=kind.body,
        answers=kind.record,
        responses=_CREATED,
        run=create_one,
    )
    add_create_route(
        f"/{plural}/batch",
        name=f"create_{plural}",
        doc=kind.doc_many,
        body=kind.batch_body,
        answers=BatchResult,
        responses={**_CREATED, **error_responses(413)},
        run=create_many,
    )


# --- orders ----------------------------------------------------------------------------------------------------


_add_recording_routes(
    _Recording(
        noun="order",
        body=OrderIn,
        batch_body=OrderBatch,
        record=Order,
        record_one=orders_events.record_order,
        record_many=orders_events.record_orders,
        doc_one="Record one order; the fan's figures (total spent, purchases, activity) change in the same "
        "transaction.",
        doc_many="Record a batch of orders, all or nothing.",
    )
)


@router.get("/orders/{order_id}", tags=["orders"], responses=error_responses(404))
def get_order(order_id: OrderId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Order:
    return orders_events.get_order(database, workspace_id, order_id)


@router.post("/orders/{order_id}/refund", tags=["orders"], responses=error_responses(404, 409))
def refund_order(order_id: OrderId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Order:
    """Mark a completed order refunded; the fan's figures are recomputed. Refunding twice is a 409."""
    return orders_events.refund_order(database, workspace_id, order_id, now=now)


# --- events ----------------------------------------------------------------------------------------------------


_add_recording_routes(
    _Recording(
        noun="event",
        body=EventIn,
        batch_body=EventBatch,
        record=Event,
        record_one=orders_events.record_event,
        record_many=orders_events.record_events,
        doc_one="Record one activity event; the fan's last_active_at moves forward when it is later.",
        doc_many="Record a batch of events, all or nothing.",
    )
)


@router.get("/events/{event_id}", tags=["events"], responses=error_responses(404))
def get_event(event_id: EventId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Event:
    return orders_events.get_event(database, workspace_id, event_id)
