"""A workspace's sales endpoints (one per vendor, with the secret deliveries are signed with) and the log of what
was delivered to them; ``sales_webhooks`` receives the deliveries."""

from __future__ import annotations

import secrets
from datetime import datetime
from datetime import timedelta

from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Database
from fanbase.db.repositories import sales_sources as sources_repo
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.audit import Actor
from fanbase.schemas.common import Page
from fanbase.schemas.sales import SalesDelivery
from fanbase.schemas.sales import SalesSource
from fanbase.schemas.sales import Vendor
from fanbase.services import audit

DELIVERY_RETENTION = timedelta(days=90)
VENDORS: tuple[Vendor, ...] = ("shopify", "stripe", "generic")


def endpoint_path(workspace_id: int, vendor: str) -> str:
    return f"/inbound/{workspace_id}/sales/{vendor}"


def set_source(
    database: Database,
    workspace_id: int,
    vendor: Vendor,
    secret: str | None,
    *,
    base_url: str = "",
    now: datetime,
    actor: Actor | None,
) -> SalesSource:
    """Set up (or re-key) the vendor's endpoint. Shopify and Stripe give the secret; for generic, fanbase makes one
    and shows it in this reply only."""
    made = None
    if secret is None:
        if vendor != "generic":
            raise InvalidInput(f"give the secret {vendor} signs its webhooks with", field="secret")
        secret = made = "whsec_" + secrets.token_urlsafe(32)
    with database.transaction(workspace_id=workspace_id) as connection:
        sources_repo.put_source(connection, workspace_id, vendor, secret, now=now)
        audit.record(connection, workspace_id, actor, "sales_source.created", target=f"{vendor} endpoint", now=now)
    return SalesSource(vendor=vendor, url=base_url + endpoint_path(workspace_id, vendor), created_at=now, secret=made)


def list_sources(database: Database, workspace_id: int, *, base_url: str = "") -> list[SalesSource]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        stored = sources_repo.list_sources(connection, workspace_id)
    return [
        SalesSource(
            vendor=row.vendor, url=base_url + endpoint_path(workspace_id, row.vendor), created_at=row.created_at
        )
        for row in stored
    ]


def delete_source(database: Database, workspace_id: int, vendor: Vendor, *, now: datetime, actor: Actor | None) -> None:
    with database.transaction(workspace_id=workspace_id) as connection:
        if not sources_repo.delete_source(connection, workspace_id, vendor):
            raise NotFound(f"no {vendor} endpoint is set up")
        audit.record(connection, workspace_id, actor, "sales_source.deleted", target=f"{vendor} endpoint", now=now)


def list_deliveries(database: Database, workspace_id: int, *, page: int, page_size: int) -> Page[SalesDelivery]:
    """The deliveries to this workspace's sales endpoints, newest first."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        items = sources_repo.list_deliveries(connection, workspace_id, limit=page_size, offset=(page - 1) * page_size)
        total = sources_repo.count_deliveries(connection, workspace_id)
    return Page[SalesDelivery](items=items, total=total, page=page, page_size=page_size)


def forget_old_deliveries(database: Database, *, now: datetime) -> int:
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:  # a chore over every workspace
        return sources_repo.forget_deliveries_before(connection, now - DELIVERY_RETENTION)
