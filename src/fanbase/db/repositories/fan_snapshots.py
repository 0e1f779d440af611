"""Fans as the core's ``FanSnapshot``: what the Python evaluator (the oracle, and the one-fan fast path) reads.

A handful of set-based queries — fans, tags, lists, segment memberships, orders, events — for the whole workspace
or the given fans, then stored forms are turned back into the core's types: cents → ``Decimal`` major units,
custom datetime text → aware ``datetime``, custom money cents → ``Decimal``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Row
from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from fanbase.core.evaluate import EventSnapshot
from fanbase.core.evaluate import FanSnapshot
from fanbase.core.evaluate import FieldValue
from fanbase.core.evaluate import OrderSnapshot
from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldType
from fanbase.db.repositories.fans import cents_to_money
from fanbase.db.repositories.sql import chunks
from fanbase.db.rule_sql import parse_stored_datetime
from fanbase.db.tables import events
from fanbase.db.tables import fan_tags
from fanbase.db.tables import fans
from fanbase.db.tables import list_members
from fanbase.db.tables import lists
from fanbase.db.tables import orders
from fanbase.db.tables import segment_members
from fanbase.db.tables import segments
from fanbase.db.tables import tags

# The fan's columns a snapshot reads as they are stored (the others are turned into the core's types).
_AS_STORED = (
    "email",
    "first_name",
    "last_name",
    "lifecycle_stage",
    "source",
    "country",
    "city",
    "created_at",
    "purchase_count",
    "first_purchase_at",
    "last_purchase_at",
    "last_active_at",
)


def _stored_custom_value(field_type: FieldType, value: Any) -> FieldValue:
    """A custom field's stored JSON value in the core's type; a value of another JSON type is passed through
    unchanged, and the evaluator's typed views then treat it as missing, as the SQL compiler's do."""
    match field_type:
        case FieldType.MONEY:
            if isinstance(value, int) and not isinstance(value, bool):
                return cents_to_money(value)
        case FieldType.DATETIME:
            if isinstance(value, str):
                try:
                    return parse_stored_datetime(value)
                except ValueError:
                    return None
        case FieldType.TEXT | FieldType.ENUM | FieldType.NUMBER | FieldType.BOOLEAN | FieldType.ANY:
            pass
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return None  # a JSON array or object can never be a declared field's value


def _custom_values(stored: Mapping[str, Any] | None, catalogue: Catalogue) -> dict[str, FieldValue]:
    values: dict[str, FieldValue] = {}
    for name, value in (stored or {}).items():
        spec = catalogue.fan_field(name)
        if spec is not None and catalogue.is_custom(name):
            values[name] = _stored_custom_value(spec.type, value)
    return values


def _scoped(
    statement: Select[Any], fan_id_column: ColumnElement[int], fan_ids: Sequence[int] | None
) -> Iterator[Select[Any]]:
    """The statement for every fan (one statement), or for the given fans (one per chunk of ids)."""
    if fan_ids is None:
        yield statement
        return
    for chunk in chunks(sorted(set(fan_ids))):
        yield statement.where(fan_id_column.in_(chunk))


def _rows(
    connection: Connection,
    statement: Select[Any],
    fan_id_column: ColumnElement[int],
    fan_ids: Sequence[int] | None,
) -> Iterator[Row[Any]]:
    for scoped in _scoped(statement, fan_id_column, fan_ids):
        yield from connection.execute(scoped)


def load_snapshots(
    connection: Connection,
    workspace_id: int,
    *,
    catalogue: Catalogue,
    fan_ids: Sequence[int] | None = None,
) -> dict[int, FanSnapshot]:
    """Fan id → snapshot for every fan of the workspace, or for ``fan_ids`` (unknown ids are left out)."""
    tag_names: dict[int, set[str]] = defaultdict(set)
    for row in _rows(
        connection,
        select(fan_tags.c.fan_id, tags.c.name)
        .join(tags, and_(tags.c.workspace_id == fan_tags.c.workspace_id, tags.c.id == fan_tags.c.tag_id))
        .where(fan_tags.c.workspace_id == workspace_id),
        fan_tags.c.fan_id,
        fan_ids,
    ):
        tag_names[row.fan_id].add(row.name)

    list_statuses: dict[int, dict[str, str]] = defaultdict(dict)
    for row in _rows(
        connection,
        select(list_members.c.fan_id, lists.c.name, list_members.c.status)
        .join(lists, and_(lists.c.workspace_id == list_members.c.workspace_id, lists.c.id == list_members.c.list_id))
        .where(list_members.c.workspace_id == workspace_id),
        list_members.c.fan_id,
        fan_ids,
    ):
        list_statuses[row.fan_id][row.name] = row.status

    segment_names: dict[int, set[str]] = defaultdict(set)
    for row in _rows(
        connection,
        select(segment_members.c.fan_id, segments.c.name)
        .join(
            segments,
            and_(
                segments.c.workspace_id == segment_members.c.workspace_id,
                segments.c.id == segment_members.c.segment_id,
            ),
        )
        .where(segment_members.c.workspace_id == workspace_id),
        segment_members.c.fan_id,
        fan_ids,
    ):
        segment_names[row.fan_id].add(row.name)

    fan_orders: dict[int, list[OrderSnapshot]] = defaultdict(list)
    for row in _rows(
        connection,
        select(
            orders.c.fan_id,
            orders.c.amount_cents,
            orders.c.original_currency,
            orders.c.category,
            orders.c.product,
            orders.c.status,
            orders.c.placed_at,
        )
        .where(orders.c.workspace_id == workspace_id)
        .order_by(orders.c.fan_id, orders.c.placed_at, orders.c.id),
        orders.c.fan_id,
        fan_ids,
    ):
        fan_orders[row.fan_id].append(
            OrderSnapshot(
                amount=cents_to_money(row.amount_cents),
                currency=row.original_currency,
                category=row.category,
                product=row.product,
                status=row.status,
                placed_at=row.placed_at,
            )
        )

    fan_events: dict[int, list[EventSnapshot]] = defaultdict(list)
    for row in _rows(
        connection,
        select(events.c.fan_id, events.c.type, events.c.properties, events.c.occurred_at)
        .where(events.c.workspace_id == workspace_id)
        .order_by(events.c.fan_id, events.c.occurred_at, events.c.id),
        events.c.fan_id,
        fan_ids,
    ):
        fan_events[row.fan_id].append(
            EventSnapshot(type=row.type, occurred_at=row.occurred_at, properties=dict(row.properties or {}))
        )

    snapshots: dict[int, FanSnapshot] = {}
    for row in _rows(
        connection,
        select(fans).where(fans.c.workspace_id == workspace_id).order_by(fans.c.id),
        fans.c.id,
        fan_ids,
    ):
        snapshots[row.id] = FanSnapshot(
            **{name: row._mapping[name] for name in _AS_STORED},
            total_spent=cents_to_money(row.total_spent_cents),
            custom_fields=_custom_values(row.custom_fields, catalogue),
            tags=frozenset(tag_names.get(row.id, ())),
            lists=dict(list_statuses.get(row.id, {})),
            segments=frozenset(segment_names.get(row.id, ())),
            orders=tuple(fan_orders.get(row.id, ())),
            events=tuple(fan_events.get(row.id, ())),
        )
    return snapshots
