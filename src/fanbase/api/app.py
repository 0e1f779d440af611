"""The FastAPI application: routes under /api/v1, and the one place where domain errors become HTTP statuses."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

import fanbase.web
from fanbase.api import public_mail
from fanbase.api import public_sales
from fanbase.api.deps import AppState
from fanbase.api.limits import BodyLimit
from fanbase.api.routes import ROUTERS
from fanbase.clock import utc_now
from fanbase.core.rules import rule_json_schema
from fanbase.errors import Conflict
from fanbase.errors import FanbaseError
from fanbase.errors import InvalidInput
from fanbase.errors import InvalidRule
from fanbase.errors import NotFound
from fanbase.errors import Throttled
from fanbase.errors import TooLarge
from fanbase.errors import Unauthorized
from fanbase.errors import Unavailable
from fanbase.jobs.background import BackgroundLoop
from fanbase.jobs.mail import MailSender
from fanbase.jobs.scheduler import Scheduler
from fanbase.jobs.webhooks import DeliveryWorker
from fanbase.schemas.common import plain_message
from fanbase.services.unit_of_work import Database
from fanbase.services.unit_of_work import DatabaseFault
from fanbase.services.unit_of_work import is_transient
from fanbase.services.unit_of_work import open_database
from fanbase.settings import Settings

log = logging.getLogger("fanbase.api")
# What a 503 asks a client to wait: a lost connection is re-opened, contention has passed, in about this long.
RETRY_AFTER_SECONDS = 2

STATUS_BY_ERROR: dict[type[FanbaseError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    InvalidRule: 422,
    TooLarge: 413,
    Unauthorized: 401,
    Unavailable: 503,
    Throttled: 429,
}


def _status_for(error: FanbaseError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 400


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or ".".join(str(part) for part in loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FanbaseError)
    async def domain_error(_request: Request, error: FanbaseError) -> JSONResponse:
        status = _status_for(error)
        body: dict[str, object] = {"detail": str(error)}
        if error.field:
            body["field"] = error.field
        if isinstance(error, InvalidRule):
            body["errors"] = [{"path": item.path, "message": item.message} for item in error.errors]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(error, Unavailable | Throttled):
            headers = {"Retry-After": str(error.retry_after)}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _location(tuple(item.get("loc", ()))), "message": plain_message(item.get("msg", "invalid"))}
            for item in error.errors()
        ]
        detail = "; ".join(f"{item['field']}: {item['message']}" for item in errors)
        # The first error's field at the top, as every other 4xx carries it.
        body = {"detail": detail, "field": errors[0]["field"] if errors else None, "errors": errors}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        body: dict[str, object] = {"detail": error.detail}
        if field := getattr(error, "field", None):
            body["field"] = field
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(DatabaseFault)
    async def database_fault(request: Request, error: DatabaseFault) -> JSONResponse:
        # Handled here (not by the catch-all below, after which the server closes the connection): the client's
        # connection stays usable. The transaction was rolled back, so nothing was written.
        if is_transient(error):
            log.warning("database unavailable on %s %s: %s", request.method, request.url.path, error.orig)
            detail = "the database is unavailable or busy just now; nothing was written, retry"
            return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        log.exception("database error on %s %s", request.method, request.url.path, exc_info=error)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        # Never send a stack trace to a client: log it here, answer a plain 500.
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
        return JSONResponse({"detail": "internal server error"}, status_code=500)


def install_api_fallback(app: FastAPI) -> None:
    """Everything under /api/ the routes do not serve answers in JSON: 405 with ``Allow`` for a known path asked with
    another method, else 404 (without this, the dashboard mounted at / would answer with its HTML page)."""
    api_routes = list(app.router.routes)  # the API's own, before this fallback and the dashboard's mount
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    def serves(scope: dict[str, Any]) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in api_routes)

    @app.api_route("/api/{rest:path}", methods=methods, include_in_schema=False)
    async def not_served(request: Request, rest: str) -> JSONResponse:
        allowed = [method for method in methods if serves({**request.scope, "method": method})]
        if allowed:
            detail = f"{request.method} is not allowed here; use {', '.join(allowed)}"
            return JSONResponse({"detail": detail}, status_code=405, headers={"Allow": ", ".join(allowed)})
        return JSONResponse({"detail": f"no such API route: {request.url.path}"}, status_code=404)


def install_rule_schema(app: FastAPI) -> None:
    """Put the rule language's JSON Schema in the OpenAPI document as the `Rule` component (with its parts).

    Request models declare rule fields as `{"$ref": "#/components/schemas/Rule"}`, so clients and fuzzers see the
    real recursive shape while the service still validates with paths into the tree.
    """
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build_openapi()
        rule_schema = json.loads(json.dumps(rule_json_schema()).replace('"#/$defs/', '"#/components/schemas/'))
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(rule_schema.pop("$defs", {}))
        components["Rule"] = rule_schema
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    *,
    database: Database | None = None,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = utc_now,
    dashboard: bool = True,
) -> FastAPI:
    settings = settings or Settings()
    database = database or open_database(settings.resolved_database_url())
    app = FastAPI(
        title="fanbase",
        version="1.0.0",
        summary="Fan CRM whose heart is segmentation.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.fanbase = AppState(database=database, settings=settings, clock=clock)
    install_rule_schema(app)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix="/api/v1")
    install_api_fallback(app)
    app.include_router(public_mail.router)  # the links in mail: unsubscribe, open pixel, tracked links
    app.include_router(public_sales.router)  # the signed sales endpoints (Shopify, Stripe, generic)
    if dashboard:
        fanbase.web.mount(app, database=database, clock=clock, settings=settings)
    # Outermost (added last): a body is capped before any other middleware or route reads a byte of it.
    app.add_middleware(BodyLimit, max_json_bytes=settings.max_json_bytes, max_upload_bytes=settings.max_csv_bytes)
    if settings.run_scheduler:
        install_background_jobs(
            app,
            Scheduler(
                database,
                clock=clock,
                interval=settings.scheduler_interval_seconds,
                idempotency_ttl=settings.idempotency_ttl,
                audit_retention=settings.audit_retention,
            ),
            DeliveryWorker(database, clock=clock, allow_private_targets=settings.allow_private_webhook_targets),
            MailSender.from_settings(database, settings, clock=clock),
        )
    return app


def install_background_jobs(app: FastAPI, *loops: BackgroundLoop) -> None:
    """Run the time-driven scheduler, webhook delivery and the mail sender for as long as the app serves. Wraps
    whatever lifespan is installed (the dashboard's included) rather than replacing it."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        for loop in loops:
            loop.start()
        try:
            async with inner(application) as state:
                yield state
        finally:
            for loop in reversed(loops):
                loop.stop()

    app.router.lifespan_context = lifespan
