"""Workspaces are sealed: another workspace's ids answer exactly like ids that do not exist.

The walk enumerates the app's routes, so a new route with an id in its path fails this test until it is added here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fanbase.schemas.common import MAX_ID
from tests_support import deliver_mail

API = "/api/v1"
PARAMETER = re.compile(r"\{(\w+)\}")
FILES = "files"  # a body given as {FILES: …} is sent as a multipart upload
QUERY = "query"  # a body given as {QUERY: "a=b"} is sent as the query string of a bodiless request
# Paths whose parameter is not a workspace object's id.
NOT_OBJECTS = {
    ("POST", "/segments/templates/{key}"),
    # The links in mail: signed tokens (their own tests in test_api_messages.py), not ids.
    ("GET", "/u/{token}"),
    ("POST", "/u/{token}"),
    ("GET", "/t/o/{token}.gif"),
    ("GET", "/t/c/{token}"),
    # A provider's signed events name the workspace whose secret signs them (test_api_inbound_mail.py).
    ("POST", "/inbound/{workspace_id}/mail-events"),
    # Sales: the kind of import and the vendor are choices from a fixed list, not ids; the signed sales endpoints
    # name the workspace whose secret signs them (test_api_sales.py, test_api_sales_webhooks.py).
    ("POST", "/imports/{kind}"),
    ("POST", "/imports/{kind}/preview"),
    ("PUT", "/sales-sources/{vendor}"),
    ("DELETE", "/sales-sources/{vendor}"),
    ("POST", "/inbound/{workspace_id}/sales/{vendor}"),
}


def routes_with_ids(app: FastAPI) -> Iterator[tuple[str, str]]:
    # FastAPI 0.16x keeps included routers as branches; iter_route_contexts flattens them (older: app.routes is flat).
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in iterate(app.routes) if iterate else app.routes:
        path = getattr(route, "path", None) or ""
        if PARAMETER.search(path):
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    yield method, path


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _seed(client: TestClient, headers: dict[str, str], app: FastAPI, now: datetime) -> dict[str, int]:
    """One real object of every kind that a path can name; returns path parameter → id."""
    fan = _created(client.post(f"{API}/fans", json={"email": "owner@example.com"}, headers=headers))
    order = _created(
        client.post(f"{API}/orders", json={"fan_id": fan["id"], "amount": "10", "category": "music"}, headers=headers)
    )
    event = _created(client.post(f"{API}/events", json={"fan_id": fan["id"], "type": "page_viewed"}, headers=headers))
    tag = _created(client.post(f"{API}/tags", json={"name": "VIP"}, headers=headers))
    fan_list = _created(client.post(f"{API}/lists", json={"name": "Fan Club"}, headers=headers))
    key = _created(client.post(f"{API}/api-keys", json={"name": "extra"}, headers=headers))
    segment = _created(client.post(f"{API}/segments", json={"name": "Press", "kind": "static"}, headers=headers))
    # A public IP literal (no DNS needed); only exits are wanted and nothing here exits, so nothing is ever queued.
    webhook = _created(
        client.post(
            f"{API}/webhooks", json={"url": "https://93.184.215.14/hook", "events": ["segment.exited"]}, headers=headers
        )
    )
    rates = {"rates": [{"currency": "EUR", "valid_from": "2026-01-01", "rate": "1.1"}]}
    assert client.put(f"{API}/exchange-rates", json=rates, headers=headers).status_code == 200
    [rate] = client.get(f"{API}/exchange-rates", headers=headers).json()
    client.post(f"{API}/segments/{segment['id']}/members", json={"fan_ids": [fan["id"]]}, headers=headers)
    client.post(f"{API}/tags/{tag['id']}/fans", json={"fan_ids": [fan["id"]]}, headers=headers)
    client.post(f"{API}/lists/{fan_list['id']}/subscriptions", json={"fan_ids": [fan["id"]]}, headers=headers)
    message = _created(
        client.post(
            f"{API}/messages",
            json={
                "name": "News",
                "subject": "Hi",
                "body": "Hello",
                "segment_ids": [segment["id"]],
                "list_id": fan_list["id"],
            },
            headers=headers,
        )
    )
    client.post(f"{API}/messages/{message['id']}/send", headers=headers)
    workspace_id = client.get(f"{API}/workspace", headers=headers).json()["id"]
    deliver_mail(app.state.fanbase.database, workspace_id, now)
    [mail] = client.get(f"{API}/mail/outbox", headers=headers).json()["items"]
    return {
        "fan_id": fan["id"],
        "order_id": order["id"],
        "event_id": event["id"],
        "tag_id": tag["id"],
        "list_id": fan_list["id"],
        "key_id": key["id"],
        "segment_id": segment["id"],
        "webhook_id": webhook["id"],
        "message_id": message["id"],
        "mail_id": mail["id"],
        "rate_id": rate["id"],
    }


def _bodies(own_fan_id: int) -> dict[tuple[str, str], dict[str, Any] | None]:
    """A valid request for every route with an id in its path (None: no body). Fan ids in bodies are the caller's
    own, so only the id in the path can be at fault."""
    fan_ids = {"fan_ids": [own_fan_id]}
    return {
        ("GET", "/fans/{fan_id}"): None,
        ("PATCH", "/fans/{fan_id}"): {"first_name": "Eve"},
        ("DELETE", "/fans/{fan_id}"): None,
        ("GET", "/fans/{fan_id}/export"): None,
        ("GET", "/fans/{fan_id}/orders"): None,
        ("GET", "/fans/{fan_id}/events"): None,
        ("GET", "/fans/{fan_id}/lists"): None,
        ("GET", "/orders/{order_id}"): None,
        ("POST", "/orders/{order_id}/refund"): None,
        ("GET", "/events/{event_id}"): None,
        ("GET", "/tags/{tag_id}"): None,
        ("PATCH", "/tags/{tag_id}"): {"name": "Stolen"},
        ("DELETE", "/tags/{tag_id}"): None,
        ("GET", "/tags/{tag_id}/fans"): None,
        ("POST", "/tags/{tag_id}/fans"): fan_ids,
        ("POST", "/tags/{tag_id}/fans/remove"): fan_ids,
        ("GET", "/lists/{list_id}"): None,
        ("PATCH", "/lists/{list_id}"): {"name": "Stolen"},
        ("DELETE", "/lists/{list_id}"): None,
        ("GET", "/lists/{list_id}/members"): None,
        ("POST", "/lists/{list_id}/subscriptions"): {**fan_ids, "status": "unsubscribed"},
        ("POST", "/lists/{list_id}/members/remove"): fan_ids,
        ("DELETE", "/api-keys/{key_id}"): None,
        ("GET", "/webhooks/{webhook_id}"): None,
        ("DELETE", "/webhooks/{webhook_id}"): None,
        ("GET", "/webhooks/{webhook_id}/deliveries"): None,
        ("GET", "/segments/{segment_id}"): None,
        ("GET", "/segments/{segment_id}/history"): None,
        ("GET", "/segments/{segment_id}/members/as-of"): {QUERY: "at=2026-01-01T00:00:00Z"},
        ("GET", "/segments/{segment_id}/sizes"): None,
        ("POST", "/segments/{segment_id}/impact"): {"rule_text": "purchase_count > 0"},
        ("GET", "/fans/{fan_id}/segments"): None,
        ("GET", "/fans/{fan_id}/history"): None,
        ("GET", "/tags/{tag_id}/sizes"): None,
        ("GET", "/lists/{list_id}/sizes"): None,
        ("PATCH", "/segments/{segment_id}"): {"name": "Stolen"},
        ("DELETE", "/segments/{segment_id}"): None,
        ("POST", "/segments/{segment_id}/refresh"): None,
        ("POST", "/segments/{segment_id}/duplicate"): None,
        ("GET", "/segments/{segment_id}/members"): None,
        ("GET", "/segments/{segment_id}/members/export"): None,
        ("POST", "/segments/{segment_id}/members"): fan_ids,
        ("POST", "/segments/{segment_id}/members/remove"): fan_ids,
        ("POST", "/segments/{segment_id}/members/emails"): {"emails": ["owner@example.com"]},
        ("POST", "/segments/{segment_id}/members/import"): {FILES: {"file": ("m.csv", b"email\nowner@example.com\n")}},
        ("GET", "/messages/{message_id}"): None,
        ("PATCH", "/messages/{message_id}"): {"name": "Stolen"},
        ("GET", "/messages/{message_id}/audience"): None,
        ("GET", "/messages/{message_id}/preview"): None,
        ("POST", "/messages/{message_id}/send"): None,
        ("POST", "/messages/{message_id}/cancel"): None,
        ("POST", "/messages/{message_id}/unschedule"): None,
        ("GET", "/messages/{message_id}/recipients"): None,
        ("GET", "/messages/{message_id}/stats"): None,
        ("POST", "/messages/{message_id}/test"): {"email": "me@example.com"},
        ("GET", "/mail/outbox/{mail_id}/raw"): None,
        ("DELETE", "/exchange-rates/{rate_id}"): None,
    }


def _shape(body: Any, object_id: int) -> Any:
    """The body with the id it names blanked out, so bodies about different ids compare equal when alike."""
    return {key: str(value).replace(str(object_id), "{id}") for key, value in body.items()}


def test_other_workspaces_ids_answer_like_missing_ids(
    app: FastAPI, client: TestClient, headers: dict[str, str], other_headers: dict[str, str], now: datetime
) -> None:
    theirs = _seed(client, other_headers, app, now)
    mine = _seed(client, headers, app, now)
    bodies = _bodies(mine["fan_id"])

    routes = {(method, path.removeprefix(API)) for method, path in routes_with_ids(app)} - NOT_OBJECTS
    assert routes, "found no routes with path parameters: is the enumeration broken?"
    unwalked = routes - bodies.keys()
    assert not unwalked, f"routes with ids not covered by the isolation walk (add them to _bodies): {unwalked}"

    for method, path in sorted(routes):
        names = PARAMETER.findall(path)
        assert len(names) == 1, f"{path}: teach the walk about several ids"
        (name,) = names
        body = bodies[(method, path)]
        answers = {}
        for label, object_id in (("theirs", theirs[name]), ("missing", MAX_ID)):
            url = API + path.replace("{" + name + "}", str(object_id))
            if body is not None and FILES in body:
                response = client.request(method, url, files=body[FILES], headers=headers)
            elif body is not None and QUERY in body:
                response = client.request(method, f"{url}?{body[QUERY]}", headers=headers)
            else:
                response = client.request(method, url, json=body, headers=headers)
            answers[label] = (response.status_code, _shape(response.json(), object_id))
        assert answers["theirs"][0] == 404, f"{method} {path}: {answers['theirs']}"
        assert answers["theirs"] == answers["missing"], f"{method} {path}: {answers}"

    # Nothing of theirs was changed by all that: the owner still sees every object as it was.
    assert client.get(f"{API}/tags/{theirs['tag_id']}", headers=other_headers).json()["name"] == "VIP"
    assert client.get(f"{API}/tags/{theirs['tag_id']}", headers=other_headers).json()["fan_count"] == 1
    assert client.get(f"{API}/lists/{theirs['list_id']}", headers=other_headers).json()["subscribed"] == 1
    assert client.get(f"{API}/orders/{theirs['order_id']}", headers=other_headers).json()["status"] == "completed"
    assert client.get(f"{API}/fans/{theirs['fan_id']}", headers=other_headers).json()["first_name"] is None
    segment = client.get(f"{API}/segments/{theirs['segment_id']}", headers=other_headers).json()
    assert (segment["name"], segment["size"]) == ("Press", 1)
    assert client.get(f"{API}/webhooks/{theirs['webhook_id']}", headers=other_headers).json()["disabled_at"] is None
    keys = client.get(f"{API}/api-keys", headers=other_headers).json()
    assert all(key["revoked_at"] is None for key in keys)
    [rate] = client.get(f"{API}/exchange-rates", headers=other_headers).json()
    assert (rate["id"], rate["currency"], rate["rate"]) == (theirs["rate_id"], "EUR", "1.1")


def test_other_workspaces_fan_ids_in_bodies_are_not_found(
    app: FastAPI, client: TestClient, headers: dict[str, str], other_headers: dict[str, str], now: datetime
) -> None:
    theirs = _seed(client, other_headers, app, now)
    mine = _seed(client, headers, app, now)
    foreign = {"fan_ids": [theirs["fan_id"]]}
    for url, body in (
        (f"{API}/tags/{mine['tag_id']}/fans", foreign),
        (f"{API}/tags/{mine['tag_id']}/fans/remove", foreign),
        (f"{API}/lists/{mine['list_id']}/subscriptions", foreign),
        (f"{API}/lists/{mine['list_id']}/members/remove", foreign),
        (f"{API}/orders", {"fan_id": theirs["fan_id"], "amount": "1", "category": "merch"}),
        (f"{API}/events", {"fan_id": theirs["fan_id"], "type": "page_viewed"}),
        (f"{API}/orders/batch", {"items": [{"fan_id": theirs["fan_id"], "amount": "1", "category": "merch"}]}),
        (f"{API}/events/batch", {"items": [{"fan_id": theirs["fan_id"], "type": "page_viewed"}]}),
    ):
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 404, f"{url}: {response.text}"
        assert "fan_id" in response.json()["field"]
    their_events = client.get(f"{API}/fans/{theirs['fan_id']}/events", headers=other_headers).json()
    # The seed's own event, the message_sent of the seed's message and the lifecycle move its order made (new
    # workspaces have lifecycle_from_purchases on): nothing was added by the refused calls.
    assert sorted(event["type"] for event in their_events) == ["lifecycle_changed", "message_sent", "page_viewed"]
