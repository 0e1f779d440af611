"""The vendors' export formats, each one table (``Format``) and its vocabulary, written from their published column
documentation (the ``document`` of each; ``tests/data/imports/SOURCES.md`` has the details and samples).

External ids are namespaced by vendor and match what the vendor's webhooks give (``sales_webhooks``), so a
Shopify order imported from the export and delivered by ``orders/create`` is one order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from fanbase.schemas.sales import ImportKind
from fanbase.services.sales import SaleEvent
from fanbase.services.sales import SaleOrder
from fanbase.services.sales import SaleRefund
from fanbase.services.sales_formats import GENERIC_EVENTS
from fanbase.services.sales_formats import GENERIC_ORDERS
from fanbase.services.sales_formats import Format
from fanbase.services.sales_formats import ImportOptions
from fanbase.services.sales_formats import NotASale
from fanbase.services.sales_formats import PartRefused
from fanbase.services.sales_formats import Row
from fanbase.services.sales_formats import SaleRecord
from fanbase.services.sales_formats import cents
from fanbase.services.sales_formats import count
from fanbase.services.sales_formats import currency_of
from fanbase.services.sales_formats import person
from fanbase.services.sales_formats import timestamp

# --- Shopify: Orders → Export (one row per line item; order-level cells on the order's first row) ---------------

# Financial status → what fanbase records; the others (pending, authorized, voided, expired) moved no money yet.
SHOPIFY_STATUSES = {"paid": "completed", "partially_paid": "completed", "partially_refunded": "completed"}
SHOPIFY_REFUNDED = "refunded"
SHOPIFY_TIME = ("%Y-%m-%d %H:%M:%S %z",)
# The export has no product type: a shop's sales are recorded as merch (the generic format sets any category).
SHOPIFY_CATEGORY = "merch"


def _shopify(rows: Sequence[Row], kind: ImportKind, options: ImportOptions) -> list[SaleRecord]:
    first = rows[0]
    status_text = first.text("financial_status").lower()
    if status_text not in SHOPIFY_STATUSES and status_text != SHOPIFY_REFUNDED:
        raise NotASale(f"financial status {status_text or 'empty'}")
    who = person(first, name="billing_name")
    placed_at = timestamp(first.required("placed_at"), "Created at", formats=SHOPIFY_TIME)
    currency = currency_of(first)
    order_key = first.text("order_id") or first.required("name")
    lines = []
    for row in rows:
        quantity = count(row.text("quantity") or "1", "Lineitem quantity")
        discount = cents(row.text("discount") or "0", "Lineitem discount")
        lines.append((row, max(cents(row.required("price"), "Lineitem price") * quantity - discount, 0)))
    # Refunded Amount is the order's; a whole refund refunds every line, a part is taken from the last lines first.
    left = (
        sum(amount for _, amount in lines)
        if status_text == SHOPIFY_REFUNDED
        else cents(first.text("refunded_amount") or "0", "Refunded Amount")
    )
    refunded_at = None
    if first.text("cancelled_at"):
        refunded_at = timestamp(first.text("cancelled_at"), "Cancelled at", formats=SHOPIFY_TIME)
    shares = []
    for _, amount in reversed(lines):
        share = min(left, amount)
        shares.append(share)
        left -= share
    shares.reverse()
    return [
        SaleOrder(
            line=row.line,
            person=who,
            external_id=f"shopify:{order_key}:{position}",
            amount_cents=amount,
            currency=currency,
            category=SHOPIFY_CATEGORY,
            product=row.optional("product"),
            placed_at=placed_at,
            status="refunded" if amount and share == amount else "completed",
            refunded_cents=share,
            refunded_at=refunded_at,
        )
        for position, ((row, amount), share) in enumerate(zip(lines, shares, strict=True), start=1)
    ]


SHOPIFY = Format(
    name="shopify",
    title="Shopify orders export",
    document="https://help.shopify.com/en/manual/orders/export-orders",
    kinds=frozenset({"orders"}),
    signature=frozenset({"name", "financial_status", "lineitem_name", "lineitem_price", "created_at"}),
    columns={
        "name": "Name",
        "email": "Email",
        "financial_status": "Financial Status",
        "currency": "Currency",
        "placed_at": "Created at",
        "quantity": "Lineitem quantity",
        "product": "Lineitem name",
        "price": "Lineitem price",
        "discount": "Lineitem discount",
        "refunded_amount": "Refunded Amount",
        "cancelled_at": "Cancelled at",
        "order_id": "Id",
        "billing_name": "Billing Name",
        "city": "Billing City",
        "country": "Billing Country",
    },
    read=_shopify,
    group_by="name",
    carried=frozenset(
        {"email", "financial_status", "currency", "refunded_amount", "cancelled_at", "order_id", "billing_name"}
        | {"city", "country", "placed_at"}
    ),
)

# --- Bandcamp: Tools → sales report (times in UTC; refunds are rows of their own, with negative amounts) ---------

# Item type → order category; payouts and reversals move money between Bandcamp and the artist, not a fan.
BANDCAMP_CATEGORIES = {"album": "music", "track": "music", "bundle": "music", "package": "merch"}
BANDCAMP_REFUND = "refund"
BANDCAMP_TIME = ("%m/%d/%y %I:%M%p",)


def _bandcamp(rows: Sequence[Row], kind: ImportKind, options: ImportOptions) -> list[SaleRecord]:
    records: list[SaleRecord] = []
    for position, row in enumerate(rows, start=1):
        item_type = row.text("item_type").lower()
        at = timestamp(row.required("date"), "date", formats=BANDCAMP_TIME, zone=UTC)
        if item_type == BANDCAMP_REFUND:
            records.append(
                SaleRefund(
                    line=row.line,
                    person=person(row, name="buyer_name"),
                    external_prefix="bandcamp:",
                    product=row.required("item_name"),
                    amount_cents=-cents(row.required("sub_total"), "sub total", negative=True),
                    at=at,
                )
            )
            continue
        category = BANDCAMP_CATEGORIES.get(item_type)
        if category is None:
            raise NotASale(f"item type {item_type or 'empty'}")
        amount = cents(row.required("sub_total"), "sub total") + cents(
            row.text("fan_contribution") or "0", "additional fan contribution"
        )
        records.append(
            SaleOrder(
                line=row.line,
                person=person(row, name="buyer_name"),
                external_id=f"bandcamp:{row.required('transaction')}:{position}",
                amount_cents=amount,
                currency=currency_of(row),
                category=category,
                product=row.optional("item_name"),
                placed_at=at,
            )
        )
    return records


BANDCAMP = Format(
    name="bandcamp",
    title="Bandcamp sales report",
    document="https://get.bandcamp.help/hc/en-us/articles/23020652228759-Reading-your-sales-report",
    kinds=frozenset({"orders"}),
    signature=frozenset({"bandcamp_transaction_id", "item_type", "item_name", "buyer_email"}),
    columns={
        "date": "date",
        "item_type": "item type",
        "item_name": "item name",
        "currency": "currency",
        "sub_total": "sub total",
        "fan_contribution": "additional fan contribution",
        "transaction": "bandcamp transaction id",
        "email": "buyer email",
        "buyer_name": "buyer name",
        "country": "country code",
        "city": "city",
    },
    read=_bandcamp,
    group_by="transaction",
)

# --- Stripe: Payments → Export (default columns; amounts in major units, currency lower-case, times in UTC) -----

STRIPE_STATUSES = {"paid": "completed", "succeeded": "completed", "refunded": "refunded"}
STRIPE_CATEGORY = "other"  # the export says nothing of what was bought
STRIPE_TIME = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def _stripe(rows: Sequence[Row], kind: ImportKind, options: ImportOptions) -> list[SaleRecord]:
    (row,) = rows
    status = STRIPE_STATUSES.get(row.text("status").lower())
    if status is None or not row.text("id"):
        raise NotASale(f"status {row.text('status') or 'empty'}")
    amount = cents(row.required("amount"), "Amount")
    refunded = min(cents(row.text("refunded") or "0", "Amount Refunded"), amount)
    refunded_at = None
    if row.text("refunded_at") and refunded:
        refunded_at = timestamp(row.text("refunded_at"), "Refunded date (UTC)", formats=STRIPE_TIME, zone=UTC)
    # Keyed on the PaymentIntent when the export has it (what checkout.session.completed names), the charge too.
    charge = row.required("id")
    payment = row.text("payment_intent") or charge
    return [
        SaleOrder(
            line=row.line,
            person=person(row),
            external_id=f"stripe:{payment}",
            amount_cents=amount,
            currency=currency_of(row),
            category=STRIPE_CATEGORY,
            product=row.optional("description"),
            placed_at=timestamp(row.required("created"), "Created date (UTC)", formats=STRIPE_TIME, zone=UTC),
            status="refunded" if status == "refunded" or (amount and refunded == amount) else "completed",
            refunded_cents=refunded,
            refunded_at=refunded_at,
            aliases=(f"stripe:{charge}",) if payment != charge else (),
        )
    ]


STRIPE = Format(
    name="stripe",
    title="Stripe payments export",
    document="https://support.stripe.com/questions/exporting-payment-reports",
    kinds=frozenset({"orders"}),
    signature=frozenset({"id", "amount", "amount_refunded", "currency", "status", "customer_email"}),
    columns={
        "id": "id",
        "created": ("Created date (UTC)", "Created (UTC)"),
        "amount": "Amount",
        "refunded": "Amount Refunded",
        "refunded_at": "Refunded date (UTC)",
        "currency": "Currency",
        "status": "Status",
        "email": "Customer Email",
        "description": "Description",
        "payment_intent": "PaymentIntent ID",
    },
    read=_stripe,
)

# --- Eventbrite: Reporting → Attendee Summary (one row per attendee) ---------------------------------------------

EVENTBRITE_ATTENDING = {"attending": "completed", "checked in": "completed", "not attending": "refunded"}
EVENTBRITE_CHECKED_IN = "checked in"
EVENTBRITE_TIME = ("%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S %z")
TICKET_CATEGORY = "ticket"
GIG_ATTENDED = "gig_attended"


def _eventbrite(rows: Sequence[Row], kind: ImportKind, options: ImportOptions) -> list[SaleRecord]:
    (row,) = rows
    status_text = row.text("status").lower()
    status = EVENTBRITE_ATTENDING.get(status_text)
    if status is None:
        raise NotASale(f"attendee status {status_text or 'empty'}")
    who = person(row)
    attendee = row.required("attendee")
    event_name = row.optional("event_name") or options.event_name
    records: list[SaleRecord] = [
        SaleOrder(
            line=row.line,
            person=who,
            external_id=f"eventbrite:{attendee}",
            amount_cents=cents(row.text("total") or "0", "Total Paid"),
            currency=currency_of(row),
            category=TICKET_CATEGORY,
            product=": ".join(part for part in (event_name, row.optional("ticket_type")) if part)[:200] or None,
            placed_at=timestamp(row.required("order_date"), "Order Date", formats=EVENTBRITE_TIME),
            status="refunded" if status == "refunded" else "completed",
        )
    ]
    if status_text == EVENTBRITE_CHECKED_IN:
        # The Attendee Summary has no venue, city or check-in time: the columns of the classic report, or the
        # import's options (the event's venue, city and date), give them.
        checked_in = row.text("checked_in_at")
        if checked_in:
            attended_at = timestamp(checked_in, "Check-In Date", formats=EVENTBRITE_TIME)
        elif options.attended_at is not None:
            attended_at = options.attended_at
        else:
            reason = (
                "checked in, but the file has no check-in time, so no gig_attended event was recorded (the ticket "
                "was): give the event's date and time (--attended-at, or attended_at in the API), or add a "
                "'Check-In Date' column, and import the file again"
            )
            return [*records, PartRefused(row.line, who.email, reason)]
        properties = {
            "event_name": event_name,
            "event_id": row.optional("event_id"),
            "venue": row.optional("venue") or options.venue,
            "city": row.optional("venue_city") or options.city,
            "ticket_type": row.optional("ticket_type"),
        }
        records.append(
            SaleEvent(
                line=row.line,
                person=who,
                external_id=f"eventbrite:checkin:{attendee}",
                type=GIG_ATTENDED,
                occurred_at=attended_at,
                properties={name: value for name, value in properties.items() if value},
            )
        )
    return records


EVENTBRITE = Format(
    name="eventbrite",
    title="Eventbrite attendee summary",
    document="https://www.eventbrite.com/help/en-us/articles/291888/glossary-of-order-and-attendee-statuses-in-event-reports/",
    kinds=frozenset({"orders", "events"}),
    signature=frozenset({"order_#", "attendee_#", "attendee_status", "ticket_type", "total_paid"}),
    columns={
        "event_name": "Event Name",
        "event_id": "Event ID",
        "order": "Order #",
        "order_date": "Order Date",
        "first_name": "First Name",
        "last_name": "Last Name",
        "email": "Email",
        "ticket_type": "Ticket Type",
        "attendee": "Attendee #",
        "currency": "Currency",
        "total": "Total Paid",
        "status": "Attendee Status",
        "city": "Home City",
        "country": "Home Country",
        "venue": "Venue Name",
        "venue_city": "Venue City",
        "checked_in_at": "Check-In Date",
    },
    read=_eventbrite,
)

# Vendors first (their signatures are more specific), then fanbase's own columns.
FORMATS: tuple[Format, ...] = (SHOPIFY, BANDCAMP, STRIPE, EVENTBRITE, GENERIC_ORDERS, GENERIC_EVENTS)
