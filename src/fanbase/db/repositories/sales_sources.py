"""Sales sources (a workspace's signed inbound endpoint per vendor) and the log of deliveries to them."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from fanbase.db.repositories.sql import named_columns
from fanbase.db.repositories.sql import read_one
from fanbase.db.tables import sales_deliveries
from fanbase.db.tables import sales_sources
from fanbase.schemas.sales import SalesDelivery

DETAIL_LENGTH = 1000


class StoredSource(NamedTuple):
    vendor: str
    secret: str
    created_at: datetime


_SOURCE = named_columns(StoredSource._fields, sales_sources)


def get_source(connection: Connection, workspace_id: int, vendor: str) -> StoredSource | None:
    statement = select(*_SOURCE).where(sales_sources.c.workspace_id == workspace_id, sales_sources.c.vendor == vendor)
    return read_one(connection, statement, StoredSource)


def list_sources(connection: Connection, workspace_id: int) -> list[StoredSource]:
    rows = connection.execute(
        select(*_SOURCE).where(sales_sources.c.workspace_id == workspace_id).order_by(sales_sources.c.vendor)
    )
    return [StoredSource(**row._mapping) for row in rows]


def put_source(connection: Connection, workspace_id: int, vendor: str, secret: str, *, now: datetime) -> None:
    """Set the vendor's secret (a new source, or a new secret for the existing one)."""
    changed = connection.execute(
        update(sales_sources)
        .where(sales_sources.c.workspace_id == workspace_id, sales_sources.c.vendor == vendor)
        .values(secret=secret, created_at=now)
    ).rowcount
    if not changed:
        connection.execute(
            insert(sales_sources).values(workspace_id=workspace_id, vendor=vendor, secret=secret, created_at=now)
        )


def delete_source(connection: Connection, workspace_id: int, vendor: str) -> bool:
    result = connection.execute(
        delete(sales_sources).where(sales_sources.c.workspace_id == workspace_id, sales_sources.c.vendor == vendor)
    )
    return result.rowcount > 0


def log_delivery(
    connection: Connection,
    workspace_id: int,
    *,
    vendor: str,
    topic: str,
    delivery_id: str | None,
    outcome: str,
    status_code: int,
    detail: str | None,
    orders: int = 0,
    events: int = 0,
    now: datetime,
) -> None:
    connection.execute(
        insert(sales_deliveries).values(
            workspace_id=workspace_id,
            vendor=vendor,
            topic=topic[:100],
            delivery_id=delivery_id[:200] if delivery_id else None,
            received_at=now,
            outcome=outcome,
            status_code=status_code,
            detail=detail[:DETAIL_LENGTH] if detail else None,
            orders=orders,
            events=events,
        )
    )


def was_processed(connection: Connection, workspace_id: int, vendor: str, topic: str, delivery_id: str) -> bool:
    """Whether a delivery of this vendor object was written already (a replayed refund must not refund twice)."""
    found = connection.execute(
        select(sales_deliveries.c.id)
        .where(
            sales_deliveries.c.workspace_id == workspace_id,
            sales_deliveries.c.vendor == vendor,
            sales_deliveries.c.topic == topic,
            sales_deliveries.c.delivery_id == delivery_id,
            sales_deliveries.c.outcome == "processed",
        )
        .limit(1)
    ).first()
    return found is not None


def count_since(connection: Connection, workspace_id: int, *, outcome: str, since: datetime) -> int:
    return int(
        connection.execute(
            select(func.count())
            .select_from(sales_deliveries)
            .where(
                sales_deliveries.c.workspace_id == workspace_id,
                sales_deliveries.c.received_at >= since,
                sales_deliveries.c.outcome == outcome,
            )
        ).scalar_one()
    )


def list_deliveries(connection: Connection, workspace_id: int, *, limit: int, offset: int) -> list[SalesDelivery]:
    rows = connection.execute(
        select(*(column for column in sales_deliveries.c if column.name != "workspace_id"))
        .where(sales_deliveries.c.workspace_id == workspace_id)
        .order_by(sales_deliveries.c.received_at.desc(), sales_deliveries.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [SalesDelivery.model_validate(row._mapping) for row in rows]


def count_deliveries(connection: Connection, workspace_id: int) -> int:
    return int(
        connection.execute(
            select(func.count()).select_from(sales_deliveries).where(sales_deliveries.c.workspace_id == workspace_id)
        ).scalar_one()
    )


def forget_deliveries_before(connection: Connection, before: datetime) -> int:
    return connection.execute(delete(sales_deliveries).where(sales_deliveries.c.received_at < before)).rowcount
