"""Sales from outside (CSV imports, vendor webhooks), written idempotently: one write path for both.

Formats and webhooks read their input into ``SaleOrder`` and ``SaleEvent`` records; ``write_sales`` writes a batch
of them in the caller's transaction, with figures, lifecycle and live membership kept in step exactly as the REST
batches keep them.

- **Idempotent on the source's ids.** Every record has an ``external_id`` (the vendor's, namespaced, or one derived
  from the row itself): a record already written changes nothing; an order already written that the source now
  reports refunded (wholly, or a larger part) is refunded. So importing a file twice, or replaying a webhook,
  changes nothing, and importing a later export of the same shop brings the refunds in.
- **Per-record errors.** A record that cannot be written (a suppressed email, a currency without a rate, an
  unknown category spelling) is reported with its line and reason; the others are written.
- **Partial refunds** lower the order's workspace-currency amount (what totals and rules sum); a whole refund
  marks the order refunded, as ``POST /orders/{id}/refund`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from typing import TypeVar

from fanbase.db.engine import Connection
from fanbase.db.engine import refresh_statistics_in
from fanbase.db.repositories import activity as activity_repo
from fanbase.db.repositories import bulk as bulk_repo
from fanbase.db.repositories import fans as fans_repo
from fanbase.schemas.fan_csv import ImportRowError
from fanbase.schemas.fans import FanSource
from fanbase.services import currencies
from fanbase.services import fans as fans_service
from fanbase.services import membership
from fanbase.services import orders_events
from fanbase.services import suppressions
from fanbase.services.currencies import MissingRate

NAME_FIELDS = ("first_name", "last_name", "country", "city")


@dataclass(frozen=True, kw_only=True)
class Person:
    """Who a record is about, as the source names them (email normalised; the rest used for fans it creates)."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    country: str | None = None
    city: str | None = None


@dataclass(frozen=True, kw_only=True)
class SaleOrder(orders_events.Charge):
    line: int  # where the source has it (a file's line; a webhook's line item)
    person: Person
    external_id: str
    # Other ids the source has given the same order (a Stripe charge's id beside its PaymentIntent's): an order
    # stored under any of them is this one.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SaleEvent:
    line: int
    person: Person
    external_id: str
    type: str
    occurred_at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SaleRefund:
    """A refund the source writes as a row of its own, naming no order (Bandcamp): it refunds the fan's latest
    order of that product from that source placed before it, up to its amount."""

    line: int
    person: Person
    external_prefix: str  # the source's namespace of external ids, e.g. "bandcamp:"
    product: str
    amount_cents: int
    at: datetime


RecordT = TypeVar("RecordT", SaleOrder, SaleEvent)


@dataclass
class SalesWritten:
    orders_created: int = 0
    orders_refunded: int = 0
    events_created: int = 0
    unchanged: int = 0
    fans_created: int = 0
    errors: list[ImportRowError] = field(default_factory=list)

    def add(self, other: SalesWritten) -> None:
        self.orders_created += other.orders_created
        self.orders_refunded += other.orders_refunded
        self.events_created += other.events_created
        self.unchanged += other.unchanged
        self.fans_created += other.fans_created
        self.errors.extend(other.errors)


def _error(record: SaleOrder | SaleEvent | SaleRefund, reason: str) -> ImportRowError:
    return ImportRowError(line=record.line, email=record.person.email, reason=reason)


def _latest_by_id(records: Sequence[RecordT], written: SalesWritten) -> list[RecordT]:
    """One record per external id: the last one names the latest state (a refund after the sale)."""
    latest: dict[str, RecordT] = {}
    for record in records:
        if record.external_id in latest:
            written.unchanged += 1
        latest[record.external_id] = record
    return list(latest.values())


def write_sales(
    connection: Connection,
    workspace_id: int,
    orders: Sequence[SaleOrder],
    events: Sequence[SaleEvent],
    *,
    now: datetime,
    cause: str = "import",
    refunds: Sequence[SaleRefund] = (),
) -> SalesWritten:
    """Write what is new or newly refunded among these records, in the caller's transaction; see the module notes."""
    written = SalesWritten()
    records: list[SaleOrder | SaleEvent | SaleRefund] = [*orders, *events, *refunds]
    suppressed = suppressions.suppressed_among(connection, workspace_id, {record.person.email for record in records})
    if suppressed:
        for record in records:
            reason = suppressed.get(record.person.email)
            if reason is not None:
                written.errors.append(_error(record, suppressions.refusal(record.person.email, reason)))
        orders = [order for order in orders if order.person.email not in suppressed]
        events = [event for event in events if event.person.email not in suppressed]
        refunds = [refund for refund in refunds if refund.person.email not in suppressed]
    orders = _latest_by_id(orders, written)
    events = _latest_by_id(events, written)

    stored = activity_repo.orders_by_external_ids(
        connection, workspace_id, [name for order in orders for name in (order.external_id, *order.aliases)]
    )
    convert = currencies.converter(connection, workspace_id, {order.currency for order in orders if order.currency})
    new_orders: list[tuple[SaleOrder, dict[str, Any]]] = []
    refund_rows: list[dict[str, Any]] = []
    refunded_fans: set[int] = set()
    for order in orders:
        known = next((stored[name] for name in (order.external_id, *order.aliases) if name in stored), None)
        if known is None:
            try:
                row = orders_events.order_row(order, convert=convert, field="currency", now=now)
            except MissingRate as error:
                written.errors.append(_error(order, error.message))
                continue
            new_orders.append((order, row))
        elif (update := _refund(known, order.status, order.refunded_cents, order.refunded_at or now)) is not None:
            refund_rows.append(update)
            refunded_fans.add(known.fan_id)
        else:
            written.unchanged += 1
    known_events = activity_repo.existing_event_ids(connection, workspace_id, [event.external_id for event in events])
    written.unchanged += sum(1 for event in events if event.external_id in known_events)
    new_events = [event for event in events if event.external_id not in known_events]

    fan_ids, created = _fans(connection, workspace_id, [order for order, _ in new_orders], new_events, now=now)
    # Before the rows that reference them: PostgreSQL checks each order's fan by a plan made for the fans the
    # statistics know (in a new workspace, none: a scan of the fans for every order).
    refresh_statistics_in(connection, {"fans": len(created)}, workspace_id=workspace_id)
    fans_repo.lock_fans(connection, workspace_id, [*fan_ids.values(), *refunded_fans])
    order_rows = [{**row, "fan_id": fan_ids[order.person.email]} for order, row in new_orders]
    event_rows = [_event_row(event, fan_ids[event.person.email], now=now) for event in new_events]
    change = membership.Change()
    if order_rows:
        bulk_repo.insert_orders(connection, workspace_id, order_rows)
        change = (
            change | membership.ORDERS | orders_events.fold_orders_into_figures(connection, workspace_id, order_rows)
        )
    if event_rows:
        bulk_repo.insert_events(connection, workspace_id, event_rows)
        change = (
            change | membership.EVENTS | orders_events.fold_events_into_figures(connection, workspace_id, event_rows)
        )
    # Refunds naming no order, after this batch's orders are in: a cart bought and refunded in one file.
    for refund in refunds:
        found = activity_repo.latest_order_of_product(
            connection, workspace_id, refund.person.email, refund.external_prefix, refund.product, before=refund.at
        )
        if found is None:
            written.errors.append(_error(refund, f"refund of '{refund.product}': no earlier order of it found"))
        elif (update := _refund(found, "completed", refund.amount_cents, refund.at)) is not None:
            refund_rows.append(update)
            refunded_fans.add(found.fan_id)
        else:
            written.unchanged += 1
    if refund_rows:
        fans_repo.lock_fans(connection, workspace_id, refunded_fans)  # those of matched refunds too, in id order
        activity_repo.apply_refunds(connection, workspace_id, refund_rows)
        fans_repo.recompute_figures(connection, workspace_id, sorted(refunded_fans))
        change = change | membership.ORDERS
    written.orders_created = len(order_rows)
    written.events_created = len(event_rows)
    written.orders_refunded = len(refund_rows)
    written.fans_created = len(created)

    refresh_statistics_in(
        connection,
        {
            "fans": len(created),
            "orders": len(order_rows),
            "events": len(event_rows),
            "fan_latest_events": len(event_rows),
        },
        workspace_id=workspace_id,
    )
    touched = {row["fan_id"] for row in [*order_rows, *event_rows]} | refunded_fans
    new_fans = set(created.values())
    membership.apply_change(connection, workspace_id, new_fans, membership.NEW_FANS, cause=cause, now=now)
    membership.apply_change(connection, workspace_id, touched - new_fans, change, cause=cause, now=now)
    refresh_statistics_in(connection, {"segment_members": len(touched)}, workspace_id=workspace_id)
    return written


def _refund(known: activity_repo.StoredOrder, status: str, refunded_cents: int, at: datetime) -> dict[str, Any] | None:
    """How a stored order changes when its source reports it refunded (wholly, or ``refunded_cents`` of it so far);
    None when that is no more than is recorded."""
    if known.status == "refunded":
        return None
    if status == "refunded" or 0 < known.original_amount_cents <= refunded_cents:
        return {
            "order_id": known.id,
            "status": "refunded",
            "refunded_at": at,
            "original_refunded_cents": known.original_amount_cents,
            # The amount stays what was bought (as a refund through the API leaves it); refunded orders are not summed.
            "amount_cents": currencies.to_cents(known.original_amount_cents, known.rate),
        }
    if refunded_cents > known.original_refunded_cents:
        return {
            "order_id": known.id,
            "status": "completed",
            "refunded_at": None,
            "original_refunded_cents": refunded_cents,
            "amount_cents": currencies.to_cents(known.original_amount_cents - refunded_cents, known.rate),
        }
    return None


def _event_row(event: SaleEvent, fan_id: int, *, now: datetime) -> dict[str, Any]:
    return {
        "fan_id": fan_id,
        "type": event.type,
        "properties": dict(event.properties),
        "occurred_at": event.occurred_at,
        "external_id": event.external_id,
        "created_at": now,
    }


def _fans(
    connection: Connection,
    workspace_id: int,
    orders: Sequence[SaleOrder],
    events: Sequence[SaleEvent],
    *,
    now: datetime,
) -> tuple[dict[str, int], dict[str, int]]:
    """Fan ids by email, creating unknown fans (with the names the source gave); (all, those created)."""
    people: dict[str, tuple[Person, FanSource]] = {}
    for event in events:
        people[event.person.email] = (event.person, "event")
    for order in orders:
        people[order.person.email] = (order.person, "direct_purchase")
    fan_ids: dict[str, int] = {}
    created: dict[str, int] = {}
    for source in ("direct_purchase", "event"):
        emails = [email for email, (_, of) in people.items() if of == source]
        if not emails:
            continue
        profiles = {
            email: {name: getattr(people[email][0], name) for name in NAME_FIELDS if getattr(people[email][0], name)}
            for email in emails
        }
        found, made = fans_service.ensure_fans_by_email(
            connection, workspace_id, emails, source=source, now=now, profiles=profiles
        )
        fan_ids.update(found)
        created.update((email, found[email]) for email in made)
    return fan_ids, created
