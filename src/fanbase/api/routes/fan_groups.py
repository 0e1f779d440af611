"""The routes tags and lists share: create, list, read, update and delete one, under the router's prefix.

The endpoints are built per kind (its record, its bodies, its id parameter's name) by ``fanbase.api.endpoints``:
operation ids come from the kind's noun, descriptions from the docs passed in.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi import Response
from fastapi import status

from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.endpoints import build_endpoint
from fanbase.api.schemas import error_responses
from fanbase.services.fan_groups import FanGroups


@dataclass(frozen=True)
class FanGroupRoutes:
    """What the five routes of one kind need besides its service: its types and each route's description.

    The service's noun names the endpoints: "tag" gives create_tag, get_tag, … and the listing list_tags.
    """

    service: FanGroups[Any]
    record: type[Any]
    create_body: type[Any]
    patch_body: type[Any]
    id_type: Any  # the id path parameter's annotated type
    docs: Mapping[str, str]  # by verb: "create", "update", "delete"


def add_fan_group_routes(router: APIRouter, kind: FanGroupRoutes) -> None:
    """Add POST "", GET "", and GET, PATCH, DELETE "/{<noun>_id}" to ``router``."""
    service, noun = kind.service, kind.service.noun
    group_id = f"{noun}_id"
    by_id = f"/{{{group_id}}}"
    scope = {"database": DatabaseDep, "workspace_id": WorkspaceDep}

    def create(body: Any, database: Any, workspace_id: int, now: Any) -> Any:
        return service.create(database, workspace_id, body, now=now)

    def list_all(database: Any, workspace_id: int) -> Any:
        return service.list_all(database, workspace_id)

    def get(database: Any, workspace_id: int, **path: int) -> Any:
        return service.get(database, workspace_id, path[group_id])

    def update(body: Any, database: Any, workspace_id: int, **path: int) -> Any:
        return service.update(database, workspace_id, path[group_id], body)

    def delete(database: Any, workspace_id: int, **path: int) -> Response:
        service.delete(database, workspace_id, path[group_id])
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409))(
        build_endpoint(
            f"create_{noun}",
            doc=kind.docs.get("create"),
            parameters={"body": kind.create_body, **scope, "now": NowDep},
            returns=kind.record,
            run=create,
        )
    )
    router.get("")(
        build_endpoint(
            f"list_{noun}s", doc=None, parameters=scope, returns=types.GenericAlias(list, (kind.record,)), run=list_all
        )
    )
    router.get(by_id, responses=error_responses(404))(
        build_endpoint(
            f"get_{noun}", doc=None, parameters={group_id: kind.id_type, **scope}, returns=kind.record, run=get
        )
    )
    router.patch(by_id, responses=error_responses(404, 409))(
        build_endpoint(
            f"update_{noun}",
            doc=kind.docs.get("update"),
            parameters={group_id: kind.id_type, "body": kind.patch_body, **scope},
            returns=kind.record,
            run=update,
        )
    )
    router.delete(by_id, status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))(
        build_endpoint(
            f"delete_{noun}",
            doc=kind.docs.get("delete"),
            parameters={group_id: kind.id_type, **scope},
            returns=Response,
            run=delete,
        )
    )
