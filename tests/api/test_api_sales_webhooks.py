"""The signed sales endpoints, ``POST /inbound/{workspace_id}/sales/{shopify|stripe|generic}``, over real HTTP and
real databases: each vendor's delivery writes exactly what it says, once; a bad, stale or missing signature writes
nothing; every delivery is logged with its outcome.

The bodies are the samples in ``tests/data/webhooks`` (``tests/data/imports/SOURCES.md`` §5 says where each field
comes from). Signatures follow the vendors' documents:

- Shopify, https://shopify.dev/docs/apps/build/webhooks/verify-deliveries: ``X-Shopify-Hmac-Sha256`` is the base64
  HMAC-SHA256 of the raw body with the app's client secret; topic and delivery id in ``X-Shopify-Topic`` and
  ``X-Shopify-Webhook-Id`` (https://shopify.dev/docs/apps/build/webhooks/delivery-structure). No time is signed.
- Stripe, https://docs.stripe.com/webhooks#verify-manually: ``Stripe-Signature: t=<unix>,v1=<hex>``, the hex
  HMAC-SHA256 of ``"{t}.{body}"`` with the endpoint's signing secret; Stripe's libraries allow 300 s of skew.
- fanbase's generic sender: ``Fanbase-Signature`` in Stripe's scheme, with the secret fanbase made.

The app's clock is fixed at ``now``; signatures are made at ``now`` unless a test says otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from datetime import timedelta
from decimal import ROUND_HALF_EVEN
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from fanbase.db.engine import Database
from fanbase.schemas.common import MAX_ID
from fanbase.services.signatures import sign_shopify
from fanbase.services.signatures import sign_timestamped
from fanbase.settings import Settings
from tests_support import api_client
from tests_support import workspace_rows

API = "/api/v1"
WEBHOOKS = Path(__file__).resolve().parents[1] / "data" / "webhooks"
IMPORTS = Path(__file__).resolve().parents[1] / "data" / "imports"
# Made-up secrets, as a shop owner would paste them.
SHOPIFY_SECRET = "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"
STRIPE_SECRET = "whsec_Zk3p9QwXr7LmN2vB5tYc8HdJ"
EUR_AT_1_10 = {"currency": "EUR", "valid_from": "2026-01-01", "rate": "1.1"}
# Shopify order #1043 (SOURCES.md: "Amounts that must agree across files"), and its refund.
SHOPIFY_ORDER = "11874803310671"
SHOPIFY_REFUND = "1019874563151"
LP, POSTER = "Night Tram - Vinyl LP", "Night Tram - Signed Poster"
JONAS, NOOR = "jonas.weber@example.com", "noor.haddad@example.org"
STRIPE_PAYMENT = "pi_3SxjR8HkT8mLr5Xa0w9Eg1Jt"
# Above every sample file (the API conftest's 4,096 bytes would refuse the Shopify export).
MAX_CSV_BYTES = 64 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, max_csv_bytes=MAX_CSV_BYTES)


# --- helpers -------------------------------------------------------------------------------------------------------


def _sample(name: str) -> bytes:
    return (WEBHOOKS / name).read_bytes()


def _edited(name: str, **changes: Any) -> bytes:
    document = json.loads(_sample(name))
    document.update(changes)
    return json.dumps(document).encode()


def _hand_shopify(secret: str, body: bytes) -> str:
    """Shopify's signature computed here from its documentation, not with fanbase's signer."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _hand_timestamped(secret: str, body: bytes, stamp: int) -> str:
    """Stripe's (and fanbase's generic) signature computed here from Stripe's documentation."""
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def _setup(client: TestClient, headers: dict[str, str], *, rate: bool = True) -> str:
    """Shopify and Stripe endpoints with known secrets and a generic one (its secret returned); with ``rate``, the
    EUR rate the samples need (the test workspace's currency is USD)."""
    for vendor, secret in (("shopify", SHOPIFY_SECRET), ("stripe", STRIPE_SECRET)):
        response = client.put(f"{API}/sales-sources/{vendor}", json={"secret": secret}, headers=headers)
        assert response.status_code == 200, response.text
    generic = client.put(f"{API}/sales-sources/generic", json={}, headers=headers)
    assert generic.status_code == 200, generic.text
    if rate:
        written = client.put(f"{API}/exchange-rates", json={"rates": [EUR_AT_1_10]}, headers=headers)
        assert written.json() == {"created": 1, "updated": 0, "unchanged": 0}, written.text
    secret: str = generic.json()["secret"]
    return secret


def _shopify(
    client: TestClient,
    workspace_id: int,
    body: bytes,
    *,
    topic: str,
    webhook_id: str,
    signature: str | None = None,
    secret: str = SHOPIFY_SECRET,
) -> Response:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Shop-Domain": "marrow-lanes.myshopify.com",
        "X-Shopify-Hmac-Sha256": signature if signature is not None else sign_shopify(secret, body),
    }
    return client.post(f"/inbound/{workspace_id}/sales/shopify", content=body, headers=headers)


def _timestamped(
    client: TestClient,
    workspace_id: int,
    vendor: str,
    body: bytes,
    *,
    secret: str,
    at: datetime,
    signature: str | None = None,
) -> Response:
    name = "Stripe-Signature" if vendor == "stripe" else "Fanbase-Signature"
    headers = {"Content-Type": "application/json", name: signature or sign_timestamped(secret, body, now=at)}
    return client.post(f"/inbound/{workspace_id}/sales/{vendor}", content=body, headers=headers)


def _generic_body(**extra: Any) -> bytes:
    document: dict[str, Any] = {
        "topic": "sales",
        "id": "batch-0001",
        "orders": [
            {
                "email": "Ada.Quinn@Example.com",
                "first_name": "Ada",
                "last_name": "Quinn",
                "country": "ie",
                "city": "Dublin",
                "amount": "12.50",
                "currency": "EUR",
                "category": "music",
                "product": "Night Tram (download)",
                "placed_at": "2026-05-01T10:00:00Z",
                "external_id": "site-order-77",
            }
        ],
        "events": [
            {
                "email": "ada.quinn@example.com",
                "type": "gig_attended",
                "occurred_at": "2026-05-02T20:00:00+02:00",
                "properties": {"venue": "Lido", "city": "Berlin"},
                "external_id": "checkin-77",
            }
        ],
    }
    document.update(extra)
    return json.dumps(document).encode()


def _nothing(database: Database, workspace_id: int) -> None:
    assert workspace_rows(database, workspace_id) == {"fans": [], "orders": [], "events": []}


def _deliveries(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The delivery log, oldest first."""
    page = client.get(f"{API}/sales-deliveries", params={"page_size": 500}, headers=headers).json()
    items: list[dict[str, Any]] = page["items"]
    assert page["total"] == len(items)
    return items[::-1]


def _logged(delivery: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("vendor", "topic", "delivery_id", "outcome", "status_code", "orders", "events")
    return tuple(delivery[key] for key in keys)


def _fan(client: TestClient, headers: dict[str, str], email: str) -> dict[str, Any]:
    [fan] = client.get(f"{API}/fans", params={"q": email}, headers=headers).json()["items"]
    assert fan["email"] == email
    return dict(fan)


def _orders(client: TestClient, headers: dict[str, str], fan_id: int) -> dict[str, dict[str, Any]]:
    """The fan's orders by product."""
    return {order["product"]: order for order in client.get(f"{API}/fans/{fan_id}/orders", headers=headers).json()}


def _outcome(response: Response, outcome: str, **counts: int) -> None:
    assert response.status_code == 200, response.text
    expected = {"orders_created": 0, "orders_refunded": 0, "events_created": 0, "unchanged": 0, **counts}
    assert response.json() == {"outcome": outcome, **expected}


# --- the signatures themselves -------------------------------------------------------------------------------------


def test_the_signers_agree_with_signatures_computed_by_hand(now: datetime) -> None:
    body = _sample("shopify_orders_paid.json")
    assert sign_shopify(SHOPIFY_SECRET, body) == _hand_shopify(SHOPIFY_SECRET, body)
    stamp = int(now.timestamp())
    assert sign_timestamped(STRIPE_SECRET, body, now=now) == _hand_timestamped(STRIPE_SECRET, body, stamp)
    # The documented forms: 44 base64 characters (32 bytes); t=<10 digits>,v1=<64 hex digits>.
    assert len(base64.b64decode(sign_shopify(SHOPIFY_SECRET, body), validate=True)) == 32
    stamp_part, digest_part = sign_timestamped(STRIPE_SECRET, body, now=now).split(",")
    assert stamp_part == f"t={stamp}" and len(digest_part.removeprefix("v1=")) == 64


# --- Shopify -------------------------------------------------------------------------------------------------------


def test_shopify_orders_create_of_an_authorised_order_is_acknowledged_and_ignored(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database
) -> None:
    """The sample order is ``authorized`` (card authorised, not captured): no money moved, so nothing is written
    until ``orders/paid`` (Shopify's OrderDisplayFinancialStatus)."""
    _setup(client, headers)
    body = _sample("shopify_orders_create.json")
    response = _shopify(
        client,
        workspace_id,
        body,
        topic="orders/create",
        webhook_id="wh-create-1",
        signature=_hand_shopify(SHOPIFY_SECRET, body),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"outcome": "ignored", "detail": "not a purchase: financial status authorized"}
    _nothing(database, workspace_id)
    assert [_logged(d) for d in _deliveries(client, headers)] == [
        ("shopify", "orders/create", "wh-create-1", "ignored", 200, 0, 0)
    ]


def test_shopify_orders_create_of_a_paid_order_records_each_line_and_orders_paid_then_changes_nothing(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database
) -> None:
    _setup(client, headers)
    created = _edited("shopify_orders_create.json", financial_status="paid")
    _outcome(
        _shopify(client, workspace_id, created, topic="orders/create", webhook_id="wh-create-2"),
        "processed",
        orders_created=2,
    )
    fan = _fan(client, headers, JONAS)
    orders = _orders(client, headers, fan["id"])
    assert sorted(orders) == [POSTER, LP]
    assert orders[LP]["external_id"] == f"shopify:{SHOPIFY_ORDER}:1"
    assert orders[POSTER]["external_id"] == f"shopify:{SHOPIFY_ORDER}:2"
    before = workspace_rows(database, workspace_id)
    # orders/paid of the same order: the same lines, already recorded.
    _outcome(
        _shopify(client, workspace_id, _sample("shopify_orders_paid.json"), topic="orders/paid", webhook_id="wh-paid"),
        "unchanged",
        unchanged=2,
    )
    assert workspace_rows(database, workspace_id) == before


def test_shopify_orders_paid_records_the_lines_and_refunds_create_refunds_the_poster_line(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database
) -> None:
    _setup(client, headers)
    paid = _sample("shopify_orders_paid.json")
    response = _shopify(
        client,
        workspace_id,
        paid,
        topic="orders/paid",
        webhook_id="wh-paid",
        signature=_hand_shopify(SHOPIFY_SECRET, paid),
    )
    _outcome(response, "processed", orders_created=2)

    fan = _fan(client, headers, JONAS)
    assert (fan["first_name"], fan["last_name"], fan["country"], fan["city"]) == ("Jonas", "Weber", "DE", "Hamburg")
    assert (fan["source"], fan["lifecycle_stage"]) == ("direct_purchase", "customer")
    assert (fan["total_spent"], fan["purchase_count"]) == ("47.30", 2)  # (28.00 + 15.00) EUR at 1.1
    assert fan["first_purchase_at"] == fan["last_purchase_at"] == "2026-03-06T18:02:44Z"  # 19:02:44+01:00
    orders = _orders(client, headers, fan["id"])
    for product, original, converted in ((LP, "28.00", "30.80"), (POSTER, "15.00", "16.50")):
        order = orders[product]
        assert (order["original_amount"], order["original_currency"], order["exchange_rate"]) == (
            original,
            "EUR",
            "1.1",
        )
        assert (order["amount"], order["currency"], order["status"]) == (converted, "USD", "completed")
        assert (order["category"], order["refunded_amount"], order["refunded_at"]) == ("merch", "0.00", None)

    refund = _sample("shopify_refunds_create.json")
    _outcome(
        _shopify(client, workspace_id, refund, topic="refunds/create", webhook_id="wh-refund"),
        "processed",
        orders_refunded=1,
    )
    orders = _orders(client, headers, fan["id"])
    assert (orders[POSTER]["status"], orders[POSTER]["refunded_amount"]) == ("refunded", "15.00")
    assert orders[POSTER]["refunded_at"] == "2026-03-10T10:42:08Z"  # the refund's created_at, 11:42:08+01:00
    assert orders[POSTER]["amount"] == "16.50"  # a refunded order keeps what it cost; it is not summed
    assert (orders[LP]["status"], orders[LP]["refunded_amount"], orders[LP]["amount"]) == ("completed", "0.00", "30.80")
    fan = _fan(client, headers, JONAS)
    assert (fan["total_spent"], fan["purchase_count"]) == ("30.80", 1)

    # The same refund twice (the same delivery, and a re-send under a new delivery id) refunds once.
    before = workspace_rows(database, workspace_id)
    _outcome(_shopify(client, workspace_id, refund, topic="refunds/create", webhook_id="wh-refund"), "unchanged")
    _outcome(_shopify(client, workspace_id, refund, topic="refunds/create", webhook_id="wh-refund-2"), "unchanged")
    assert workspace_rows(database, workspace_id) == before
    assert _fan(client, headers, JONAS)["total_spent"] == "30.80"
    assert [_logged(d) for d in _deliveries(client, headers)] == [
        ("shopify", "orders/paid", "wh-paid", "processed", 200, 2, 0),
        ("shopify", "refunds/create", f"refund:{SHOPIFY_REFUND}", "processed", 200, 1, 0),
        ("shopify", "refunds/create", f"refund:{SHOPIFY_REFUND}", "unchanged", 200, 0, 0),
        ("shopify", "refunds/create", f"refund:{SHOPIFY_REFUND}", "unchanged", 200, 0, 0),
    ]


def test_shopify_refunds_naming_no_line_are_taken_from_the_last_lines_first_and_each_applies_once(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database
) -> None:
    """A refund with no ``refund_line_items`` (an amount refunded by hand) takes its successful refund
    ``transactions`` amount from the last line backwards; two refunds with their own ids both count."""
    _setup(client, headers)
    paid = _sample("shopify_orders_paid.json")
    _outcome(
        _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-paid"), "processed", orders_created=2
    )
    document = json.loads(_sample("shopify_refunds_create.json"))
    document["refund_line_items"] = []
    document["transactions"][0]["amount"] = "20.00"
    first = json.dumps(document).encode()
    _outcome(
        _shopify(client, workspace_id, first, topic="refunds/create", webhook_id="wh-r1"),
        "processed",
        orders_refunded=2,
    )
    fan = _fan(client, headers, JONAS)
    orders = _orders(client, headers, fan["id"])
    assert (orders[POSTER]["status"], orders[POSTER]["refunded_amount"]) == ("refunded", "15.00")
    # 5.00 of the LP: its amount drops to 23.00 EUR, 25.30 USD at the rate it was written with.
    assert (orders[LP]["status"], orders[LP]["refunded_amount"], orders[LP]["amount"]) == ("completed", "5.00", "25.30")
    assert fan["total_spent"] == "25.30"

    _outcome(
        _shopify(client, workspace_id, first, topic="refunds/create", webhook_id="wh-r1-again"),
        "unchanged",
        unchanged=1,  # the LP line it would touch again, left as it is
    )
    assert _fan(client, headers, JONAS)["total_spent"] == "25.30"

    document.update(id=1019874563999)
    document["transactions"][0]["amount"] = "23.00"
    second = json.dumps(document).encode()
    _outcome(
        _shopify(client, workspace_id, second, topic="refunds/create", webhook_id="wh-r2"),
        "processed",
        orders_refunded=1,
    )
    orders = _orders(client, headers, fan["id"])
    assert (orders[LP]["status"], orders[LP]["refunded_amount"]) == ("refunded", "28.00")
    fan = _fan(client, headers, JONAS)
    assert (fan["total_spent"], fan["purchase_count"]) == ("0.00", 0)


def test_an_old_shopify_delivery_replayed_is_harmless(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database
) -> None:
    """Shopify signs no time, so a captured delivery verifies forever: replaying it must change nothing, even after
    the order moved on (the refund must stay)."""
    _setup(client, headers)
    created, paid, refund = (
        _sample("shopify_orders_create.json"),
        _sample("shopify_orders_paid.json"),
        _sample("shopify_refunds_create.json"),
    )
    _shopify(client, workspace_id, created, topic="orders/create", webhook_id="wh-create")
    _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-paid")
    _shopify(client, workspace_id, refund, topic="refunds/create", webhook_id="wh-refund")
    settled = workspace_rows(database, workspace_id)

    replays = [
        _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-paid"),
        _shopify(client, workspace_id, created, topic="orders/create", webhook_id="wh-create"),
        _shopify(client, workspace_id, refund, topic="refunds/create", webhook_id="wh-refund"),
    ]
    assert [r.status_code for r in replays] == [200, 200, 200]
    assert [r.json()["outcome"] for r in replays] == ["unchanged", "ignored", "unchanged"]
    assert workspace_rows(database, workspace_id) == settled
    orders = _orders(client, headers, _fan(client, headers, JONAS)["id"])
    assert (orders[POSTER]["status"], orders[LP]["status"]) == ("refunded", "completed")


def test_a_shopify_refund_that_arrives_before_its_order_is_not_lost(
    client: TestClient, headers: dict[str, str], workspace_id: int
) -> None:
    """Shopify does not guarantee delivery order (https://shopify.dev/docs/apps/build/webhooks/best-practices):
    the refund must either be refused (so Shopify retries it) or kept until its order arrives."""
    _setup(client, headers, rate=False)
    paid, refund = _sample("shopify_orders_paid.json"), _sample("shopify_refunds_create.json")
    assert _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-paid").status_code == 422
    early = _shopify(client, workspace_id, refund, topic="refunds/create", webhook_id="wh-refund")
    client.put(f"{API}/exchange-rates", json={"rates": [EUR_AT_1_10]}, headers=headers)
    _outcome(
        _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-paid"), "processed", orders_created=2
    )
    if not 200 <= early.status_code < 300:  # refused: Shopify retries it, as it retried orders/paid
        _shopify(client, workspace_id, refund, topic="refunds/create", webhook_id="wh-refund")
    fan = _fan(client, headers, JONAS)
    assert _orders(client, headers, fan["id"])[POSTER]["status"] == "refunded"
    assert fan["total_spent"] == "30.80"


def test_a_shopify_export_and_the_shopify_webhooks_record_one_order(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database
) -> None:
    """Order #1043 in the export (partially refunded 15.00: the poster line) is the order of the webhooks: its
    orders/paid and refunds/create change nothing more (SOURCES.md, "Amounts that must agree across files")."""
    _setup(client, headers)
    report = client.post(
        f"{API}/imports/orders",
        files={"file": ("orders_export.csv", (IMPORTS / "shopify_orders.csv").read_bytes(), "text/csv")},
        headers=headers,
    ).json()
    assert (report["format"], report["orders_created"]) == ("shopify", 9)
    before = workspace_rows(database, workspace_id)
    _outcome(
        _shopify(client, workspace_id, _sample("shopify_orders_paid.json"), topic="orders/paid", webhook_id="w1"),
        "unchanged",
        unchanged=2,
    )
    _outcome(
        _shopify(client, workspace_id, _sample("shopify_refunds_create.json"), topic="refunds/create", webhook_id="w2"),
        "unchanged",
    )
    assert workspace_rows(database, workspace_id) == before
    orders = _orders(client, headers, _fan(client, headers, JONAS)["id"])
    assert (orders[POSTER]["status"], orders[LP]["status"]) == ("refunded", "completed")


# --- Stripe --------------------------------------------------------------------------------------------------------


def test_stripe_checkout_session_completed_records_the_payment(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database, now: datetime
) -> None:
    _setup(client, headers)
    body = _sample("stripe_checkout_session_completed.json")
    signature = _hand_timestamped(STRIPE_SECRET, body, int(now.timestamp()))
    _outcome(
        _timestamped(client, workspace_id, "stripe", body, secret=STRIPE_SECRET, at=now, signature=signature),
        "processed",
        orders_created=1,
    )
    fan = _fan(client, headers, NOOR)
    assert (fan["first_name"], fan["last_name"], fan["country"], fan["city"]) == ("Noor", "Haddad", "DE", "Köln")
    assert (fan["lifecycle_stage"], fan["total_spent"], fan["purchase_count"]) == ("customer", "52.80", 1)
    [order] = client.get(f"{API}/fans/{fan['id']}/orders", headers=headers).json()
    assert order["external_id"] == f"stripe:{STRIPE_PAYMENT}"
    assert (order["original_amount"], order["original_currency"], order["amount"], order["currency"]) == (
        "48.00",  # amount_total 4800, in cents
        "EUR",
        "52.80",
        "USD",
    )
    assert (order["category"], order["product"], order["status"]) == (
        "other",
        "Night Tram LP x1; Signed Poster x1",
        "completed",
    )
    assert order["placed_at"] == "2026-03-05T20:09:50Z"  # the session's created, 1772741390
    assert client.get(f"{API}/orders/{order['id']}", headers=headers).json() == order

    before = workspace_rows(database, workspace_id)
    replay = _timestamped(client, workspace_id, "stripe", body, secret=STRIPE_SECRET, at=now)
    _outcome(replay, "unchanged", unchanged=1)
    assert workspace_rows(database, workspace_id) == before
    assert [_logged(d) for d in _deliveries(client, headers)] == [
        ("stripe", "checkout.session.completed", "evt_1SxjR9HkT8mLr5XaP3kTq7Wm", "processed", 200, 1, 0),
        ("stripe", "checkout.session.completed", "evt_1SxjR9HkT8mLr5XaP3kTq7Wm", "unchanged", 200, 0, 0),
    ]


def test_stripe_charge_refunded_refunds_the_payment_in_part_then_whole(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database, now: datetime
) -> None:
    """``refunded`` is true only once the whole charge is refunded; a partial refund fires the same event with
    ``amount_refunded`` below ``amount`` (https://docs.stripe.com/api/charges/object)."""
    _setup(client, headers)
    session = _sample("stripe_checkout_session_completed.json")
    _timestamped(client, workspace_id, "stripe", session, secret=STRIPE_SECRET, at=now)
    document = json.loads(_sample("stripe_charge_refunded.json"))
    document["id"] = "evt_partial_refund"
    document["data"]["object"].update(amount_refunded=2000, refunded=False)
    partial = json.dumps(document).encode()
    _outcome(
        _timestamped(client, workspace_id, "stripe", partial, secret=STRIPE_SECRET, at=now),
        "processed",
        orders_refunded=1,
    )
    fan = _fan(client, headers, NOOR)
    [order] = client.get(f"{API}/fans/{fan['id']}/orders", headers=headers).json()
    assert (order["status"], order["refunded_amount"], order["amount"]) == ("completed", "20.00", "30.80")
    assert fan["total_spent"] == "30.80"  # (48.00 - 20.00) EUR at 1.1

    whole = _sample("stripe_charge_refunded.json")
    _outcome(
        _timestamped(client, workspace_id, "stripe", whole, secret=STRIPE_SECRET, at=now),
        "processed",
        orders_refunded=1,
    )
    fan = _fan(client, headers, NOOR)
    [order] = client.get(f"{API}/fans/{fan['id']}/orders", headers=headers).json()
    assert (order["status"], order["refunded_amount"]) == ("refunded", "48.00")
    assert order["refunded_at"] == "2026-03-09T10:02:15Z"  # the event's created, 1773050535
    assert (fan["total_spent"], fan["purchase_count"]) == ("0.00", 0)

    before = workspace_rows(database, workspace_id)
    _outcome(
        _timestamped(client, workspace_id, "stripe", whole, secret=STRIPE_SECRET, at=now), "unchanged", unchanged=1
    )
    # The partial refund delivered late changes nothing either: the order is refunded.
    _outcome(
        _timestamped(client, workspace_id, "stripe", partial, secret=STRIPE_SECRET, at=now), "unchanged", unchanged=1
    )
    assert workspace_rows(database, workspace_id) == before


def test_a_stripe_refund_delivered_before_its_checkout_leaves_the_payment_refunded(
    client: TestClient, headers: dict[str, str], workspace_id: int, now: datetime
) -> None:
    """Stripe does not guarantee event order (https://docs.stripe.com/webhooks#event-ordering)."""
    _setup(client, headers)
    refund, session = _sample("stripe_charge_refunded.json"), _sample("stripe_checkout_session_completed.json")
    _outcome(
        _timestamped(client, workspace_id, "stripe", refund, secret=STRIPE_SECRET, at=now),
        "processed",
        orders_created=1,
    )
    _outcome(
        _timestamped(client, workspace_id, "stripe", session, secret=STRIPE_SECRET, at=now), "unchanged", unchanged=1
    )
    fan = _fan(client, headers, NOOR)
    [order] = client.get(f"{API}/fans/{fan['id']}/orders", headers=headers).json()
    assert (order["external_id"], order["status"], order["refunded_amount"]) == (
        f"stripe:{STRIPE_PAYMENT}",
        "refunded",
        "48.00",
    )
    assert (fan["total_spent"], fan["purchase_count"], fan["lifecycle_stage"]) == ("0.00", 0, "subscriber")


def test_a_stripe_payment_imported_from_the_export_and_delivered_by_webhook_is_one_order(
    client: TestClient, headers: dict[str, str], workspace_id: int, now: datetime
) -> None:
    """SOURCES.md: checkout ML-WEB-0103 (payment_intent pi_3SxjR8…) is charge ch_3SxjR8… = row 3 of the export.

    The default export names only the charge, and checkout.session.completed only the PaymentIntent, so the two can
    be matched only when the export carries the "PaymentIntent ID" column, which Stripe's export lets you add (the
    README says so). With it, the charge id is kept as an alias: one payment, one order."""
    _setup(client, headers)
    lines = (IMPORTS / "stripe_payments.csv").read_text().splitlines()
    with_intent = [lines[0] + ",PaymentIntent ID"] + [
        line + ("," + "pi_3SxjR8HkT8mLr5Xa0w9Eg1Jt" if line.startswith("ch_3SxjR8HkT8mLr5Xa0Kd4Wq2B") else ",")
        for line in lines[1:]
    ]
    report = client.post(
        f"{API}/imports/orders",
        files={"file": ("unified_payments.csv", "\n".join(with_intent).encode(), "text/csv")},
        headers=headers,
    ).json()
    assert (report["format"], report["orders_created"]) == ("stripe", 5)
    session = _sample("stripe_checkout_session_completed.json")
    response = _timestamped(client, workspace_id, "stripe", session, secret=STRIPE_SECRET, at=now)
    assert response.status_code == 200
    fan = _fan(client, headers, NOOR)
    assert len(client.get(f"{API}/fans/{fan['id']}/orders", headers=headers).json()) == 1
    assert fan["total_spent"] == "0.00"


def test_a_stripe_signature_with_several_v1_values_is_accepted_when_one_matches(
    client: TestClient, headers: dict[str, str], workspace_id: int, now: datetime
) -> None:
    """While a secret is rolled Stripe signs with both (https://docs.stripe.com/webhooks#roll-endpoint-secrets)."""
    _setup(client, headers)
    body = _sample("stripe_checkout_session_completed.json")
    stamp = int(now.timestamp())
    old = _hand_timestamped("whsec_the_old_secret", body, stamp).split(",")[1]
    new = _hand_timestamped(STRIPE_SECRET, body, stamp).split(",")[1]
    signature = f"t={stamp},{old},{new}"
    response = _timestamped(client, workspace_id, "stripe", body, secret=STRIPE_SECRET, at=now, signature=signature)
    _outcome(response, "processed", orders_created=1)


# --- generic -------------------------------------------------------------------------------------------------------


def test_a_generic_sales_delivery_records_its_orders_and_events(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database, now: datetime
) -> None:
    secret = _setup(client, headers)
    body = _generic_body()
    signature = _hand_timestamped(secret, body, int(now.timestamp()))
    _outcome(
        _timestamped(client, workspace_id, "generic", body, secret=secret, at=now, signature=signature),
        "processed",
        orders_created=1,
        events_created=1,
    )
    fan = _fan(client, headers, "ada.quinn@example.com")  # the email is normalised
    assert (fan["first_name"], fan["last_name"], fan["country"], fan["city"]) == ("Ada", "Quinn", "IE", "Dublin")
    assert (fan["total_spent"], fan["purchase_count"], fan["lifecycle_stage"]) == ("13.75", 1, "customer")
    [order] = client.get(f"{API}/fans/{fan['id']}/orders", headers=headers).json()
    assert (order["external_id"], order["original_amount"], order["original_currency"], order["amount"]) == (
        "site-order-77",
        "12.50",
        "EUR",
        "13.75",
    )
    assert (order["category"], order["product"], order["placed_at"]) == (
        "music",
        "Night Tram (download)",
        "2026-05-01T10:00:00Z",
    )
    events = client.get(f"{API}/fans/{fan['id']}/events", headers=headers).json()
    [gig] = [event for event in events if event["type"] == "gig_attended"]
    assert (gig["external_id"], gig["occurred_at"], gig["properties"]) == (
        "checkin-77",
        "2026-05-02T18:00:00Z",
        {"venue": "Lido", "city": "Berlin"},
    )

    before = workspace_rows(database, workspace_id)
    _outcome(_timestamped(client, workspace_id, "generic", body, secret=secret, at=now), "unchanged", unchanged=2)
    assert workspace_rows(database, workspace_id) == before
    assert [_logged(d) for d in _deliveries(client, headers)] == [
        ("generic", "sales", "batch-0001", "processed", 200, 1, 1),
        ("generic", "sales", "batch-0001", "unchanged", 200, 0, 0),
    ]


def test_a_generic_delivery_with_one_bad_record_writes_nothing_of_it(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database, now: datetime
) -> None:
    """All or nothing: the first order could be written, the second has no rate (JPY), so neither is, nor the fans."""
    secret = _setup(client, headers)
    good = {"email": "a@example.com", "amount": "1.00", "category": "music", "placed_at": "2026-05-01T10:00:00Z"}
    bad = {**good, "email": "b@example.com", "currency": "JPY", "external_id": "jpy-1"}
    body = _generic_body(orders=[{**good, "external_id": "usd-1"}, bad], events=[])
    response = _timestamped(client, workspace_id, "generic", body, secret=secret, at=now)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "body"
    assert "no exchange rate from JPY to USD valid on 2026-05-01" in response.json()["detail"]
    _nothing(database, workspace_id)


# --- refusals ------------------------------------------------------------------------------------------------------

# vendor, its signature header, a sample body (None: the generic body).
VENDORS = [
    ("shopify", "X-Shopify-Hmac-Sha256", "shopify_orders_paid.json"),
    ("stripe", "Stripe-Signature", "stripe_checkout_session_completed.json"),
    ("generic", "Fanbase-Signature", None),
]


def _secret_of(vendor: str, generic_secret: str) -> str:
    return {"shopify": SHOPIFY_SECRET, "stripe": STRIPE_SECRET, "generic": generic_secret}[vendor]


def _signed_for(vendor: str, secret: str, body: bytes, stamp: int) -> str:
    return _hand_shopify(secret, body) if vendor == "shopify" else _hand_timestamped(secret, body, stamp)


def _send(client: TestClient, workspace_id: int, vendor: str, body: bytes, header: str, value: str | None) -> Response:
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": "orders/paid", "X-Shopify-Webhook-Id": "wh-1"}
    if value is not None:
        headers[header] = value
    return client.post(f"/inbound/{workspace_id}/sales/{vendor}", content=body, headers=headers)


@pytest.mark.parametrize(("vendor", "header", "sample"), VENDORS)
def test_a_tampered_body_under_the_original_signature_is_refused_and_writes_nothing(
    client: TestClient,
    headers: dict[str, str],
    workspace_id: int,
    database: Database,
    now: datetime,
    vendor: str,
    header: str,
    sample: str | None,
) -> None:
    secret = _secret_of(vendor, _setup(client, headers))
    body = _sample(sample) if sample else _generic_body()
    signature = _signed_for(vendor, secret, body, int(now.timestamp()))
    tampered = body.replace(b"28.00", b"2.00").replace(b"4800", b"480").replace(b"12.50", b"1.25")
    assert tampered != body
    response = _send(client, workspace_id, vendor, tampered, header, signature)
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": f"{header} does not match the body", "field": header}
    _nothing(database, workspace_id)
    [logged] = _deliveries(client, headers)
    assert (logged["vendor"], logged["outcome"], logged["status_code"], logged["delivery_id"]) == (
        vendor,
        "rejected",
        401,
        None,
    )
    # The untampered body under the same signature is accepted: only the tampering was refused.
    assert _send(client, workspace_id, vendor, body, header, signature).json()["outcome"] == "processed"


@pytest.mark.parametrize(("vendor", "header", "sample"), VENDORS)
def test_a_delivery_without_its_signature_header_is_refused(
    client: TestClient,
    headers: dict[str, str],
    workspace_id: int,
    database: Database,
    vendor: str,
    header: str,
    sample: str | None,
) -> None:
    _setup(client, headers)
    body = _sample(sample) if sample else _generic_body()
    response = _send(client, workspace_id, vendor, body, header, None)
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": f"missing {header} header", "field": header}
    _nothing(database, workspace_id)
    assert [(d["outcome"], d["status_code"], d["detail"]) for d in _deliveries(client, headers)] == [
        ("rejected", 401, f"missing {header} header")
    ]


@pytest.mark.parametrize("vendor", ["stripe", "generic"])
def test_a_stale_or_future_timestamp_is_refused_and_the_tolerance_is_300_seconds(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database, now: datetime, vendor: str
) -> None:
    secret = _secret_of(vendor, _setup(client, headers))
    body = _sample("stripe_checkout_session_completed.json") if vendor == "stripe" else _generic_body()
    header = "Stripe-Signature" if vendor == "stripe" else "Fanbase-Signature"
    stamp = int(now.timestamp())
    for skew in (-301, 301, -3600):
        signature = _hand_timestamped(secret, body, stamp + skew)
        response = _send(client, workspace_id, vendor, body, header, signature)
        assert response.status_code == 401, (skew, response.text)
        assert response.json()["field"] == header
        assert "too old (or from the future)" in response.json()["detail"]
    _nothing(database, workspace_id)
    # Exactly 300 s old is still within the tolerance.
    accepted = _send(client, workspace_id, vendor, body, header, _hand_timestamped(secret, body, stamp - 300))
    assert accepted.status_code == 200 and accepted.json()["outcome"] == "processed", accepted.text
    outcomes = [(d["outcome"], d["status_code"]) for d in _deliveries(client, headers)]
    assert outcomes == [("rejected", 401)] * 3 + [("processed", 200)]


@pytest.mark.parametrize(
    "signature",
    ["", "garbage", "v1=00ff", "t=1780315200", "t=-1780315200,v1=00ff", "t=1780315200,v1=", "t=1780315200,v0=00"],
)
def test_a_malformed_timestamped_signature_is_refused(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database, signature: str
) -> None:
    _setup(client, headers)
    body = _sample("stripe_checkout_session_completed.json")
    response = _send(client, workspace_id, "stripe", body, "Stripe-Signature", signature)
    assert response.status_code == 401, response.text
    assert response.json()["field"] == "Stripe-Signature"
    _nothing(database, workspace_id)


def test_an_absurdly_long_timestamp_is_refused_401_not_500(
    app: FastAPI, headers: dict[str, str], workspace_id: int, now: datetime
) -> None:
    with api_client(app, raise_server_exceptions=False) as client:
        _setup(client, headers)
        body = _sample("stripe_checkout_session_completed.json")
        signature = "t=" + "9" * 5000 + ",v1=" + "0" * 64
        response = _send(client, workspace_id, "stripe", body, "Stripe-Signature", signature)
        assert response.status_code == 401, response.text
        assert [d["outcome"] for d in _deliveries(client, headers)] == ["rejected"]


@pytest.mark.parametrize(
    ("vendor", "body", "topic"),
    [
        ("shopify", b'{"id": 8841236234319, "title": "Night Tram"}', "products/update"),
        ("stripe", b'{"id": "evt_1", "type": "customer.created", "data": {"object": {}}}', "customer.created"),
        ("generic", b'{"topic": "refunds", "orders": []}', "refunds"),
    ],
)
def test_an_unknown_topic_is_acknowledged_and_ignored(
    client: TestClient,
    headers: dict[str, str],
    workspace_id: int,
    database: Database,
    now: datetime,
    vendor: str,
    body: bytes,
    topic: str,
) -> None:
    secret = _secret_of(vendor, _setup(client, headers))
    if vendor == "shopify":
        response = _shopify(client, workspace_id, body, topic=topic, webhook_id="wh-product")
    else:
        response = _timestamped(client, workspace_id, vendor, body, secret=secret, at=now)
    assert response.status_code == 200, response.text
    assert response.json() == {"outcome": "ignored", "detail": f"topic '{topic}' is not read by fanbase"}
    _nothing(database, workspace_id)
    [logged] = _deliveries(client, headers)
    assert (logged["vendor"], logged["topic"], logged["outcome"], logged["status_code"]) == (
        vendor,
        topic,
        "ignored",
        200,
    )


def test_a_signed_body_that_is_not_json_fails_with_422_and_is_logged(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database, now: datetime
) -> None:
    secret = _setup(client, headers)
    for body in (b"orders=1&amount=5", b"[1, 2, 3]"):
        response = _timestamped(client, workspace_id, "generic", body, secret=secret, at=now)
        assert response.status_code == 422, response.text
        assert response.json() == {"detail": "must be a JSON object", "field": "body"}
    response = _shopify(client, workspace_id, b"<order/>", topic="orders/paid", webhook_id="wh-xml")
    assert response.status_code == 422
    _nothing(database, workspace_id)
    assert [_logged(d) for d in _deliveries(client, headers)] == [
        ("generic", "unknown", None, "failed", 422, 0, 0),
        ("generic", "unknown", None, "failed", 422, 0, 0),
        ("shopify", "orders/paid", None, "failed", 422, 0, 0),
    ]


def test_endpoints_not_set_up_and_unknown_vendors_answer_404(
    client: TestClient, headers: dict[str, str], workspace_id: int, now: datetime
) -> None:
    response = client.put(f"{API}/sales-sources/shopify", json={"secret": SHOPIFY_SECRET}, headers=headers)
    assert response.status_code == 200
    body = _sample("stripe_checkout_session_completed.json")
    for vendor in ("stripe", "generic"):
        response = _timestamped(client, workspace_id, vendor, body, secret=STRIPE_SECRET, at=now)
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": f"no {vendor} endpoint is set up for this workspace"}
    response = _timestamped(client, workspace_id, "paypal", body, secret=STRIPE_SECRET, at=now)
    assert response.status_code == 404
    assert response.json() == {"detail": "no such sales source 'paypal'; they are shopify, stripe, generic"}
    # No such workspace: the same answer as a workspace without that endpoint.
    paid = _sample("shopify_orders_paid.json")
    response = _shopify(client, MAX_ID, paid, topic="orders/paid", webhook_id="wh-1")
    assert response.status_code == 404
    assert response.json() == {"detail": "no shopify endpoint is set up for this workspace"}
    assert _deliveries(client, headers) == []


def test_a_delivery_to_another_workspace_signed_with_this_workspaces_secret_is_refused(
    client: TestClient,
    headers: dict[str, str],
    other_headers: dict[str, str],
    workspace_id: int,
    database: Database,
) -> None:
    _setup(client, headers)
    their_secret = "shpss_their_own_secret_5f4e3d2c"
    assert (
        client.put(f"{API}/sales-sources/shopify", json={"secret": their_secret}, headers=other_headers).status_code
        == 200
    )
    their_id = client.get(f"{API}/workspace", headers=other_headers).json()["id"]
    client.put(f"{API}/exchange-rates", json={"rates": [EUR_AT_1_10]}, headers=other_headers)
    assert their_id != workspace_id
    paid = _sample("shopify_orders_paid.json")
    response = _shopify(client, their_id, paid, topic="orders/paid", webhook_id="wh-1", secret=SHOPIFY_SECRET)
    assert response.status_code == 401, response.text
    _nothing(database, workspace_id)
    _nothing(database, their_id)
    # Logged where it was sent, not here.
    assert _deliveries(client, headers) == []
    assert [(d["outcome"], d["status_code"]) for d in _deliveries(client, other_headers)] == [("rejected", 401)]
    # Their own secret is what opens their endpoint.
    _outcome(
        _shopify(client, their_id, paid, topic="orders/paid", webhook_id="wh-1", secret=their_secret),
        "processed",
        orders_created=2,
    )


def test_a_currency_without_a_rate_refuses_the_delivery_until_the_rate_is_added(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database
) -> None:
    _setup(client, headers, rate=False)
    paid = _sample("shopify_orders_paid.json")
    response = _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-paid")
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "body"
    assert response.json()["detail"].startswith(
        "nothing was written: no exchange rate from EUR to USD valid on 2026-03-06: add one valid from 2026-03-06"
    )
    _nothing(database, workspace_id)

    rate = {"currency": "EUR", "valid_from": "2026-03-06", "rate": "1.0825"}
    assert client.put(f"{API}/exchange-rates", json={"rates": [rate]}, headers=headers).status_code == 200
    # Shopify retries the same delivery.
    _outcome(
        _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-paid"), "processed", orders_created=2
    )
    orders = _orders(client, headers, _fan(client, headers, JONAS)["id"])
    assert (orders[LP]["amount"], orders[LP]["exchange_rate"]) == ("30.31", "1.0825")  # 28.00 * 1.0825 = 30.31
    assert (orders[POSTER]["amount"], orders[POSTER]["exchange_rate"]) == ("16.24", "1.0825")  # 16.2375, half even
    logged = _deliveries(client, headers)
    assert [_logged(d) for d in logged] == [
        ("shopify", "orders/paid", "wh-paid", "failed", 422, 0, 0),
        ("shopify", "orders/paid", "wh-paid", "processed", 200, 2, 0),
    ]
    assert "no exchange rate from EUR to USD" in logged[0]["detail"]
    assert logged[1]["detail"] is None


def test_every_delivery_is_logged_with_its_outcome_and_status(
    client: TestClient, headers: dict[str, str], workspace_id: int, now: datetime
) -> None:
    secret = _setup(client, headers, rate=False)
    paid = _sample("shopify_orders_paid.json")
    _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-1")  # failed: no EUR rate
    client.put(f"{API}/exchange-rates", json={"rates": [EUR_AT_1_10]}, headers=headers)
    _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-1")  # processed
    _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-1")  # unchanged
    _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-2", signature="AAAA")  # rejected
    _timestamped(client, workspace_id, "generic", b'{"topic": "ping"}', secret=secret, at=now)  # ignored
    stripe = _sample("stripe_checkout_session_completed.json")
    _timestamped(client, workspace_id, "stripe", stripe, secret=STRIPE_SECRET, at=now)  # processed
    logged = _deliveries(client, headers)
    assert [_logged(d) for d in logged] == [
        ("shopify", "orders/paid", "wh-1", "failed", 422, 0, 0),
        ("shopify", "orders/paid", "wh-1", "processed", 200, 2, 0),
        ("shopify", "orders/paid", "wh-1", "unchanged", 200, 0, 0),
        ("shopify", "orders/paid", None, "rejected", 401, 0, 0),
        ("generic", "ping", None, "ignored", 200, 0, 0),
        ("stripe", "checkout.session.completed", "evt_1SxjR9HkT8mLr5XaP3kTq7Wm", "processed", 200, 1, 0),
    ]
    assert all(d["received_at"] == "2026-06-01T12:00:00Z" for d in logged)
    assert logged[3]["detail"] == "X-Shopify-Hmac-Sha256 does not match the body"
    assert logged[4]["detail"] == "topic 'ping' is not read by fanbase"
    # Newest first, a page at a time.
    page = client.get(f"{API}/sales-deliveries", params={"page": 2, "page_size": 4}, headers=headers).json()
    assert (page["total"], [d["id"] for d in page["items"]]) == (6, [logged[1]["id"], logged[0]["id"]])


def test_rejected_deliveries_are_logged_at_most_100_an_hour(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database
) -> None:
    """An unauthenticated sender cannot grow the log without bound; accepted deliveries are still logged."""
    _setup(client, headers)
    paid = _sample("shopify_orders_paid.json")
    for attempt in range(110):
        response = _shopify(
            client, workspace_id, paid, topic="orders/paid", webhook_id=f"forged-{attempt}", signature="Zm9yZ2Vk"
        )
        assert response.status_code == 401
    _nothing(database, workspace_id)
    logged = _deliveries(client, headers)
    assert len(logged) == 100
    assert {(d["outcome"], d["status_code"]) for d in logged} == {("rejected", 401)}
    _outcome(
        _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="real"), "processed", orders_created=2
    )
    logged = _deliveries(client, headers)
    assert len(logged) == 101 and logged[-1]["outcome"] == "processed"


def test_removing_an_endpoint_refuses_its_deliveries_from_then_on(
    client: TestClient, headers: dict[str, str], workspace_id: int, database: Database
) -> None:
    _setup(client, headers)
    paid = _sample("shopify_orders_paid.json")
    assert client.delete(f"{API}/sales-sources/shopify", headers=headers).status_code == 204
    response = _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-1")
    assert response.status_code == 404
    _nothing(database, workspace_id)
    # Set up again with a new secret: the old one no longer opens it.
    new_secret = "shpss_rotated_secret_99aa88bb"
    client.put(f"{API}/sales-sources/shopify", json={"secret": new_secret}, headers=headers)
    assert _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-1").status_code == 401
    response = _shopify(client, workspace_id, paid, topic="orders/paid", webhook_id="wh-1", secret=new_secret)
    _outcome(response, "processed", orders_created=2)


def test_amounts_agree_with_the_decimal_arithmetic_of_the_rate(
    client: TestClient, headers: dict[str, str], workspace_id: int, now: datetime
) -> None:
    """Each generic order is converted at the rate, rounded half to even to the cent, and totals sum the cents."""
    secret = _setup(client, headers)
    amounts = ["0.05", "0.15", "1.25", "10.45", "99.99"]
    orders = [
        {
            "email": "sum@example.com",
            "amount": amount,
            "currency": "EUR",
            "category": "merch",
            "placed_at": "2026-05-01T10:00:00Z",
            "external_id": f"sum-{index}",
        }
        for index, amount in enumerate(amounts)
    ]
    body = _generic_body(orders=orders, events=[])
    _outcome(_timestamped(client, workspace_id, "generic", body, secret=secret, at=now), "processed", orders_created=5)
    fan = _fan(client, headers, "sum@example.com")
    stored = sorted(Decimal(o["amount"]) for o in client.get(f"{API}/fans/{fan['id']}/orders", headers=headers).json())
    expected = sorted(
        (Decimal(amount) * Decimal("1.1")).quantize(Decimal("0.01"), ROUND_HALF_EVEN) for amount in amounts
    )
    assert stored == expected
    assert Decimal(fan["total_spent"]) == sum(expected)


def test_deliveries_signed_now_are_accepted_whatever_the_events_own_time(
    client: TestClient, headers: dict[str, str], workspace_id: int, now: datetime
) -> None:
    """The signed time is the sending time, not the event's ``created`` (months before ``now`` here)."""
    _setup(client, headers)
    body = _sample("stripe_charge_refunded.json")
    assert json.loads(body)["created"] < int((now - timedelta(days=30)).timestamp())
    response = _timestamped(client, workspace_id, "stripe", body, secret=STRIPE_SECRET, at=now)
    _outcome(response, "processed", orders_created=1)
