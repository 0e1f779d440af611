"""Webhook subscriptions and the outbox.

Enqueueing is set-based and happens in the transaction that writes the ledger rows it reports: one
``INSERT INTO webhook_outbox … SELECT`` per call, from the ledger rows written at that instant, joined with the
workspace's active subscriptions that want the event. ``NOT EXISTS`` on (subscription, source, ledger id) makes a
repeated call for the same instant enqueue nothing twice, so callers may call once per chunk of a bulk write.

Outbox rows name their ledger row by (source, id) and carry its instant (``created_at`` = the ledger row's ``at``):
SQLite may hand an erased ledger row's id to a new row, so the instant tells the two apart, at enqueue (a stale
outbox row is replaced) and at delivery (a mismatch is treated as erased). Two known imprecisions, both needing
two writes in the same microsecond: a ledger row written at the very instant of a later write, by an earlier
transaction before any subscription wanted it, is enqueued by that later write; and on SQLite an id reused by a
row of the very same instant as the erased one is mistaken for it (AUTOINCREMENT on the ledgers would end that).

Delivery is claimed across workspaces (the worker serves all of them): ``claim_due`` locks due rows with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises writers with BEGIN IMMEDIATE instead) and pushes their
``next_attempt_at`` forward as a lease, so two workers never send the same row at once.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import NamedTuple

from sqlalchemy import Connection
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.sql import ColumnElement

from fanbase.db.repositories.sql import chunks
from fanbase.db.repositories.sql import read_one
from fanbase.db.tables import fan_erasures
from fanbase.db.tables import fans
from fanbase.db.tables import list_subscription_log
from fanbase.db.tables import lists
from fanbase.db.tables import segment_membership_log
from fanbase.db.tables import segments
from fanbase.db.tables import tag_membership_log
from fanbase.db.tables import tags
from fanbase.db.tables import webhook_outbox
from fanbase.db.tables import webhook_subscriptions

# --- subscriptions ---------------------------------------------------------------------------------------

SUBSCRIPTION_COLUMNS = (
    webhook_subscriptions.c.id,
    webhook_subscriptions.c.url,
    webhook_subscriptions.c.events,
    webhook_subscriptions.c.created_at,
    webhook_subscriptions.c.disabled_at,
)


class SubscriptionRow(NamedTuple):
    id: int
    url: str
    events: list[str]
    created_at: datetime
    disabled_at: datetime | None


class ClaimedRow(NamedTuple):
    """A claimed outbox row with its subscription's url and secret."""

    id: int
    workspace_id: int
    subscription_id: int
    event_type: str
    source: str
    source_id: int
    attempts: int
    created_at: datetime
    url: str
    secret: str


class LedgerRow(NamedTuple):
    """A ledger row as a payload needs it; the fields after ``object_id`` belong to one source each."""

    id: int
    at: datetime
    fan_id: int
    email: str | None  # None for an erasure: the fan is gone
    object_name: str
    object_id: int
    entered: bool | None = None  # segment
    cause: str | None = None  # segment
    rule_version: int | None = None  # segment
    added: bool | None = None  # tag
    status: str | None = None  # list


class DeliveryRow(NamedTuple):
    id: int
    event_type: str
    source: str
    source_id: int
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None


def insert_subscription(
    connection: Connection, workspace_id: int, *, url: str, events: Sequence[str], secret: str, now: datetime
) -> int:
    return int(
        connection.execute(
            insert(webhook_subscriptions)
            .values(workspace_id=workspace_id, url=url, events=list(events), secret=secret, created_at=now)
            .returning(webhook_subscriptions.c.id)
        ).scalar_one()
    )


def _the_subscription(workspace_id: int, subscription_id: int) -> tuple[ColumnElement[bool], ...]:
    return webhook_subscriptions.c.workspace_id == workspace_id, webhook_subscriptions.c.id == subscription_id


def get_subscription(connection: Connection, workspace_id: int, subscription_id: int) -> SubscriptionRow | None:
    statement = select(*SUBSCRIPTION_COLUMNS).where(*_the_subscription(workspace_id, subscription_id))
    return read_one(connection, statement, SubscriptionRow)


def list_subscriptions(connection: Connection, workspace_id: int) -> list[SubscriptionRow]:
    rows = connection.execute(
        select(*SUBSCRIPTION_COLUMNS)
        .where(webhook_subscriptions.c.workspace_id == workspace_id)
        .order_by(webhook_subscriptions.c.id)
    )
    return [SubscriptionRow(**row._mapping) for row in rows]


def disable_subscription(connection: Connection, workspace_id: int, subscription_id: int, *, now: datetime) -> None:
    """Set disabled_at once (disabling again keeps the first time)."""
    connection.execute(
        update(webhook_subscriptions)
        .where(*_the_subscription(workspace_id, subscription_id), webhook_subscriptions.c.disabled_at.is_(None))
        .values(disabled_at=now)
    )


def _wanting(connection: Connection, workspace_id: int, event_types: Collection[str]) -> dict[str, list[int]]:
    """Active subscriptions of the workspace per wanted event type (only the given types; few rows).

    ``events`` is a JSON list: it is read here, in Python, rather than queried as JSON in SQL, which would need a
    different operator on each backend.
    """
    rows = connection.execute(
        select(webhook_subscriptions.c.id, webhook_subscriptions.c.events).where(
            webhook_subscriptions.c.workspace_id == workspace_id, webhook_subscriptions.c.disabled_at.is_(None)
        )
    )
    wanted: dict[str, list[int]] = {}
    for subscription_id, events in rows:
        for event_type in events or ():
            if event_type in event_types:
                wanted.setdefault(event_type, []).append(subscription_id)
    return wanted


# --- enqueueing ------------------------------------------------------------------------------------------


def _times(at: datetime | Iterable[datetime]) -> list[datetime]:
    return [at] if isinstance(at, datetime) else sorted(set(at))


def _enqueue(
    connection: Connection,
    workspace_id: int,
    *,
    source: str,
    ledger: Table,
    event_of_row: dict[str, ColumnElement[bool]],
    narrowing: Sequence[ColumnElement[bool]],
    at: datetime | Iterable[datetime],
) -> int:
    """One INSERT … SELECT per chunk of instants: ledger rows joined with the subscriptions wanting their event type.

    ``event_of_row`` maps each event type to the condition on a ledger row that makes it that event.
    """
    wanted = _wanting(connection, workspace_id, event_of_row)
    if not wanted:
        return 0
    subscription = webhook_subscriptions
    whens = [
        (and_(condition, subscription.c.id.in_(wanted[event_type])), event_type)
        for event_type, condition in event_of_row.items()
        if event_type in wanted
    ]
    event_type = case(*whens, else_=None)
    outbox = webhook_outbox
    already_queued = exists().where(
        outbox.c.workspace_id == workspace_id,
        outbox.c.subscription_id == subscription.c.id,
        outbox.c.source == source,
        outbox.c.source_id == ledger.c.id,
        outbox.c.created_at == ledger.c.at,
    )
    columns = ["workspace_id", "subscription_id", "event_type", "source", "source_id", "created_at", "next_attempt_at"]
    queued = 0
    for instants in chunks(_times(at), 1000):
        # SQLite gives a new row the highest id + 1, so after an erasure removed the newest ledger rows their ids
        # come back for new rows. Outbox rows still naming such an id (from another instant) are stale: drop them,
        # or they would block the new event. (PostgreSQL never reuses ids; there this finds nothing.)
        stale = (
            select(outbox.c.id)
            .join(ledger, and_(ledger.c.workspace_id == outbox.c.workspace_id, ledger.c.id == outbox.c.source_id))
            .where(
                ledger.c.workspace_id == workspace_id,
                *narrowing,
                ledger.c.at.in_(instants),
                outbox.c.source == source,
                outbox.c.created_at != ledger.c.at,
            )
        )
        connection.execute(delete(outbox).where(outbox.c.workspace_id == workspace_id, outbox.c.id.in_(stale)))
        rows = (
            select(
                literal(workspace_id),
                subscription.c.id,
                event_type,
                literal(source),
                ledger.c.id,
                ledger.c.at,
                ledger.c.at,
            )
            .select_from(ledger)
            .join(subscription, subscription.c.workspace_id == ledger.c.workspace_id)
            .where(
                ledger.c.workspace_id == workspace_id,
                *narrowing,
                ledger.c.at.in_(instants),
                or_(*(condition for condition, _ in whens)),
                ~already_queued,
            )
        )
        queued += connection.execute(
            insert(webhook_outbox).from_select(columns, rows), execution_options={"preserve_rowcount": True}
        ).rowcount
    return queued


@dataclass(frozen=True)
class _Ledger:
    """One source of events: its ledger, the named object each row is about, the event each row is, and what a
    payload reads of a row beyond the fan and the object's name."""

    log: Table
    named: Table | None  # None: the row is about the fan alone (an erasure)
    object_column: str  # the log's column naming the object (segment_id, tag_id, list_id; fan_id for erasures)
    event_of_row: Callable[[Table], dict[str, ColumnElement[bool]]]
    payload_columns: tuple[str, ...]


_LEDGERS: dict[str, _Ledger] = {
    "segment": _Ledger(
        log=segment_membership_log,
        named=segments,
        object_column="segment_id",
        event_of_row=lambda log: {
            "segment.entered": log.c.entered.is_(True),
            "segment.exited": log.c.entered.is_(False),
        },
        payload_columns=("entered", "cause", "rule_version"),
    ),
    "tag": _Ledger(
        log=tag_membership_log,
        named=tags,
        object_column="tag_id",
        event_of_row=lambda log: {"tag.added": log.c.added.is_(True), "tag.removed": log.c.added.is_(False)},
        payload_columns=("added",),
    ),
    # A bounce is no event (the fan did not choose it), nor is a removal.
    "list": _Ledger(
        log=list_subscription_log,
        named=lists,
        object_column="list_id",
        event_of_row=lambda log: {
            "list.subscribed": log.c.status == "subscribed",
            "list.unsubscribed": log.c.status == "unsubscribed",
        },
        payload_columns=("status",),
    ),
    # An erasure names the fan by id only; the fan row (and its email) is gone.
    "fan": _Ledger(
        log=fan_erasures,
        named=None,
        object_column="fan_id",
        event_of_row=lambda log: {"fan.erased": log.c.id.is_not(None)},
        payload_columns=(),
    ),
}


def enqueue_changes(
    connection: Connection,
    workspace_id: int,
    source: str,
    *,
    at: datetime | Iterable[datetime],
    object_ids: Collection[int] | None = None,
) -> int:
    """Outbox rows for the source's ledger rows at ``at`` (one instant, or several for bulk writers).
    ``object_ids``, when the caller knows them, lets the database use the ledger's (workspace, object, at) index."""
    if object_ids is not None and not object_ids:
        return 0
    ledger = _LEDGERS[source]
    column = ledger.log.c[ledger.object_column]
    return _enqueue(
        connection,
        workspace_id,
        source=source,
        ledger=ledger.log,
        event_of_row=ledger.event_of_row(ledger.log),
        narrowing=[column.in_(sorted(object_ids))] if object_ids is not None else [],
        at=at,
    )


# --- delivery --------------------------------------------------------------------------------------------


def claim_due(
    connection: Connection,
    *,
    now: datetime,
    limit: int,
    lease_until: datetime,
    workspace_id: int | None = None,
) -> list[ClaimedRow]:
    """Lock up to ``limit`` due rows of active subscriptions (oldest due first), push their next attempt to
    ``lease_until`` and return them with their subscription's url and secret.

    Across workspaces (the worker serves every workspace) unless ``workspace_id`` narrows it. On PostgreSQL rows
    locked by another worker are skipped (SKIP LOCKED); on SQLite the caller's BEGIN IMMEDIATE already makes this
    transaction the only writer.
    """
    outbox, subscription = webhook_outbox, webhook_subscriptions
    statement = (
        select(
            outbox.c.id,
            outbox.c.workspace_id,
            outbox.c.subscription_id,
            outbox.c.event_type,
            outbox.c.source,
            outbox.c.source_id,
            outbox.c.attempts,
            outbox.c.created_at,
            subscription.c.url,
            subscription.c.secret,
        )
        .join(
            subscription,
            and_(subscription.c.workspace_id == outbox.c.workspace_id, subscription.c.id == outbox.c.subscription_id),
        )
        .where(outbox.c.delivered_at.is_(None), outbox.c.next_attempt_at <= now, subscription.c.disabled_at.is_(None))
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
    )
    if workspace_id is not None:
        statement = statement.where(outbox.c.workspace_id == workspace_id)
    if connection.dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True, of=outbox)
    rows = [ClaimedRow(**row._mapping) for row in connection.execute(statement)]
    for chunk in chunks([row.id for row in rows]):
        connection.execute(update(outbox).where(outbox.c.id.in_(chunk)).values(next_attempt_at=lease_until))
    return rows


def _ledger_query(source: str) -> tuple[Table, Any]:
    """The ledger table of a source and a SELECT of what a payload needs from it (fan and named object joined)."""
    ledger = _LEDGERS[source]
    log, named = ledger.log, ledger.named
    object_id = log.c[ledger.object_column]
    if named is None:
        return log, select(
            log.c.id,
            log.c.at,
            log.c.fan_id,
            literal(None).label("email"),
            literal("").label("object_name"),
            object_id.label("object_id"),
        )
    statement = (
        select(
            log.c.id,
            log.c.at,
            log.c.fan_id,
            fans.c.email,
            named.c.name.label("object_name"),
            object_id.label("object_id"),
            *(log.c[name] for name in ledger.payload_columns),
        )
        .select_from(log)
        .join(fans, and_(fans.c.workspace_id == log.c.workspace_id, fans.c.id == log.c.fan_id))
        .join(named, and_(named.c.workspace_id == log.c.workspace_id, named.c.id == object_id))
    )
    return log, statement


def ledger_rows(
    connection: Connection, workspace_id: int, source: str, ledger_ids: Sequence[int]
) -> dict[int, LedgerRow]:
    """The ledger rows (with fan email and segment/tag/list name) that outbox rows point at; erased ones are absent."""
    log, statement = _ledger_query(source)
    found: dict[int, LedgerRow] = {}
    for chunk in chunks(sorted(set(ledger_ids))):
        rows = connection.execute(statement.where(log.c.workspace_id == workspace_id, log.c.id.in_(chunk)))
        found.update((row.id, LedgerRow(**row._mapping)) for row in rows)
    return found


def mark_delivered(
    connection: Connection, workspace_id: int, outbox_id: int, *, now: datetime, attempts: int, error: str | None
) -> None:
    connection.execute(
        update(webhook_outbox)
        .where(webhook_outbox.c.workspace_id == workspace_id, webhook_outbox.c.id == outbox_id)
        .values(delivered_at=now, attempts=attempts, last_error=error)
    )


def mark_failed(
    connection: Connection,
    workspace_id: int,
    outbox_id: int,
    *,
    attempts: int,
    error: str,
    next_attempt_at: datetime,
) -> None:
    connection.execute(
        update(webhook_outbox)
        .where(webhook_outbox.c.workspace_id == workspace_id, webhook_outbox.c.id == outbox_id)
        .values(attempts=attempts, last_error=error, next_attempt_at=next_attempt_at)
    )


DELIVERY_COLUMNS = (
    webhook_outbox.c.id,
    webhook_outbox.c.event_type,
    webhook_outbox.c.source,
    webhook_outbox.c.source_id,
    webhook_outbox.c.attempts,
    webhook_outbox.c.created_at,
    webhook_outbox.c.delivered_at,
    webhook_outbox.c.next_attempt_at,
    webhook_outbox.c.last_error,
)


def _of_subscription(workspace_id: int, subscription_id: int) -> tuple[ColumnElement[bool], ...]:
    return webhook_outbox.c.workspace_id == workspace_id, webhook_outbox.c.subscription_id == subscription_id


def list_deliveries(
    connection: Connection, workspace_id: int, subscription_id: int, *, offset: int, limit: int
) -> list[DeliveryRow]:
    """A subscription's outbox rows, newest first."""
    rows = connection.execute(
        select(*DELIVERY_COLUMNS)
        .where(*_of_subscription(workspace_id, subscription_id))
        .order_by(webhook_outbox.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [DeliveryRow(**row._mapping) for row in rows]


def count_deliveries(connection: Connection, workspace_id: int, subscription_id: int) -> int:
    return int(
        connection.execute(
            select(func.count()).select_from(webhook_outbox).where(*_of_subscription(workspace_id, subscription_id))
        ).scalar_one()
    )


def record_erasure(connection: Connection, workspace_id: int, fan_id: int, *, at: datetime) -> None:
    """The erasure as the fan.erased ledger row, and its outbox rows for the subscriptions that want it."""
    connection.execute(insert(fan_erasures).values(workspace_id=workspace_id, fan_id=fan_id, at=at))
    enqueue_changes(connection, workspace_id, "fan", at=at)
