"""What a workspace's data holds, for pickers: its event types (with how many fans did each), order categories and
products (with how many orders), and the properties its recent events carry (with their common values)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import desc
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from fanbase.db.tables import events
from fanbase.db.tables import fan_latest_events
from fanbase.db.tables import orders

# How many of each a picker offers (the most common first); anything else can still be typed.
SHOWN = 100
# Event properties are read from this many of the workspace's latest events (they have no index of their own).
PROPERTY_SAMPLE = 2000
VALUES_PER_PROPERTY = 20


def event_types(connection: Connection, workspace_id: int) -> list[tuple[str, int]]:
    """Each event type and how many fans have at least one (from each fan's latest events: one row per fan and
    type)."""
    fans = func.count().label("fans")
    rows = connection.execute(
        select(fan_latest_events.c.type, fans)
        .where(fan_latest_events.c.workspace_id == workspace_id)
        .group_by(fan_latest_events.c.type)
        .order_by(desc(fans), fan_latest_events.c.type)
        .limit(SHOWN)
    )
    return [(str(row.type), int(row.fans)) for row in rows]


def order_values(connection: Connection, workspace_id: int, column: str) -> list[tuple[str, int]]:
    """An order column's values (category, product) and how many orders have each."""
    value = orders.c[column]
    count = func.count().label("count")
    rows = connection.execute(
        select(value, count)
        .where(orders.c.workspace_id == workspace_id, value.is_not(None))
        .group_by(value)
        .order_by(desc(count), value)
        .limit(SHOWN)
    )
    return [(str(value), int(count)) for value, count in rows]


def event_properties(connection: Connection, workspace_id: int) -> dict[str, list[tuple[str, int]]]:
    """The property keys of the workspace's latest events, each with its most common values and their counts."""
    rows = connection.execute(
        select(events.c.properties)
        .where(events.c.workspace_id == workspace_id)
        .order_by(events.c.id.desc())
        .limit(PROPERTY_SAMPLE)
    )
    values: dict[str, Counter[str]] = {}
    for (properties,) in rows:
        if not isinstance(properties, dict):
            continue
        for key, value in properties.items():
            if _is_scalar(value):
                values.setdefault(str(key), Counter())[str(value)] += 1
    return {
        key: counter.most_common(VALUES_PER_PROPERTY)
        for key, counter in sorted(values.items(), key=lambda item: -sum(item[1].values()))
    }


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 200


# At most this many distinct names are read for a hint (a workspace rarely has more than a few dozen).
DISTINCT_LIMIT = 500


def distinct_names(connection: Connection, workspace_id: int, field: str) -> list[str]:
    """The distinct event types ("type") or order categories ("category") of a workspace, in order.

    A skip scan of the ``(workspace_id, type|category, …)`` index: each step seeks the next name after the last, so
    the cost grows with the number of names, not of rows (a plain DISTINCT would read every event)."""
    table = events if field == "type" else orders
    column = table.c[field]

    def next_after(previous: ColumnElement[str] | None) -> ScalarSelect[str]:
        query = select(column).where(table.c.workspace_id == workspace_id, column.is_not(None))
        if previous is not None:
            query = query.where(column > previous)
        return query.order_by(column).limit(1).scalar_subquery()

    names = select(next_after(None).label("name")).cte("names", recursive=True)
    step = names.alias("step")
    names = names.union_all(select(next_after(step.c.name)).where(step.c.name.is_not(None)))
    rows = connection.execute(select(names.c.name).where(names.c.name.is_not(None)).limit(DISTINCT_LIMIT))
    return [str(name) for (name,) in rows]
