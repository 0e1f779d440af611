"""Signed inbound sales webhooks: Shopify, Stripe and a generic signed JSON, one endpoint per workspace and vendor.

``POST /inbound/{workspace_id}/sales/{vendor}``. In order:

1. **Verify before any work** (``signatures``): Shopify's ``X-Shopify-Hmac-Sha256`` with the app's secret, Stripe's
   ``Stripe-Signature`` with the endpoint's secret (5 minutes' tolerance), the generic ``Fanbase-Signature``
   (same scheme as Stripe's) with the secret fanbase made. A bad or stale signature is 401.
2. **Read the topic**: Shopify's ``X-Shopify-Topic`` (``orders/create``, ``orders/paid``, ``refunds/create``),
   Stripe's event ``type`` (``checkout.session.completed``, ``charge.refunded``), the generic body's ``topic``
   (``sales``). Any other topic is acknowledged (200) and ignored, so the vendor stops retrying it.
3. **Write** through ``sales.write_sales`` in one transaction, idempotent on the vendor's ids: a replay changes
   nothing. Shopify refunds, which Shopify reports one by one, are applied once per refund id (the delivery log
   remembers it in the same transaction). A record that cannot be written (say, a currency without a rate) refuses
   the whole delivery with 422 and nothing written: the vendor retries, and succeeds once the rate is added.
4. **Log** every delivery with its outcome (``sales_deliveries``; the dashboard's Import page lists them). Rejected
   deliveries are logged up to ``REJECTED_PER_HOUR`` an hour per workspace, so no unauthenticated client can grow
   the log without bound; the log keeps ``sales_sources.DELIVERY_RETENTION``.

Generic body: ``{"topic": "sales", "orders": [...], "events": [...]}``, each item with the columns of the generic
CSV formats as JSON (``email``, ``amount``, ``currency``, ``category``, ``placed_at``, ``external_id`` …; events
``email``, ``type``, ``occurred_at``, ``properties`` …); at most ``MAX_ITEMS`` items.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.engine import IntegrityError
from fanbase.db.repositories import activity as activity_repo
from fanbase.db.repositories import sales_sources as sources_repo
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.errors import Unauthorized
from fanbase.services import sales
from fanbase.services import sales_sources
from fanbase.services import signatures
from fanbase.services.sales import Person
from fanbase.services.sales import SaleEvent
from fanbase.services.sales import SaleOrder
from fanbase.services.sales_formats import GENERIC_EVENTS
from fanbase.services.sales_formats import GENERIC_ORDERS
from fanbase.services.sales_formats import ImportOptions
from fanbase.services.sales_formats import NotASale
from fanbase.services.sales_formats import Row
from fanbase.services.sales_formats import RowProblem
from fanbase.services.sales_formats import SaleRecord
from fanbase.services.sales_formats import cents
from fanbase.services.sales_formats import count
from fanbase.services.sales_formats import email_of
from fanbase.services.sales_formats import timestamp
from fanbase.services.vendor_formats import SHOPIFY_CATEGORY
from fanbase.services.vendor_formats import SHOPIFY_REFUNDED
from fanbase.services.vendor_formats import SHOPIFY_STATUSES
from fanbase.services.vendor_formats import STRIPE_CATEGORY

MAX_ITEMS = 1_000
REJECTED_PER_HOUR = 100
# Currencies whose Stripe amounts are whole units (no cents), and those in thousandths (docs.stripe.com/currencies).
STRIPE_ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
STRIPE_THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())  # noqa: SIM905


@dataclass
class Delivery:
    """What a delivery asked for, read from its verified body."""

    topic: str
    delivery_id: str | None
    orders: list[SaleOrder] = field(default_factory=list)
    events: list[SaleEvent] = field(default_factory=list)
    ignored: str | None = None  # why nothing is to be written (an unknown topic, an unpaid order)
    once_per: str | None = None  # a vendor id that must be applied once only (a Shopify refund)
    refund: ShopifyRefund | None = None


@dataclass(frozen=True)
class ShopifyRefund:
    """A Shopify refund: amounts by line item name, or (no lines named) an amount taken from the last lines first."""

    order_prefix: str
    by_product: Mapping[str, int]
    unassigned: int
    at: datetime | None


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict[str, Any]


# --- receiving -------------------------------------------------------------------------------------------------


def receive(
    database: Database, workspace_id: int, vendor: str, body: bytes, headers: Mapping[str, str], *, now: datetime
) -> Answer:
    """Verify, read, write and log one delivery; see the module notes. ``headers`` keys are lower-case."""
    if vendor not in sales_sources.VENDORS:
        raise NotFound(f"no such sales source '{vendor}'; they are {', '.join(sales_sources.VENDORS)}")
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        source = sources_repo.get_source(connection, workspace_id, vendor)
    if source is None:
        raise NotFound(f"no {vendor} endpoint is set up for this workspace")
    claimed_topic = headers.get("x-shopify-topic", "") if vendor == "shopify" else ""

    def log(topic: str, delivery_id: str | None, outcome: str, status_code: int, detail: str) -> None:
        """A delivery that wrote nothing, logged in a transaction of its own."""
        with database.transaction(workspace_id=workspace_id) as connection:
            if outcome == "rejected":  # anyone can send unsigned requests: their log is capped
                recent = sources_repo.count_since(
                    connection, workspace_id, outcome=outcome, since=now - timedelta(hours=1)
                )
                if recent >= REJECTED_PER_HOUR:
                    return
            sources_repo.log_delivery(
                connection,
                workspace_id,
                vendor=vendor,
                topic=topic,
                delivery_id=delivery_id,
                outcome=outcome,
                status_code=status_code,
                detail=detail,
                now=now,
            )

    try:
        _verify(vendor, source.secret, body, headers, now=now)
    except Unauthorized as error:
        log(claimed_topic or "unknown", None, "rejected", 401, error.message)
        raise
    try:
        delivery = _read(vendor, body, headers)
    except (InvalidInput, RowProblem) as error:
        detail = error.message if isinstance(error, InvalidInput) else str(error)
        log(claimed_topic or "unknown", None, "failed", 422, detail)
        raise InvalidInput(detail, field="body") from None
    if delivery.ignored is not None:
        log(delivery.topic, delivery.delivery_id, "ignored", 200, delivery.ignored)
        return Answer(200, {"outcome": "ignored", "detail": delivery.ignored})
    try:
        written = _write_once(database, workspace_id, vendor, delivery, now=now)
    except Conflict as clash:
        log(delivery.topic, delivery.delivery_id, "failed", 409, clash.message)
        raise
    except _Refused as refused:
        log(delivery.topic, delivery.delivery_id, "failed", 422, refused.detail)
        raise InvalidInput(f"nothing was written: {refused.detail}", field="body") from None
    changed = written.orders_created + written.orders_refunded + written.events_created
    return Answer(
        200,
        {
            "outcome": "processed" if changed else "unchanged",
            "orders_created": written.orders_created,
            "orders_refunded": written.orders_refunded,
            "events_created": written.events_created,
            "unchanged": written.unchanged,
        },
    )


def _write_once(
    database: Database, workspace_id: int, vendor: str, delivery: Delivery, *, now: datetime
) -> sales.SalesWritten:
    """The delivery written in one transaction. Vendors send related topics at once (Shopify's orders/create and
    orders/paid of one order): when a concurrent delivery wrote the same order first, the unique external id
    refuses this one whole, and written again it finds that order recorded."""
    for attempt in range(2):
        try:
            with database.transaction(workspace_id=workspace_id) as connection:
                return _write(connection, workspace_id, vendor, delivery, now=now)
        except IntegrityError:
            if attempt:
                raise Conflict(
                    "a concurrent delivery is writing the same records; nothing was written, retry"
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


class _Refused(Exception):
    """A delivery with a record that cannot be written: its transaction is rolled back whole."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _write(
    connection: Connection, workspace_id: int, vendor: str, delivery: Delivery, *, now: datetime
) -> sales.SalesWritten:
    """The delivery's records written and the delivery logged, in the caller's transaction; ``_Refused`` when a
    record cannot be written."""
    if delivery.refund is not None:
        delivery.orders = _refunded_lines(connection, workspace_id, delivery.refund, now=now)
    if delivery.once_per and sources_repo.was_processed(
        connection, workspace_id, vendor, delivery.topic, delivery.once_per
    ):
        written = sales.SalesWritten(unchanged=len(delivery.orders))
    else:
        written = sales.write_sales(connection, workspace_id, delivery.orders, delivery.events, now=now, cause="write")
    if written.errors:
        raise _Refused("; ".join(dict.fromkeys(error.reason for error in written.errors[:10])))
    changed = written.orders_created + written.orders_refunded + written.events_created
    sources_repo.log_delivery(
        connection,
        workspace_id,
        vendor=vendor,
        topic=delivery.topic,
        delivery_id=delivery.once_per or delivery.delivery_id,
        outcome="processed" if changed else "unchanged",
        status_code=200,
        detail=None,
        orders=written.orders_created + written.orders_refunded,
        events=written.events_created,
        now=now,
    )
    return written


def _verify(vendor: str, secret: str, body: bytes, headers: Mapping[str, str], *, now: datetime) -> None:
    if vendor == "shopify":
        signatures.check_shopify(secret, body, headers.get("x-shopify-hmac-sha256"))
    elif vendor == "stripe":
        signatures.check_timestamped(secret, body, headers.get("stripe-signature"), name="Stripe-Signature", now=now)
    else:
        signatures.check_timestamped(secret, body, headers.get("fanbase-signature"), name="Fanbase-Signature", now=now)


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidInput("must be a JSON object", field="body") from None
    if not isinstance(document, dict):
        raise InvalidInput("must be a JSON object", field="body")
    return document


def _read(vendor: str, body: bytes, headers: Mapping[str, str]) -> Delivery:
    document = _json(body)
    if vendor == "shopify":
        topic = headers.get("x-shopify-topic", "")
        delivery_id = headers.get("x-shopify-webhook-id") or headers.get("x-shopify-event-id")
    elif vendor == "stripe":
        topic, delivery_id = str(document.get("type", "")), str(document.get("id", "")) or None
    else:
        topic, delivery_id = str(document.get("topic", "")), str(document.get("id", "")) or None
    reader = _READERS.get((vendor, topic))
    if reader is None:
        return Delivery(topic or "unknown", delivery_id, ignored=f"topic '{topic}' is not read by fanbase")
    delivery = Delivery(topic, delivery_id)
    try:
        reader(document, delivery)
    except NotASale as why:
        delivery.ignored = f"not a purchase: {why}"
    return delivery


# --- readers: one per (vendor, topic) --------------------------------------------------------------------------


def _object(document: Mapping[str, Any], *path: str) -> dict[str, Any]:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _shopify_person(order: Mapping[str, Any]) -> Person:
    customer, billing = _object(order, "customer"), _object(order, "billing_address")
    email = _text(order.get("email")) or _text(order.get("contact_email")) or _text(customer.get("email"))
    row = Row(0, {"email": email})
    return Person(
        email=email_of(row),
        first_name=_text(customer.get("first_name") or billing.get("first_name"))[:200] or None,
        last_name=_text(customer.get("last_name") or billing.get("last_name"))[:200] or None,
        country=_text(billing.get("country_code")).upper()[:2] or None,
        city=_text(billing.get("city"))[:200] or None,
    )


def _shopify_order(document: dict[str, Any], delivery: Delivery) -> None:
    status = _text(document.get("financial_status")).lower()
    if status not in SHOPIFY_STATUSES and status != SHOPIFY_REFUNDED:
        raise NotASale(f"financial status {status or 'empty'}")
    order_id = _text(document.get("id")) or _text(document.get("name"))
    if not order_id:
        raise InvalidInput("the order has no id", field="id")
    placed_at = timestamp(_text(document.get("created_at")), "created_at")
    currency = _text(document.get("currency")).upper() or None
    who = _shopify_person(document)
    items = document.get("line_items")
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        raise InvalidInput(f"line_items must hold 1 to {MAX_ITEMS:,} items", field="line_items")
    for position, item in enumerate(items, start=1):
        line = item if isinstance(item, dict) else {}
        quantity = count(_text(line.get("quantity")) or "1", f"line_items[{position - 1}].quantity")
        amount = cents(_text(line.get("price")), "price") * quantity - cents(
            _text(line.get("total_discount")) or "0", "total_discount"
        )
        delivery.orders.append(
            SaleOrder(
                line=position,
                person=who,
                external_id=f"shopify:{order_id}:{position}",
                amount_cents=max(amount, 0),
                currency=currency,
                category=SHOPIFY_CATEGORY,
                product=(_text(line.get("name")) or _text(line.get("title")))[:200] or None,
                placed_at=placed_at,
                status="refunded" if status == SHOPIFY_REFUNDED else "completed",
            )
        )


def _shopify_refund(document: dict[str, Any], delivery: Delivery) -> None:
    refund_id, order_id = _text(document.get("id")), _text(document.get("order_id"))
    if not refund_id or not order_id:
        raise InvalidInput("a refund names its id and order_id", field="order_id")
    delivery.once_per = f"refund:{refund_id}"
    at = timestamp(_text(document.get("created_at")), "created_at") if document.get("created_at") else None
    by_product: dict[str, int] = {}
    for item in document.get("refund_line_items") or []:
        line = _object(item, "line_item") if isinstance(item, dict) else {}
        name = _text(line.get("name")) or _text(line.get("title"))
        by_product[name] = by_product.get(name, 0) + cents(_text(item.get("subtotal")) or "0", "subtotal")
    unassigned = 0
    if not by_product:
        unassigned = sum(
            cents(_text(t.get("amount")) or "0", "amount")
            for t in document.get("transactions") or []
            if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") == "success"
        )
    delivery.refund = ShopifyRefund(f"shopify:{order_id}:", by_product, unassigned, at)


def _refunded_lines(
    connection: Connection, workspace_id: int, refund: ShopifyRefund, *, now: datetime
) -> list[SaleOrder]:
    """The stored lines of the refunded order, each as its new state: the refund's amounts added to what each line
    had refunded, by line name, or from the last line backwards."""
    lines = activity_repo.orders_with_prefix(connection, workspace_id, refund.order_prefix)
    if not lines:
        # Shopify does not send a 2xx again: refused, its retries apply the refund once the order is in.
        order_id = refund.order_prefix.split(":")[1]
        raise _Refused(f"Shopify order {order_id} is not recorded yet: a retry applies this refund once it is")
    wanted = dict(refund.by_product)
    left = refund.unassigned
    records: list[SaleOrder] = []
    for external_id, product, email, stored in reversed(lines):
        open_cents = stored.original_amount_cents - stored.original_refunded_cents
        share = min(wanted.get(product or "", 0), open_cents)
        wanted[product or ""] = wanted.get(product or "", 0) - share
        extra = min(left, open_cents - share)
        left -= extra
        if not share + extra or stored.status == "refunded":
            continue
        refunded = stored.original_refunded_cents + share + extra
        records.append(
            SaleOrder(
                line=len(records) + 1,
                person=Person(email=email),
                external_id=external_id,
                amount_cents=stored.original_amount_cents,
                currency=None,
                category=SHOPIFY_CATEGORY,
                product=product,
                placed_at=refund.at or now,
                status="refunded" if refunded >= stored.original_amount_cents else "completed",
                refunded_cents=refunded,
                refunded_at=refund.at or now,
            )
        )
    return records


def _stripe_cents(amount: Any, currency: str, name: str) -> int:
    if not isinstance(amount, int) or amount < 0:
        raise InvalidInput("must be a whole number of the currency's smallest unit", field=name)
    if currency in STRIPE_ZERO_DECIMAL:
        return amount * 100
    if currency in STRIPE_THREE_DECIMAL:
        return amount // 10
    return amount


def _stripe_person(details: Mapping[str, Any], fallback_email: Any) -> Person:
    email = _text(details.get("email")) or _text(fallback_email)
    full = _text(details.get("name"))
    first, _, last = full.partition(" ")
    address = _object(details, "address")
    return Person(
        email=email_of(Row(0, {"email": email})),
        first_name=first[:200] or None,
        last_name=last.strip()[:200] or None,
        country=_text(address.get("country")).upper()[:2] or None,
        city=_text(address.get("city"))[:200] or None,
    )


def _stripe_session(document: dict[str, Any], delivery: Delivery) -> None:
    session = _object(document, "data", "object")
    if session.get("payment_status") != "paid":
        raise NotASale(f"payment status {session.get('payment_status') or 'empty'}")
    currency = _text(session.get("currency")).upper()
    payment = _text(session.get("payment_intent")) or _text(session.get("id"))
    metadata = _object(session, "metadata")
    delivery.orders.append(
        SaleOrder(
            line=1,
            person=_stripe_person(_object(session, "customer_details"), session.get("customer_email")),
            external_id=f"stripe:{payment}",
            amount_cents=_stripe_cents(session.get("amount_total"), currency, "amount_total"),
            currency=currency or None,
            category=STRIPE_CATEGORY,
            product=(_text(metadata.get("items")) or _text(session.get("client_reference_id")))[:200] or None,
            placed_at=_unix(session.get("created"), "created"),
        )
    )


def _stripe_refund(document: dict[str, Any], delivery: Delivery) -> None:
    charge = _object(document, "data", "object")
    currency = _text(charge.get("currency")).upper()
    amount = _stripe_cents(charge.get("amount"), currency, "amount")
    refunded = min(_stripe_cents(charge.get("amount_refunded"), currency, "amount_refunded"), amount)
    payment = _text(charge.get("payment_intent")) or _text(charge.get("id"))
    delivery.orders.append(
        SaleOrder(
            line=1,
            person=_stripe_person(_object(charge, "billing_details"), charge.get("receipt_email")),
            external_id=f"stripe:{payment}",
            amount_cents=amount,
            currency=currency or None,
            category=STRIPE_CATEGORY,
            product=_text(charge.get("description"))[:200] or None,
            placed_at=_unix(charge.get("created"), "created"),
            status="refunded" if charge.get("refunded") is True or (amount and refunded == amount) else "completed",
            refunded_cents=refunded,
            refunded_at=_unix(document.get("created"), "created"),
            aliases=(f"stripe:{_text(charge.get('id'))}",) if charge.get("payment_intent") and charge.get("id") else (),
        )
    )


def _unix(value: Any, name: str) -> datetime:
    if not isinstance(value, int) or not 0 < value < 32_503_680_000:
        raise InvalidInput("must be a Unix time in seconds", field=name)
    return datetime.fromtimestamp(value, UTC)


def _generic(document: dict[str, Any], delivery: Delivery) -> None:
    for key, target, chosen in (
        ("orders", delivery.orders, GENERIC_ORDERS),
        ("events", delivery.events, GENERIC_EVENTS),
    ):
        items = document.get(key) or []
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise InvalidInput(f"must be a list of at most {MAX_ITEMS:,} items", field=key)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise InvalidInput("must be an object", field=f"{key}[{index}]")
            cells = {
                name: json.dumps(value) if isinstance(value, dict) else _text(value) for name, value in item.items()
            }
            try:
                records: list[SaleRecord] = chosen.read([Row(index + 1, cells)], key, ImportOptions())  # type: ignore[arg-type]
            except RowProblem as problem:
                raise InvalidInput(str(problem), field=f"{key}[{index}]") from None
            target.extend(records)  # type: ignore[arg-type]


_READERS: dict[tuple[str, str], Callable[[dict[str, Any], Delivery], None]] = {
    ("shopify", "orders/create"): _shopify_order,
    ("shopify", "orders/paid"): _shopify_order,
    ("shopify", "refunds/create"): _shopify_refund,
    ("stripe", "checkout.session.completed"): _stripe_session,
    ("stripe", "charge.refunded"): _stripe_refund,
    ("generic", "sales"): _generic,
}
