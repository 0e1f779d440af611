"""Fans: rows, lookups, the filtered list, and the derived figures (total spent, purchases, activity)."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from typing import NamedTuple

from sqlalchemy import BigInteger
from sqlalchemy import Connection
from sqlalchemy import Integer
from sqlalchemy import Row
from sqlalchemy import String
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import union_all
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql import Select

from fanbase.core.fields import NOT_ACTIVITY_EVENTS
from fanbase.db.repositories.sql import any_contains
from fanbase.db.repositories.sql import chunks
from fanbase.db.repositories.sql import id_conditions
from fanbase.db.repositories.sql import insert_returning_ids
from fanbase.db.repositories.sql import one_of
from fanbase.db.tables import events
from fanbase.db.tables import fan_tags
from fanbase.db.tables import fans
from fanbase.db.tables import list_members
from fanbase.db.tables import lists
from fanbase.db.tables import orders
from fanbase.db.tables import tags
from fanbase.db.types import UTCDateTime
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.lists import SubscriptionStatus

FAN_COLUMNS = tuple(column for column in fans.c if column.name != "workspace_id")


def cents_to_money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def money_to_cents(amount: Decimal) -> int:
    return int(amount * 100)


def fan_from_row(
    row: Row[Any] | Mapping[str, Any],
    *,
    tag_names: Sequence[str] = (),
    list_statuses: Mapping[str, SubscriptionStatus] | None = None,
) -> Fan:
    data = dict(row._mapping) if isinstance(row, Row) else dict(row)
    data["total_spent"] = cents_to_money(data.pop("total_spent_cents"))
    return Fan.model_validate({**data, "tags": tuple(tag_names), "lists": dict(list_statuses or {})})


def insert_fans(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert many fans in one statement family; returns their ids in the order given."""
    return insert_returning_ids(connection, fans, workspace_id, rows)


def insert_absent_fans(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Insert the fans whose emails no fan has yet; returns email → id of those this call inserted. An email that a
    concurrent transaction inserts first is skipped (``ON CONFLICT DO NOTHING`` waits for that transaction, so the
    fan is there to read once it commits) rather than failing this one on the unique email."""
    insert_into = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    inserted: dict[str, int] = {}
    for chunk in chunks(rows, 2000):
        statement = insert_into(fans).on_conflict_do_nothing().returning(fans.c.email, fans.c.id)
        result = connection.execute(statement, [{**row, "workspace_id": workspace_id} for row in chunk])
        inserted.update((email, int(fan_id)) for email, fan_id in result)
    return inserted


def get_fan_row(connection: Connection, workspace_id: int, fan_id: int) -> Row[Any] | None:
    return connection.execute(
        select(*FAN_COLUMNS).where(fans.c.workspace_id == workspace_id, fans.c.id == fan_id)
    ).one_or_none()


def fan_ids_by_email(connection: Connection, workspace_id: int, emails: Iterable[str]) -> dict[str, int]:
    """Map lower-cased emails to fan ids (emails are stored lower-cased)."""
    found: dict[str, int] = {}
    for listed in email_conditions(connection, sorted(set(emails))):
        rows = connection.execute(select(fans.c.email, fans.c.id).where(fans.c.workspace_id == workspace_id, listed))
        found.update(dict(rows.all()))
    return found


def email_conditions(connection: Connection, emails: Sequence[str]) -> Iterator[ColumnElement[bool]]:
    """The fan's email is one of ``emails`` (lower-cased, as stored), on the column itself, which
    ``ix_fans_workspace_email`` serves (migration 0018). Not on ``lower(email)``, the unique index's expression:
    ``lower()`` is not leakproof, so under row-level security PostgreSQL may not use that index, and every batch of
    orders or events by email, and every CSV import, read every fan of the workspace."""
    return one_of(connection, fans.c.email, emails, String())


def existing_fan_ids(connection: Connection, workspace_id: int, fan_ids: Iterable[int]) -> set[int]:
    found: set[int] = set()
    for listed in id_conditions(connection, fans.c.id, sorted(set(fan_ids))):
        found.update(connection.execute(select(fans.c.id).where(fans.c.workspace_id == workspace_id, listed)).scalars())
    return found


def lock_fans(connection: Connection, workspace_id: int, fan_ids: Iterable[int]) -> None:
    """Lock the fans' rows for this transaction, in id order. Writers that touch overlapping fans then queue on the
    first fan they share instead of each holding some the other wants (a deadlock, when two batches named the same
    fans in different orders). SQLite has one writer at a time (BEGIN IMMEDIATE): nothing to do there."""
    if connection.dialect.name != "postgresql":
        return
    for listed in id_conditions(connection, fans.c.id, sorted(set(fan_ids))):
        connection.execute(
            select(fans.c.id)
            .where(fans.c.workspace_id == workspace_id, listed)
            .order_by(fans.c.id)
            .with_for_update(key_share=True)
        )


def update_fan(connection: Connection, workspace_id: int, fan_id: int, values: Mapping[str, Any]) -> None:
    connection.execute(update(fans).where(fans.c.workspace_id == workspace_id, fans.c.id == fan_id).values(**values))


def update_fans_by_id(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
    """Executemany update; each row has ``fan_id`` plus the same set of columns to set."""
    if not rows:
        return
    columns = [key for key in rows[0] if key != "fan_id"]
    statement = (
        update(fans)
        .where(fans.c.workspace_id == workspace_id, fans.c.id == bindparam("fan_id"))
        .values({column: bindparam(f"new_{column}") for column in columns})
    )
    connection.execute(
        statement,
        [{"fan_id": row["fan_id"], **{f"new_{column}": row[column] for column in columns}} for row in rows],
    )


def delete_fan(connection: Connection, workspace_id: int, fan_id: int) -> bool:
    result = connection.execute(delete(fans).where(fans.c.workspace_id == workspace_id, fans.c.id == fan_id))
    return result.rowcount > 0


def tag_names_for(connection: Connection, workspace_id: int, fan_ids: Sequence[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    for chunk in chunks(fan_ids):
        rows = connection.execute(
            select(fan_tags.c.fan_id, tags.c.name)
            .join(tags, and_(tags.c.workspace_id == fan_tags.c.workspace_id, tags.c.id == fan_tags.c.tag_id))
            .where(fan_tags.c.workspace_id == workspace_id, fan_tags.c.fan_id.in_(chunk))
            .order_by(tags.c.name)
        )
        for fan_id, name in rows:
            names.setdefault(fan_id, []).append(name)
    return names


def list_statuses_for(
    connection: Connection, workspace_id: int, fan_ids: Sequence[int]
) -> dict[int, dict[str, SubscriptionStatus]]:
    statuses: dict[int, dict[str, SubscriptionStatus]] = {}
    for chunk in chunks(fan_ids):
        rows = connection.execute(
            select(list_members.c.fan_id, lists.c.name, list_members.c.status)
            .join(
                lists,
                and_(lists.c.workspace_id == list_members.c.workspace_id, lists.c.id == list_members.c.list_id),
            )
            .where(list_members.c.workspace_id == workspace_id, list_members.c.fan_id.in_(chunk))
            .order_by(lists.c.name)
        )
        for fan_id, name, status in rows:
            statuses.setdefault(fan_id, {})[name] = status
    return statuses


def hydrate_fans(connection: Connection, workspace_id: int, rows: Sequence[Row[Any]]) -> list[Fan]:
    """Rows → Fans with their tag names and list statuses, in two queries for the whole page."""
    fan_ids = [row.id for row in rows]
    tag_names = tag_names_for(connection, workspace_id, fan_ids)
    statuses = list_statuses_for(connection, workspace_id, fan_ids)
    return [fan_from_row(row, tag_names=tag_names.get(row.id, ()), list_statuses=statuses.get(row.id)) for row in rows]


def filter_conditions(workspace_id: int, fan_filter: FanFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [fans.c.workspace_id == workspace_id]
    if fan_filter.lifecycle_stage:
        conditions.append(fans.c.lifecycle_stage == fan_filter.lifecycle_stage)
    if fan_filter.source:
        conditions.append(fans.c.source == fan_filter.source)
    if fan_filter.q:
        conditions.append(any_contains([fans.c.email, fans.c.first_name, fans.c.last_name], fan_filter.q))
    return conditions


def has_tag(workspace_id: int, tag_id: int) -> ColumnElement[bool]:
    return exists().where(
        fan_tags.c.workspace_id == workspace_id, fan_tags.c.tag_id == tag_id, fan_tags.c.fan_id == fans.c.id
    )


def in_list(workspace_id: int, list_id: int, status: SubscriptionStatus) -> ColumnElement[bool]:
    return exists().where(
        list_members.c.workspace_id == workspace_id,
        list_members.c.list_id == list_id,
        list_members.c.fan_id == fans.c.id,
        list_members.c.status == status,
    )


def select_fans(conditions: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return select(*FAN_COLUMNS).where(*conditions)


def page_fans(
    connection: Connection,
    workspace_id: int,
    conditions: Sequence[ColumnElement[bool]],
    *,
    page: int,
    page_size: int,
) -> tuple[list[Fan], int]:
    total = connection.execute(select(func.count()).select_from(fans).where(*conditions)).scalar_one()
    rows = connection.execute(
        select_fans(conditions).order_by(fans.c.id).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return hydrate_fans(connection, workspace_id, rows), total


def iterate_fans(
    connection: Connection, workspace_id: int, conditions: Sequence[ColumnElement[bool]], *, batch: int = 2000
) -> Iterable[list[Fan]]:
    """Keyset pagination over every matching fan, a batch at a time (for exports)."""
    last_id = 0
    while True:
        rows = connection.execute(
            select_fans([*conditions, fans.c.id > last_id]).order_by(fans.c.id).limit(batch)
        ).all()
        if not rows:
            return
        yield hydrate_fans(connection, workspace_id, rows)
        last_id = rows[-1].id


# --- derived figures -------------------------------------------------------------------------------------


def _later(column: ColumnElement[datetime], value: ColumnElement[datetime]) -> ColumnElement[datetime]:
    return case((or_(column.is_(None), column < value), value), else_=column)


def _earlier(column: ColumnElement[datetime], value: ColumnElement[datetime]) -> ColumnElement[datetime]:
    return case((or_(column.is_(None), column > value), value), else_=column)


# PostgreSQL runs an executemany as one statement per row: above this many fans, one UPDATE joins them from arrays.
SET_BASED_UPDATE = 100


def add_purchases(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
    """Fold completed orders into their fans' figures. Each row: fan_id, cents, count, first, last (per fan)."""
    if not rows:
        return
    if connection.dialect.name == "postgresql" and len(rows) > SET_BASED_UPDATE:
        given = select(
            func.unnest(bindparam("fan_ids", [r["fan_id"] for r in rows], type_=ARRAY(BigInteger))).label("fan_id"),
            func.unnest(bindparam("cents", [r["cents"] for r in rows], type_=ARRAY(BigInteger))).label("cents"),
            func.unnest(bindparam("counts", [r["count"] for r in rows], type_=ARRAY(Integer))).label("count"),
            func.unnest(bindparam("firsts", [r["first"] for r in rows], type_=ARRAY(UTCDateTime()))).label("first"),
            func.unnest(bindparam("lasts", [r["last"] for r in rows], type_=ARRAY(UTCDateTime()))).label("last"),
        ).subquery("given")
        connection.execute(
            update(fans)
            .where(fans.c.workspace_id == workspace_id, fans.c.id == given.c.fan_id)
            .values(
                total_spent_cents=fans.c.total_spent_cents + given.c.cents,
                purchase_count=fans.c.purchase_count + given.c.count,
                first_purchase_at=_earlier(fans.c.first_purchase_at, given.c.first),
                last_purchase_at=_later(fans.c.last_purchase_at, given.c.last),
                last_active_at=_later(fans.c.last_active_at, given.c.last),
            )
        )
        return
    first = bindparam("first_at", type_=UTCDateTime())
    last = bindparam("last_at", type_=UTCDateTime())
    statement = (
        update(fans)
        .where(fans.c.workspace_id == workspace_id, fans.c.id == bindparam("fan_id"))
        .values(
            total_spent_cents=fans.c.total_spent_cents + bindparam("cents"),
            purchase_count=fans.c.purchase_count + bindparam("count"),
            first_purchase_at=_earlier(fans.c.first_purchase_at, first),
            last_purchase_at=_later(fans.c.last_purchase_at, last),
            last_active_at=_later(fans.c.last_active_at, last),
        )
    )
    connection.execute(
        statement,
        [
            {
                "fan_id": r["fan_id"],
                "cents": r["cents"],
                "count": r["count"],
                "first_at": r["first"],
                "last_at": r["last"],
            }
            for r in rows
        ],
    )


def add_activity(connection: Connection, workspace_id: int, latest: Mapping[int, datetime]) -> None:
    """Move each fan's last_active_at forward to the given time (never backward)."""
    if not latest:
        return
    # Only the fans whose last activity moves: an event older than a fan's last activity (a backfill, a late
    # webhook) writes no new row version, so neither the table nor the fans' indexes are touched for it.
    at = bindparam("at", type_=UTCDateTime())
    statement = (
        update(fans)
        .where(
            fans.c.workspace_id == workspace_id,
            fans.c.id == bindparam("fan_id"),
            or_(fans.c.last_active_at.is_(None), fans.c.last_active_at < at),
        )
        .values(last_active_at=at)
    )
    connection.execute(statement, [{"fan_id": fan_id, "at": latest[fan_id]} for fan_id in sorted(latest)])


def _completed(workspace_id: int) -> ColumnElement[bool]:
    return and_(orders.c.workspace_id == workspace_id, orders.c.fan_id == fans.c.id, orders.c.status == "completed")


def recompute_figures(connection: Connection, workspace_id: int, fan_ids: Sequence[int] | None = None) -> int:
    """Rebuild the derived figures from orders and events, set-based: for the given fans, or all of them.

    last_active_at is the latest of any event and any order placed (a refunded order was still activity); events
    that record what was done to the fan (``NOT_ACTIVITY_EVENTS``: a message sent, a bounce) are not activity.
    """
    completed = _completed(workspace_id)
    # GROUP BY fan_id changes nothing in the result (one fan, or no row: NULL) but stops SQLite's min/max
    # optimisation from walking ix_events_workspace_occurred backwards across the whole workspace for every fan
    # (quadratic: a minute for 3,000 fans and 35,000 events); it then seeks ix_events_workspace_fan_type_occurred.
    latest_event = (
        select(func.max(events.c.occurred_at))
        .where(
            events.c.workspace_id == workspace_id,
            events.c.fan_id == fans.c.id,
            events.c.type.not_in(NOT_ACTIVITY_EVENTS),
        )
        .group_by(events.c.fan_id)
        .scalar_subquery()
    )
    latest_order = (
        select(func.max(orders.c.placed_at))
        .where(orders.c.workspace_id == workspace_id, orders.c.fan_id == fans.c.id)
        .scalar_subquery()
    )
    latest = case(
        (latest_event.is_(None), latest_order),
        (latest_order.is_(None), latest_event),
        (latest_event > latest_order, latest_event),
        else_=latest_order,
    )
    values = {
        "total_spent_cents": select(func.coalesce(func.sum(orders.c.amount_cents), 0))
        .where(completed)
        .scalar_subquery(),
        "purchase_count": select(func.count()).select_from(orders).where(completed).scalar_subquery(),
        "first_purchase_at": select(func.min(orders.c.placed_at)).where(completed).scalar_subquery(),
        "last_purchase_at": select(func.max(orders.c.placed_at)).where(completed).scalar_subquery(),
        "last_active_at": latest,
    }
    if fan_ids is None:
        return _recompute_workspace(connection, workspace_id)
    changed = 0
    for chunk in chunks(sorted(set(fan_ids))):
        result = connection.execute(
            update(fans).where(fans.c.workspace_id == workspace_id, fans.c.id.in_(chunk)).values(**values)
        )
        changed += result.rowcount
    return changed


def _recompute_workspace(connection: Connection, workspace_id: int) -> int:
    """The whole workspace in one pass per table: reset every fan, then UPDATE … FROM per-fan aggregates.

    Correlated subqueries per fan (the path above) are right for a few fans, but for a whole workspace their cost
    rests on the planner's statistics, which PostgreSQL does not have for rows bulk-inserted in the same
    transaction (the demo): it then scans per fan. Grouped aggregates read each table once whatever it knows.
    """
    reset = connection.execute(
        update(fans)
        .where(fans.c.workspace_id == workspace_id)
        .values(
            total_spent_cents=0, purchase_count=0, first_purchase_at=None, last_purchase_at=None, last_active_at=None
        )
    ).rowcount
    purchases = (
        select(
            orders.c.fan_id,
            func.sum(orders.c.amount_cents).label("cents"),
            func.count().label("count"),
            func.min(orders.c.placed_at).label("first"),
            func.max(orders.c.placed_at).label("last"),
        )
        .where(orders.c.workspace_id == workspace_id, orders.c.status == "completed")
        .group_by(orders.c.fan_id)
        .subquery()
    )
    connection.execute(
        update(fans)
        .where(fans.c.workspace_id == workspace_id, fans.c.id == purchases.c.fan_id)
        .values(
            total_spent_cents=purchases.c.cents,
            purchase_count=purchases.c.count,
            first_purchase_at=purchases.c.first,
            last_purchase_at=purchases.c.last,
        )
    )
    moments = union_all(
        select(events.c.fan_id, events.c.occurred_at.label("at")).where(
            events.c.workspace_id == workspace_id, events.c.type.not_in(NOT_ACTIVITY_EVENTS)
        ),
        select(orders.c.fan_id, orders.c.placed_at.label("at")).where(orders.c.workspace_id == workspace_id),
    ).subquery()
    activity = select(moments.c.fan_id, func.max(moments.c.at).label("at")).group_by(moments.c.fan_id).subquery()
    connection.execute(
        update(fans)
        .where(fans.c.workspace_id == workspace_id, fans.c.id == activity.c.fan_id)
        .values(last_active_at=activity.c.at)
    )
    return int(reset)


DERIVED_COLUMNS = (
    "total_spent_cents",
    "purchase_count",
    "first_purchase_at",
    "last_purchase_at",
    "last_active_at",
)


class DerivedFigures(NamedTuple):
    """A fan's figures derived from orders and events (in the order of ``DERIVED_COLUMNS``)."""

    total_spent_cents: int
    purchase_count: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    last_active_at: datetime | None


def derived_figures(connection: Connection, workspace_id: int) -> dict[int, DerivedFigures]:
    rows = connection.execute(
        select(fans.c.id, *(fans.c[name] for name in DERIVED_COLUMNS)).where(fans.c.workspace_id == workspace_id)
    )
    return {row[0]: DerivedFigures(*row[1:]) for row in rows}
