"""One module per capability; each exposes ``router``."""

from __future__ import annotations

from fastapi import APIRouter

from fanbase.api.routes import (
    custom_fields,
    fans,
    health,
    history,
    lists,
    orders_events,
    segments,
    tags,
    webhooks,
    workspace,
)

ROUTERS: list[APIRouter] = [
    health.router,
    workspace.router,
    fans.router,
    orders_events.router,
    tags.router,
    lists.router,
    custom_fields.router,
    segments.router,
    history.router,
    webhooks.router,
]
