"""The routes tags and lists share: create, list, read, update and delete one, under the router's prefix.

The endpoints are built per kind (its record, its bodies, its id parameter's name), so their signatures are made
here, explicitly: FastAPI reads them for validation and for the OpenAPI document, which stays what hand-written
routes gave (operation ids come from the endpoint names, descriptions from the docs passed in).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi import Response
from fastapi import status

from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.schemas import error_responses


@dataclass(frozen=True)
class FanGroupRoutes:
    """What the five routes of one kind need: names, types, the service calls and each route's description."""

    noun: str  # "tag": endpoints create_tag, get_tag, …
    plural: str  # "tags": the listing endpoint list_tags
    record: type[Any]
    create_body: type[Any]
    patch_body: type[Any]
    id_type: Any  # the id path parameter's annotated type
    create: Callable[..., Any]
    list_all: Callable[..., Any]
    get: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., None]
    docs: Mapping[str, str]  # by verb: "create", "update", "delete"


def _parameter(name: str, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


def _endpoint(
    name: str, doc: str | None, parameters: Mapping[str, Any], returns: Any, run: Callable[..., Any]
) -> Callable[..., Any]:
    def endpoint(**arguments: Any) -> Any:
        return run(**arguments)

    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = doc
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [_parameter(key, annotation) for key, annotation in parameters.items()], return_annotation=returns
    )
    return endpoint


def add_fan_group_routes(router: APIRouter, kind: FanGroupRoutes) -> None:
    """Add POST "", GET "", and GET, PATCH, DELETE "/{<noun>_id}" to ``router``."""
    group_id = f"{kind.noun}_id"
    by_id = f"/{{{group_id}}}"
    scope = {"database": DatabaseDep, "workspace_id": WorkspaceDep}

    def create(body: Any, database: Any, workspace_id: int, now: Any) -> Any:
        return kind.create(database, workspace_id, body, now=now)

    def list_all(database: Any, workspace_id: int) -> Any:
        return kind.list_all(database, workspace_id)

    def get(database: Any, workspace_id: int, **path: int) -> Any:
        return kind.get(database, workspace_id, path[group_id])

    def update(body: Any, database: Any, workspace_id: int, **path: int) -> Any:
        return kind.update(database, workspace_id, path[group_id], body)

    def delete(database: Any, workspace_id: int, **path: int) -> Response:
        kind.delete(database, workspace_id, path[group_id])
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409))(
        _endpoint(
            f"create_{kind.noun}",
            kind.docs.get("create"),
            {"body": kind.create_body, **scope, "now": NowDep},
            kind.record,
            create,
        )
    )
    router.get("")(_endpoint(f"list_{kind.plural}", None, scope, types.GenericAlias(list, (kind.record,)), list_all))
    router.get(by_id, responses=error_responses(404))(
        _endpoint(f"get_{kind.noun}", None, {group_id: kind.id_type, **scope}, kind.record, get)
    )
    router.patch(by_id, responses=error_responses(404, 409))(
        _endpoint(
            f"update_{kind.noun}",
            kind.docs.get("update"),
            {group_id: kind.id_type, "body": kind.patch_body, **scope},
            kind.record,
            update,
        )
    )
    router.delete(by_id, status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))(
        _endpoint(f"delete_{kind.noun}", kind.docs.get("delete"), {group_id: kind.id_type, **scope}, Response, delete)
    )
