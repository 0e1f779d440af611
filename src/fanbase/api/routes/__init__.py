"""One module per capability; each exposes ``router``."""

from __future__ import annotations

from fastapi import APIRouter

from fanbase.api.routes import analytics
from fanbase.api.routes import audit
from fanbase.api.routes import custom_fields
from fanbase.api.routes import fans
from fanbase.api.routes import health
from fanbase.api.routes import history
from fanbase.api.routes import lists
from fanbase.api.routes import messages
from fanbase.api.routes import orders_events
from fanbase.api.routes import sales
from fanbase.api.routes import segments
from fanbase.api.routes import suppressions
from fanbase.api.routes import tags
from fanbase.api.routes import webhooks
from fanbase.api.routes import workspace

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
    analytics.router,
    webhooks.router,
    audit.router,
    suppressions.router,
    messages.router,
    sales.router,
]
