"""Orders and activity events."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from typing import NamedTuple

from sqlalchemy import Connection
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update

from fanbase.db.repositories.fans import cents_to_money
from fanbase.db.repositories.latest_events import record_latest
from fanbase.db.repositories.sql import insert_returning_ids
from fanbase.db.repositories.sql import one_of
from fanbase.db.repositories.sql import read_one
from fanbase.db.tables import events
from fanbase.db.tables import fans
from fanbase.db.tables import orders
from fanbase.schemas.orders_events import Event
from fanbase.schemas.orders_events import Order

_ORDER_CENTS = ("amount_cents", "original_amount_cents", "original_refunded_cents")
ORDER_COLUMNS = tuple(column for column in orders.c if column.name not in ("workspace_id", *_ORDER_CENTS))
EVENT_COLUMNS = tuple(column for column in events.c if column.name != "workspace_id")


class OrderRow(NamedTuple):
    """An order as stored (money in cents), for the writes that need its status and fan."""

    id: int
    fan_id: int
    external_id: str | None
    currency: str
    original_amount_cents: int
    original_currency: str
    exchange_rate: str
    original_refunded_cents: int
    category: str
    product: str | None
    status: str
    placed_at: datetime
    refunded_at: datetime | None
    created_at: datetime
    amount_cents: int


def order_from_row(row: Mapping[Any, Any]) -> Order:
    data = dict(row)
    data["amount"] = cents_to_money(data.pop("amount_cents"))
    data["original_amount"] = cents_to_money(data.pop("original_amount_cents"))
    data["refunded_amount"] = cents_to_money(data.pop("original_refunded_cents"))
    return Order.model_validate(data)


def insert_orders(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    return insert_returning_ids(connection, orders, workspace_id, rows)


def insert_events(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """The events, and their fans' latest times per type (same transaction); returns the events' ids."""
    ids = insert_returning_ids(connection, events, workspace_id, rows)
    record_latest(connection, workspace_id, rows)
    return ids


def get_order_row(
    connection: Connection, workspace_id: int, order_id: int, *, for_update: bool = False
) -> OrderRow | None:
    statement = select(*ORDER_COLUMNS, *(orders.c[name] for name in _ORDER_CENTS)).where(
        orders.c.workspace_id == workspace_id, orders.c.id == order_id
    )
    if for_update:
        statement = statement.with_for_update()
    return read_one(connection, statement, OrderRow)


def _existing(connection: Connection, table: Table, workspace_id: int, external_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for listed in one_of(connection, table.c.external_id, sorted(set(external_ids)), String()):
        found.update(
            connection.execute(
                select(table.c.external_id).where(table.c.workspace_id == workspace_id, listed)
            ).scalars()
        )
    return found


def existing_external_ids(connection: Connection, workspace_id: int, external_ids: Sequence[str]) -> set[str]:
    """Which of these order external ids are recorded."""
    return _existing(connection, orders, workspace_id, external_ids)


def existing_event_ids(connection: Connection, workspace_id: int, external_ids: Sequence[str]) -> set[str]:
    """Which of these event external ids are recorded."""
    return _existing(connection, events, workspace_id, external_ids)


def mark_refunded(connection: Connection, workspace_id: int, order_id: int, *, now: datetime) -> None:
    connection.execute(
        update(orders)
        .where(orders.c.workspace_id == workspace_id, orders.c.id == order_id)
        .values(status="refunded", refunded_at=now, original_refunded_cents=orders.c.original_amount_cents)
    )


class StoredOrder(NamedTuple):
    """What a re-delivered order is compared with: its state and what was charged, at which rate."""

    id: int
    fan_id: int
    status: str
    original_amount_cents: int
    original_refunded_cents: int
    rate: Decimal


_STORED_COLUMNS = (
    orders.c.id,
    orders.c.fan_id,
    orders.c.status,
    orders.c.original_amount_cents,
    orders.c.original_refunded_cents,
    orders.c.exchange_rate,
)


def _stored(row: Any) -> StoredOrder:
    return StoredOrder(
        int(row.id),
        int(row.fan_id),
        row.status,
        int(row.original_amount_cents),
        int(row.original_refunded_cents),
        Decimal(row.exchange_rate),
    )


def orders_by_external_ids(
    connection: Connection, workspace_id: int, external_ids: Sequence[str]
) -> dict[str, StoredOrder]:
    found: dict[str, StoredOrder] = {}
    for listed in one_of(connection, orders.c.external_id, sorted(set(external_ids)), String()):
        rows = connection.execute(
            select(orders.c.external_id, *_STORED_COLUMNS).where(orders.c.workspace_id == workspace_id, listed)
        )
        for row in rows:
            found[row.external_id] = _stored(row)
    return found


def latest_order_of_product(
    connection: Connection, workspace_id: int, email: str, external_prefix: str, product: str, *, before: datetime
) -> StoredOrder | None:
    """The fan's (by email) latest order of ``product`` from one source (external ids starting ``external_prefix``)
    placed at or before ``before``."""
    row = connection.execute(
        select(
            *_STORED_COLUMNS,
        )
        .select_from(orders.join(fans, (fans.c.workspace_id == orders.c.workspace_id) & (fans.c.id == orders.c.fan_id)))
        .where(
            orders.c.workspace_id == workspace_id,
            fans.c.email == email,
            orders.c.product == product,
            orders.c.external_id.startswith(external_prefix, autoescape=True),
            orders.c.placed_at <= before,
        )
        .order_by(orders.c.placed_at.desc(), orders.c.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    return _stored(row)


def orders_with_prefix(
    connection: Connection, workspace_id: int, external_prefix: str
) -> list[tuple[str, str | None, str, StoredOrder]]:
    """The orders whose external ids start with ``external_prefix`` (one vendor order's lines), in id order: each
    with its external id, product and fan's email."""
    rows = connection.execute(
        select(
            orders.c.external_id,
            orders.c.product,
            fans.c.email,
            *_STORED_COLUMNS,
        )
        .select_from(orders.join(fans, (fans.c.workspace_id == orders.c.workspace_id) & (fans.c.id == orders.c.fan_id)))
        .where(orders.c.workspace_id == workspace_id, orders.c.external_id.startswith(external_prefix, autoescape=True))
        .order_by(orders.c.id)
    )
    return [
        (
            row.external_id,
            row.product,
            row.email,
            _stored(row),
        )
        for row in rows
    ]


def apply_refunds(connection: Connection, workspace_id: int, refunds: Sequence[Mapping[str, Any]]) -> None:
    """Each: order_id, status, refunded_at, original_refunded_cents, amount_cents (the order's new state)."""
    columns = ("status", "refunded_at", "original_refunded_cents", "amount_cents")
    connection.execute(
        update(orders)
        .where(orders.c.workspace_id == workspace_id, orders.c.id == bindparam("order_id"))
        .values({column: bindparam(f"new_{column}") for column in columns}),
        [{"order_id": refund["order_id"], **{f"new_{c}": refund[c] for c in columns}} for refund in refunds],
    )


def orders_by_ids(connection: Connection, workspace_id: int, order_ids: Sequence[int]) -> list[Order]:
    rows = connection.execute(
        select(*ORDER_COLUMNS, *(orders.c[name] for name in _ORDER_CENTS))
        .where(orders.c.workspace_id == workspace_id, orders.c.id.in_(order_ids))
        .order_by(orders.c.id)
    )
    return [order_from_row(row._mapping) for row in rows]


def orders_of_fan(connection: Connection, workspace_id: int, fan_id: int, *, limit: int, offset: int) -> list[Order]:
    rows = connection.execute(
        select(*ORDER_COLUMNS, *(orders.c[name] for name in _ORDER_CENTS))
        .where(orders.c.workspace_id == workspace_id, orders.c.fan_id == fan_id)
        .order_by(orders.c.placed_at.desc(), orders.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [order_from_row(row._mapping) for row in rows]


def events_by_ids(connection: Connection, workspace_id: int, event_ids: Sequence[int]) -> list[Event]:
    rows = connection.execute(
        select(*EVENT_COLUMNS)
        .where(events.c.workspace_id == workspace_id, events.c.id.in_(event_ids))
        .order_by(events.c.id)
    )
    return [Event.model_validate(row._mapping) for row in rows]


def events_of_fan(connection: Connection, workspace_id: int, fan_id: int, *, limit: int, offset: int) -> list[Event]:
    rows = connection.execute(
        select(*EVENT_COLUMNS)
        .where(events.c.workspace_id == workspace_id, events.c.fan_id == fan_id)
        .order_by(events.c.occurred_at.desc(), events.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [Event.model_validate(row._mapping) for row in rows]
