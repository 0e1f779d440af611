"""Request dependencies: the database, the clock, the caller's workspace, pagination."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from fastapi import Query
from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security import HTTPBearer

from fanbase.errors import InvalidInput
from fanbase.errors import Unauthorized
from fanbase.services import workspaces
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


def get_workspace_id(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    database: Annotated[Database, Depends(get_database)],
    now: Annotated[datetime, Depends(get_now)],
) -> int:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    return workspaces.authenticate(database, credentials.credentials, now=now)


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
