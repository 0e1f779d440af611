"""Request dependencies: the database, the clock, the caller's workspace, pagination."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from fastapi import Query
from fastapi import Request
from fastapi import Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security import HTTPBearer

from fanbase.errors import InvalidInput
from fanbase.errors import Unauthorized
from fanbase.schemas.audit import Actor
from fanbase.services import throttles
from fanbase.services import workspaces
from fanbase.services.throttles import BackOff
from fanbase.services.throttles import Quota
from fanbase.services.throttles import RateLimit
from fanbase.services.unit_of_work import Database
from fanbase.settings import Settings


@dataclass
class AppState:
    """What the app factory hands to every request."""

    database: Database
    settings: Settings
    clock: Callable[[], datetime]


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.fanbase
    return state


def get_database(state: Annotated[AppState, Depends(app_state)]) -> Database:
    return state.database


def get_now(state: Annotated[AppState, Depends(app_state)]) -> datetime:
    """The request's one reading of the clock; services receive it as ``now=``."""
    return state.clock()


bearer = HTTPBearer(auto_error=False, description="A workspace API key: `Authorization: Bearer fb_…`")


# Wrong API keys back off per client address after 20 (1 s, doubling, at most 15 min): guessing keys is slow.
WRONG_KEY_BACK_OFF = BackOff(free=20)


def get_workspace_id(
    request: Request,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    state: Annotated[AppState, Depends(app_state)],
    now: Annotated[datetime, Depends(get_now)],
) -> int:
    """The caller's workspace, from its API key; then the request is counted against the key's and the client
    address's rate limits, whose tighter quota the response's ``RateLimit`` headers show."""
    database, settings = state.database, state.settings
    client = request.client.host if request.client else "?"
    failures_key = f"api:wrong-key:{client}"
    throttles.check_blocked(database, (failures_key,), now=now, what="API keys")
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    try:
        workspace_id = workspaces.authenticate(database, credentials.credentials, now=now)
    except Unauthorized:
        throttles.record_failure(database, ((failures_key, WRONG_KEY_BACK_OFF),), now=now)
        raise
    key_id = hashlib.sha256(credentials.credentials.encode()).hexdigest()[:24]
    quota = throttles.take(
        database,
        (
            (f"api:key:{key_id}", RateLimit(settings.rate_limit_per_key)),
            (f"api:client:{client}", RateLimit(settings.rate_limit_per_address)),
        ),
        now=now,
    )
    if quota is not None:
        response.headers.update(rate_limit_headers(quota))
    return workspace_id


def get_actor(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Actor:
    """Who is calling, for the audit log: the API key's public prefix and the client's address (use beside
    ``WorkspaceDep``, which has checked the key)."""
    key = credentials.credentials if credentials else ""
    client = request.client.host if request.client else None
    return Actor(kind="api_key", name=key[: workspaces.KEY_PREFIX_LENGTH], client=client)


def rate_limit_headers(quota: Quota) -> dict[str, str]:
    """The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10): the policy, and what is left of it."""
    return {
        "RateLimit-Policy": f'"default";q={quota.limit.requests};w={quota.limit.seconds}',
        "RateLimit": f'"default";r={max(0, quota.remaining)};t={quota.reset_seconds}',
    }


@dataclass(frozen=True)
class Paging:
    page: int
    page_size: int


def get_paging(
    state: Annotated[AppState, Depends(app_state)],
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")] = 1,
    page_size: Annotated[int, Query(ge=1, description="Items per page (bounded by the server)")] = 50,
) -> Paging:
    if page_size > state.settings.max_page_size:
        raise InvalidInput(f"must be at most {state.settings.max_page_size}", field="page_size")
    return Paging(page=page, page_size=page_size)


DatabaseDep = Annotated[Database, Depends(get_database)]
NowDep = Annotated[datetime, Depends(get_now)]
WorkspaceDep = Annotated[int, Depends(get_workspace_id)]
PagingDep = Annotated[Paging, Depends(get_paging)]
StateDep = Annotated[AppState, Depends(app_state)]
ActorDep = Annotated[Actor, Depends(get_actor)]
