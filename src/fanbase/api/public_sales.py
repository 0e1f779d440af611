"""The signed sales endpoints vendors post to: ``POST /inbound/{workspace_id}/sales/{vendor}``.

No API key: each delivery is verified by its signature (``services.sales_webhooks``) before any work. Each client
address is held to the API's rate limit, as the other public routes are.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fanbase.api.deps import NowDep
from fanbase.api.deps import StateDep
from fanbase.api.public_mail import Guarded
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.errors import Unauthorized
from fanbase.schemas.common import MAX_ID
from fanbase.services import sales_webhooks

router = APIRouter(include_in_schema=False)

SIGNATURE_HEADERS = {"shopify": "X-Shopify-Hmac-Sha256", "stripe": "Stripe-Signature", "generic": "Fanbase-Signature"}


@router.post("/inbound/{workspace_id}/sales/{vendor}")
async def sales_delivery(
    workspace_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    vendor: Annotated[str, Path(max_length=16)],
    request: Request,
    _: Guarded,
    state: StateDep,
    now: NowDep,
) -> JSONResponse:
    """One delivery from Shopify, Stripe or a generic signed sender; see services.sales_webhooks."""
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        answer = await run_in_threadpool(
            lambda: sales_webhooks.receive(state.database, workspace_id, vendor, body, headers, now=now)
        )
    except Unauthorized as error:
        return JSONResponse({"detail": error.message, "field": SIGNATURE_HEADERS.get(vendor)}, status_code=401)
    except NotFound as error:
        return JSONResponse({"detail": error.message}, status_code=404)
    except InvalidInput as error:
        return JSONResponse({"detail": error.message, "field": error.field}, status_code=422)
    return JSONResponse(answer.body, status_code=answer.status_code)
