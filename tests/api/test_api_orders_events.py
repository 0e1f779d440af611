"""Orders and events over HTTP: one and batches, reads, refunds, batch bounds, idempotency."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fanbase.settings import Settings

API = "/api/v1"


def _order(email: str = "ada@example.com", **extra: Any) -> dict[str, Any]:
    return {"email": email, "amount": "25.00", "category": "merch", **extra}


def _fan(client: TestClient, headers: dict[str, str], email: str) -> dict[str, Any]:
    found = client.get(f"{API}/fans", params={"q": email}, headers=headers).json()["items"]
    assert len(found) == 1
    fan: dict[str, Any] = found[0]
    return fan


def test_create_get_and_refund_an_order(client: TestClient, headers: dict[str, str]) -> None:
    created = client.post(f"{API}/orders", json=_order(product="Tour shirt"), headers=headers)
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["amount"] == "25.00" and order["currency"] == "USD" and order["status"] == "completed"
    assert "Idempotency-Replayed" not in created.headers

    assert client.get(f"{API}/orders/{order['id']}", headers=headers).json() == order
    assert _fan(client, headers, "ada@example.com")["total_spent"] == "25.00"

    refunded = client.post(f"{API}/orders/{order['id']}/refund", headers=headers)
    assert refunded.status_code == 200
    assert refunded.json()["status"] == "refunded"
    fan = _fan(client, headers, "ada@example.com")
    assert fan["total_spent"] == "0.00" and fan["purchase_count"] == 0

    again = client.post(f"{API}/orders/{order['id']}/refund", headers=headers)
    assert again.status_code == 409
    assert again.json()["field"] == "status"


def test_order_validation_names_the_field(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(f"{API}/orders", json=_order(amount="-3"), headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "amount"

    wrong_currency = client.post(f"{API}/orders", json=_order(currency="EUR"), headers=headers)
    assert wrong_currency.status_code == 422
    assert "currency" in wrong_currency.json()["field"]

    unknown = client.post(f"{API}/orders", json={"fan_id": 2**62, "amount": "1", "category": "x"}, headers=headers)
    assert unknown.status_code == 404
    assert "fan_id" in unknown.json()["field"]


def test_duplicate_external_id_is_a_conflict(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post(f"{API}/orders", json=_order(external_id="shop-1"), headers=headers).status_code == 201
    response = client.post(f"{API}/orders", json=_order(external_id="shop-1"), headers=headers)
    assert response.status_code == 409
    assert response.json()["field"] == "external_id"


def test_order_batch(client: TestClient, headers: dict[str, str]) -> None:
    items = [_order("ada@example.com"), _order("bob@example.com"), _order("ada@example.com", amount="5")]
    response = client.post(f"{API}/orders/batch", json={"items": items}, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["ids"]) == 3 and body["created_fans"] == 2
    ada = _fan(client, headers, "ada@example.com")
    assert ada["total_spent"] == "30.00" and ada["purchase_count"] == 2


def test_batches_over_the_bound_are_refused_with_413_naming_items(
    client: TestClient, headers: dict[str, str], settings: Settings
) -> None:
    too_many = settings.max_batch_size + 1
    orders = client.post(f"{API}/orders/batch", json={"items": [_order()] * too_many}, headers=headers)
    events = client.post(
        f"{API}/events/batch", json={"items": [{"email": "a@example.com", "type": "x"}] * too_many}, headers=headers
    )
    for response in (orders, events):
        assert response.status_code == 413
        assert response.json()["field"] == "items"
        assert str(settings.max_batch_size) in response.json()["detail"]
    # Nothing was written.
    assert client.get(f"{API}/fans", headers=headers).json()["total"] == 0


def test_an_empty_batch_is_invalid(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(f"{API}/events/batch", json={"items": []}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "items"


def test_create_and_get_an_event(client: TestClient, headers: dict[str, str]) -> None:
    body = {"email": "ada@example.com", "type": "gig_attended", "occurred_at": "2026-05-01T20:00:00Z"}
    created = client.post(f"{API}/events", json={**body, "properties": {"venue": "Roundhouse"}}, headers=headers)
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["properties"] == {"venue": "Roundhouse"}
    assert client.get(f"{API}/events/{event['id']}", headers=headers).json() == event
    assert client.get(f"{API}/events/{event['id'] + 10**9}", headers=headers).status_code == 404
    bad = client.post(f"{API}/events", json={**body, "type": "Not A Slug"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "type"


def test_a_retried_event_batch_is_counted_once(client: TestClient, headers: dict[str, str]) -> None:
    batch = {
        "items": [
            {"email": "ada@example.com", "type": "email_opened", "occurred_at": "2026-05-01T10:00:00Z"},
            {"email": "ada@example.com", "type": "link_clicked", "occurred_at": "2026-05-02T10:00:00Z"},
        ]
    }
    key = {"Idempotency-Key": "batch-0001"}
    first = client.post(f"{API}/events/batch", json=batch, headers={**headers, **key})
    assert first.status_code == 201, first.text
    assert "Idempotency-Replayed" not in first.headers
    fan = _fan(client, headers, "ada@example.com")

    second = client.post(f"{API}/events/batch", json=batch, headers={**headers, **key})
    assert second.status_code == 201
    assert second.headers["Idempotency-Replayed"] == "true"
    assert second.json() == first.json()

    events = client.get(f"{API}/fans/{fan['id']}/events", headers=headers).json()
    assert len(events) == 2
    after = _fan(client, headers, "ada@example.com")
    assert after["last_active_at"] == fan["last_active_at"]
    assert after["last_active_at"].startswith("2026-05-02T10:00:00")

    different = {"items": [{**batch["items"][0], "type": "page_viewed"}]}
    clash = client.post(f"{API}/events/batch", json=different, headers={**headers, **key})
    assert clash.status_code == 409
    assert clash.json()["field"] == "Idempotency-Key"
    assert len(client.get(f"{API}/fans/{fan['id']}/events", headers=headers).json()) == 2


def test_a_retried_order_is_recorded_once(client: TestClient, headers: dict[str, str]) -> None:
    key = {"Idempotency-Key": "order-42"}
    first = client.post(f"{API}/orders", json=_order(), headers={**headers, **key})
    second = client.post(f"{API}/orders", json=_order(), headers={**headers, **key})
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotency-Replayed"] == "true"
    assert second.json() == first.json()
    assert _fan(client, headers, "ada@example.com")["purchase_count"] == 1


def test_idempotency_keys_are_per_workspace(
    client: TestClient, headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    key = {"Idempotency-Key": "shared-key"}
    mine = client.post(f"{API}/orders", json=_order(), headers={**headers, **key})
    # Another workspace using the same key, even with a different body, is a different request: no replay, no 409.
    theirs = client.post(f"{API}/orders", json=_order(amount="99"), headers={**other_headers, **key})
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotency-Replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    assert _fan(client, other_headers, "ada@example.com")["total_spent"] == "99.00"
    assert _fan(client, headers, "ada@example.com")["total_spent"] == "25.00"


def test_an_overlong_idempotency_key_is_invalid(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(f"{API}/orders", json=_order(), headers={**headers, "Idempotency-Key": "k" * 201})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_openapi_describes_the_created_bodies(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    created = paths[f"{API}/orders"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Order"}
    batch = paths[f"{API}/events/batch"]["post"]["responses"]
    assert batch["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BatchResult"}
    assert "413" in batch
