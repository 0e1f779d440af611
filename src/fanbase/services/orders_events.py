"""Orders, refunds and activity events: one or a batch, idempotent, with derived figures kept in step.

An Idempotency-Key makes a retried request safe: the first reply is stored in the same transaction as the writes,
so a replay returns it and changes nothing, and the same key with a different body is refused.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Generic
from typing import Literal
from typing import Required
from typing import TypedDict
from typing import TypeVar
from typing import Unpack

from pydantic import BaseModel

from fanbase.core.fields import NOT_ACTIVITY_EVENTS
from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.engine import DatabaseError
from fanbase.db.engine import IntegrityError
from fanbase.db.engine import is_contention
from fanbase.db.engine import refresh_statistics_in
from fanbase.db.repositories import activity as activity_repo
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import idempotency as idempotency_repo
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.errors import Unavailable
from fanbase.schemas.fans import FanSource
from fanbase.schemas.orders_events import BatchResult
from fanbase.schemas.orders_events import Event
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import FanReference
from fanbase.schemas.orders_events import Order
from fanbase.schemas.orders_events import OrderIn
from fanbase.services import currencies
from fanbase.services import fans as fans_service
from fanbase.services import lifecycle
from fanbase.services import membership
from fanbase.services import rule_context

ItemT = TypeVar("ItemT", OrderIn, EventIn)
RecordT = TypeVar("RecordT", Order, Event)

# A batch that loses a race with concurrent writers (see ``_idempotent``) runs again up to this many times in all,
# pausing a random share of RETRY_PAUSE_SECONDS * 2**attempt between tries; then the caller gets 503 Retry-After.
ATTEMPTS = 5
# How long an Idempotency-Key's reply is kept (the API's setting FANBASE_IDEMPOTENCY_TTL_HOURS overrides it).
IDEMPOTENCY_TTL = timedelta(hours=24)
RETRY_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class Reply:
    """What a write answered: its status and JSON body; ``replayed`` when it came from an earlier identical call."""

    status_code: int
    body: Any
    replayed: bool = False


def _request_hash(kind: str, items: Sequence[BaseModel]) -> str:
    canonical = json.dumps([kind, [item.model_dump(mode="json") for item in items]], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _idempotent(
    database: Database,
    workspace_id: int,
    request_hash: str,
    work: Callable[[Connection], Any],
    *,
    idempotency_key: str | None,
    ttl: timedelta,
    now: datetime,
) -> Reply:
    """Run ``work`` in a transaction that also stores its reply under ``idempotency_key`` (when given) with the
    request's hash; a replay of that key and hash returns the stored reply instead."""
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise InvalidInput("must be 1 to 200 characters", field="Idempotency-Key")
    for attempt in range(ATTEMPTS):
        try:
            with database.transaction(workspace_id=workspace_id) as connection:
                if idempotency_key is not None:
                    # A key is remembered for ``ttl``: after that it is a new request (and the old reply is gone).
                    idempotency_repo.forget_reply(connection, workspace_id, idempotency_key, stored_before=now - ttl)
                    stored = idempotency_repo.find_reply(connection, workspace_id, idempotency_key)
                    if stored is not None:
                        if stored.request_hash != request_hash:
                            raise Conflict(
                                "this key was already used with a different request", field="Idempotency-Key"
                            )
                        return Reply(stored.status_code, stored.response, replayed=True)
                body = work(connection)
                if idempotency_key is not None:
                    reply = idempotency_repo.StoredReply(request_hash=request_hash, status_code=201, response=body)
                    idempotency_repo.store_reply(connection, workspace_id, idempotency_key, reply=reply, now=now)
                return Reply(201, body)
        except IntegrityError:
            # A concurrent request with the same idempotency key committed first: the retry replays its reply.
            # Anything else (a duplicate external id) would fail again the same way.
            if idempotency_key is None or attempt >= 1:
                raise
        except DatabaseError as error:
            # Contention (a deadlock, a serialization failure, SQLite's busy timeout): the transaction was rolled
            # back whole, so it can simply run again, after a short randomised pause.
            if not is_contention(error):
                raise
            if attempt == ATTEMPTS - 1:
                raise Unavailable("the database is busy with concurrent writes; nothing was written, retry") from error
            time.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _resolve_fans(
    connection: Connection, workspace_id: int, items: Sequence[FanReference], *, source: FanSource, now: datetime
) -> tuple[list[int], list[int]]:
    """Fan id for each item (by id, or by email creating unknown fans); checks ids belong to this workspace."""
    by_email, created = fans_service.ensure_fans_by_email(
        connection, workspace_id, (item.email for item in items if item.email is not None), source=source, now=now
    )
    new_fans = [by_email[email] for email in created]
    known = fans_repo.existing_fan_ids(connection, workspace_id, (i.fan_id for i in items if i.fan_id is not None))
    fan_ids: list[int] = []
    for index, item in enumerate(items):
        if item.fan_id is not None:
            if item.fan_id not in known:
                raise NotFound(f"fan {item.fan_id} not found", field=f"items[{index}].fan_id")
            fan_ids.append(item.fan_id)
        else:
            assert item.email is not None
            fan_ids.append(by_email[item.email])
    return fan_ids, new_fans


def _update_memberships(
    connection: Connection,
    workspace_id: int,
    fan_ids: Sequence[int],
    new_fans: Sequence[int],
    change: membership.Change,
    *,
    now: datetime,
) -> None:
    """Same transaction: fans created for unknown emails may match any rule; the others only rules reading the
    change."""
    context = rule_context.current_context(connection, workspace_id)
    membership.apply_change(
        connection, workspace_id, new_fans, membership.NEW_FANS, cause="write", now=now, context=context
    )
    old_fans = set(fan_ids) - set(new_fans)
    membership.apply_change(connection, workspace_id, old_fans, change, cause="write", now=now, context=context)


@dataclass(frozen=True)
class _Activity:
    """What differs between writing orders and writing events: the source of fans they create, the tables a row
    writes (an event also writes at most one row of fan_latest_events), how rows are inserted and folded into
    figures, and what rules they change."""

    source: FanSource
    tables: tuple[str, ...]
    insert: Callable[[Connection, int, Sequence[dict[str, Any]]], list[int]]
    fold_into_figures: Callable[[Connection, int, Sequence[dict[str, Any]]], membership.Change]
    change: membership.Change


def _write_batch(
    connection: Connection,
    workspace_id: int,
    items: Sequence[ItemT],
    *,
    kind: _Activity,
    to_rows: Callable[[Sequence[int], Sequence[ItemT]], list[dict[str, Any]]],
    now: datetime,
) -> tuple[list[int], int]:
    """The one write path of orders and events: resolve the fans, insert the rows, keep figures and membership in
    step. Returns the new ids and how many fans were created for unknown emails."""
    fan_ids, new_fans = _resolve_fans(connection, workspace_id, items, source=kind.source, now=now)
    fans_repo.lock_fans(connection, workspace_id, fan_ids)
    rows = to_rows(fan_ids, items)
    ids = kind.insert(connection, workspace_id, rows)
    change = kind.change | kind.fold_into_figures(connection, workspace_id, rows)
    # Evaluation is planned on what this batch wrote (a bulk load into a new database: empty statistics).
    written = {"fans": len(new_fans)} | {table: len(rows) for table in kind.tables}
    refresh_statistics_in(connection, written, workspace_id=workspace_id)
    _update_memberships(connection, workspace_id, fan_ids, new_fans, change, now=now)
    # The next write and the next preview read the members this one wrote (a new workspace: none, say statistics).
    refresh_statistics_in(connection, {"segment_members": len(rows)}, workspace_id=workspace_id)
    return ids, len(new_fans)


def _refuse_known(
    external: Sequence[str], known: Callable[[Connection, int, Sequence[str]], set[str]], what: str
) -> Callable[[Connection, int], None]:
    def refuse(connection: Connection, workspace_id: int) -> None:
        if len(set(external)) != len(external):
            raise Conflict("the same external_id appears twice in this batch", field="external_id")
        clashes = known(connection, workspace_id, external)
        if clashes:
            raise Conflict(f"{what} already recorded: {', '.join(sorted(clashes)[:20])}", field="external_id")

    return refuse


@dataclass(frozen=True, kw_only=True)
class Charge:
    """An order as the shop charged it: in cents of its currency (None: the workspace's), with the part refunded so
    far (of a completed order) or all of it (``status`` refunded)."""

    amount_cents: int
    currency: str | None
    category: str
    product: str | None
    placed_at: datetime
    external_id: str | None
    status: Literal["completed", "refunded"] = "completed"
    refunded_cents: int = 0
    refunded_at: datetime | None = None


def order_row(charge: Charge, *, convert: currencies.Converter, field: str, now: datetime) -> dict[str, Any]:
    """An order as stored (without its fan): what the shop charged, and its workspace-currency amount at the day's
    rate, less a partial refund; a refunded order keeps what it cost. Raises ``MissingRate`` (naming ``field``) when
    no rate converts it. Every order write, REST or sales, builds rows here."""
    original = charge.currency or convert.workspace_currency
    rate = convert.rate(original, charge.placed_at, field=field)
    is_refunded = charge.status == "refunded"
    refunded_cents = charge.amount_cents if is_refunded else charge.refunded_cents
    return {
        "amount_cents": currencies.to_cents(charge.amount_cents - (0 if is_refunded else refunded_cents), rate),
        "currency": convert.workspace_currency,
        "original_amount_cents": charge.amount_cents,
        "original_currency": original,
        "exchange_rate": currencies.rate_text(rate),
        "original_refunded_cents": refunded_cents,
        "category": charge.category,
        "product": charge.product,
        "status": charge.status,
        "placed_at": charge.placed_at,
        "refunded_at": (charge.refunded_at or now) if is_refunded else None,
        "external_id": charge.external_id,
        "created_at": now,
    }


def _write_orders(
    connection: Connection, workspace_id: int, items: Sequence[OrderIn], *, now: datetime
) -> tuple[list[int], int]:
    external = [item.external_id for item in items if item.external_id is not None]
    _refuse_known(external, activity_repo.existing_external_ids, "orders")(connection, workspace_id)
    convert = currencies.converter(connection, workspace_id, {item.currency for item in items if item.currency})

    def to_rows(fan_ids: Sequence[int], items: Sequence[OrderIn]) -> list[dict[str, Any]]:
        return [
            {
                "fan_id": fan_id,
                **order_row(
                    Charge(
                        amount_cents=fans_repo.money_to_cents(item.amount),
                        currency=item.currency,
                        category=item.category,
                        product=item.product,
                        status=item.status,
                        placed_at=item.placed_at or now,
                        external_id=item.external_id,
                    ),
                    convert=convert,
                    field=f"items[{index}].currency",
                    now=now,
                ),
            }
            for index, (fan_id, item) in enumerate(zip(fan_ids, items, strict=True))
        ]

    return _write_batch(connection, workspace_id, items, kind=_ORDER_WRITES, to_rows=to_rows, now=now)


def fold_orders_into_figures(
    connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]
) -> membership.Change:
    """New orders into their fans' figures; a first completed purchase may move the fan's stage (``lifecycle``).
    Returns what that changed beyond ``membership.ORDERS``."""
    purchases: dict[int, dict[str, Any]] = {}
    activity: dict[int, datetime] = {}
    for row in rows:
        fan_id, placed = row["fan_id"], row["placed_at"]
        if row["status"] == "completed":
            figures = purchases.setdefault(
                fan_id, {"fan_id": fan_id, "cents": 0, "count": 0, "first": placed, "last": placed}
            )
            figures["cents"] += row["amount_cents"]
            figures["count"] += 1
            figures["first"] = min(figures["first"], placed)
            figures["last"] = max(figures["last"], placed)
        else:  # recorded already refunded: no purchase, but placing it was still activity
            activity[fan_id] = max(activity.get(fan_id, placed), placed)
    paid: dict[int, datetime] = {}  # each fan's first paid purchase in these rows
    for row in rows:
        if row["status"] == "completed" and row["amount_cents"] > 0:
            paid[row["fan_id"]] = min(paid.get(row["fan_id"], row["placed_at"]), row["placed_at"])
    promoted = lifecycle.first_buyers(connection, workspace_id, paid)
    fans_repo.add_purchases(connection, workspace_id, list(purchases.values()))
    fans_repo.add_activity(connection, workspace_id, activity)
    written_at = rows[0]["created_at"] if rows else None  # the write's ``now``
    return lifecycle.promote(connection, workspace_id, promoted, at=paid, now=written_at)


def _write_events(
    connection: Connection, workspace_id: int, items: Sequence[EventIn], *, now: datetime
) -> tuple[list[int], int]:
    external = [item.external_id for item in items if item.external_id is not None]
    _refuse_known(external, activity_repo.existing_event_ids, "events")(connection, workspace_id)

    def to_rows(fan_ids: Sequence[int], items: Sequence[EventIn]) -> list[dict[str, Any]]:
        return [
            {
                "fan_id": fan_id,
                "type": item.type,
                "properties": dict(item.properties),
                "occurred_at": item.occurred_at or now,
                "external_id": item.external_id,
                "created_at": now,
            }
            for fan_id, item in zip(fan_ids, items, strict=True)
        ]

    return _write_batch(connection, workspace_id, items, kind=_EVENT_WRITES, to_rows=to_rows, now=now)


def write_events(connection: Connection, workspace_id: int, items: Sequence[EventIn], *, now: datetime) -> list[int]:
    """Record events inside the caller's transaction (figures and segments kept in step); returns their ids."""
    ids, _ = _write_events(connection, workspace_id, items, now=now)
    return ids


def fold_events_into_figures(
    connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]
) -> membership.Change:
    """New events into their fans' last activity; nothing more changes."""
    latest: dict[int, datetime] = {}
    for row in rows:
        if row["type"] in NOT_ACTIVITY_EVENTS:
            continue
        latest[row["fan_id"]] = max(latest.get(row["fan_id"], row["occurred_at"]), row["occurred_at"])
    fans_repo.add_activity(connection, workspace_id, latest)
    return membership.Change()


_ORDER_WRITES = _Activity(
    source="direct_purchase",
    tables=("orders",),
    insert=activity_repo.insert_orders,
    fold_into_figures=fold_orders_into_figures,
    change=membership.ORDERS,
)
_EVENT_WRITES = _Activity(
    source="event",
    tables=("events", "fan_latest_events"),
    insert=activity_repo.insert_events,
    fold_into_figures=fold_events_into_figures,
    change=membership.EVENTS,
)


class Idempotency(TypedDict, total=False):
    """How a write is made safe to retry: its Idempotency-Key (none: every call writes) kept for ``idempotency_ttl``,
    and the time it is written at (required)."""

    idempotency_key: str | None
    idempotency_ttl: timedelta
    now: Required[datetime]


@dataclass(frozen=True)
class _Recorded(Generic[ItemT, RecordT]):
    """Orders or events as the record_* calls see them: the idempotency kind, how to write, how to read one back."""

    noun: str
    write: Callable[..., tuple[list[int], int]]
    read: Callable[[Connection, int, Sequence[int]], list[RecordT]]

    def record(
        self,
        database: Database,
        workspace_id: int,
        items: Sequence[ItemT],
        *,
        is_batch: bool,
        **options: Unpack[Idempotency],
    ) -> Reply:
        """One item replies with its record; a batch with its ids and how many fans it created."""
        now = options["now"]

        def work(connection: Connection) -> Any:
            ids, created = self.write(connection, workspace_id, items, now=now)
            if is_batch:
                return BatchResult(ids=ids, created_fans=created).model_dump(mode="json")
            return self.read(connection, workspace_id, ids)[0].model_dump(mode="json")

        request_hash = _request_hash(f"{self.noun}s" if is_batch else self.noun, items)
        key, ttl = options.get("idempotency_key"), options.get("idempotency_ttl", IDEMPOTENCY_TTL)
        return _idempotent(database, workspace_id, request_hash, work, idempotency_key=key, ttl=ttl, now=now)

    def record_one(self, database: Database, workspace_id: int, item: ItemT, **options: Unpack[Idempotency]) -> Reply:
        return self.record(database, workspace_id, [item], is_batch=False, **options)

    def record_many(
        self, database: Database, workspace_id: int, items: Sequence[ItemT], **options: Unpack[Idempotency]
    ) -> Reply:
        return self.record(database, workspace_id, items, is_batch=True, **options)

    def get(self, database: Database, workspace_id: int, record_id: int) -> RecordT:
        with database.transaction(workspace_id=workspace_id, write=False) as connection:
            found = self.read(connection, workspace_id, [record_id])
        if not found:
            raise NotFound(f"{self.noun} {record_id} not found")
        return found[0]


_ORDERS: _Recorded[OrderIn, Order] = _Recorded(noun="order", write=_write_orders, read=activity_repo.orders_by_ids)
_EVENTS: _Recorded[EventIn, Event] = _Recorded(noun="event", write=_write_events, read=activity_repo.events_by_ids)


record_order = _ORDERS.record_one
record_orders = _ORDERS.record_many
record_event = _EVENTS.record_one
record_events = _EVENTS.record_many
get_order = _ORDERS.get
get_event = _EVENTS.get


def refund_order(database: Database, workspace_id: int, order_id: int, *, now: datetime) -> Order:
    """Mark a completed order refunded and reverse it in the fan's figures (same transaction)."""
    with database.transaction(workspace_id=workspace_id) as connection:
        row = activity_repo.get_order_row(connection, workspace_id, order_id, for_update=True)
        if row is None:
            raise NotFound(f"order {order_id} not found")
        if row.status == "refunded":
            raise Conflict(f"order {order_id} is already refunded", field="status")
        activity_repo.mark_refunded(connection, workspace_id, order_id, now=now)
        # first/last purchase may move to another order: recompute this fan's figures from its orders.
        fans_repo.recompute_figures(connection, workspace_id, [row.fan_id])
        membership.apply_change(connection, workspace_id, [row.fan_id], membership.ORDERS, cause="write", now=now)
        return activity_repo.orders_by_ids(connection, workspace_id, [order_id])[0]


def forget_expired_replies(database: Database, *, now: datetime, ttl: timedelta = IDEMPOTENCY_TTL) -> int:
    """Forget every Idempotency-Key reply older than ``ttl`` (the scheduler does, hourly); how many."""
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:  # a chore over every workspace
        return idempotency_repo.forget_replies_before(connection, stored_before=now - ttl)
