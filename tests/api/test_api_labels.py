"""Tags and lists over HTTP: CRUD, bulk attach/detach, subscriptions with consent, members by status."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

API = "/api/v1"


def _fans(client: TestClient, headers: dict[str, str], *emails: str) -> list[int]:
    ids = []
    for email in emails:
        response = client.post(f"{API}/fans", json={"email": email}, headers=headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _emails(page: dict[str, Any]) -> set[str]:
    return {fan["email"] for fan in page["items"]}


def test_tag_crud(client: TestClient, headers: dict[str, str]) -> None:
    created = client.post(f"{API}/tags", json={"name": "VIP", "color": "#aa00ff"}, headers=headers)
    assert created.status_code == 201, created.text
    tag = created.json()
    assert tag["name"] == "VIP" and tag["fan_count"] == 0

    assert client.get(f"{API}/tags/{tag['id']}", headers=headers).json() == tag
    assert [t["name"] for t in client.get(f"{API}/tags", headers=headers).json()] == ["VIP"]

    patched = client.patch(f"{API}/tags/{tag['id']}", json={"description": "front row"}, headers=headers)
    assert patched.status_code == 200
    assert patched.json()["description"] == "front row" and patched.json()["color"] == "#aa00ff"

    assert client.delete(f"{API}/tags/{tag['id']}", headers=headers).status_code == 204
    missing = client.get(f"{API}/tags/{tag['id']}", headers=headers)
    assert missing.status_code == 404
    assert missing.json() == {"detail": f"tag {tag['id']} not found"}
    assert client.delete(f"{API}/tags/{tag['id']}", headers=headers).status_code == 404


def test_duplicate_tag_names_conflict_whatever_the_case(client: TestClient, headers: dict[str, str]) -> None:
    first = client.post(f"{API}/tags", json={"name": "VIP"}, headers=headers).json()
    duplicate = client.post(f"{API}/tags", json={"name": "vip"}, headers=headers)
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "name"
    other = client.post(f"{API}/tags", json={"name": "Crew"}, headers=headers).json()
    renamed = client.patch(f"{API}/tags/{other['id']}", json={"name": "Vip"}, headers=headers)
    assert renamed.status_code == 409
    assert client.get(f"{API}/tags/{first['id']}", headers=headers).json()["name"] == "VIP"


def test_tag_validation_names_the_field(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(f"{API}/tags", json={"name": "VIP", "color": "purple"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "color"
    tag = client.post(f"{API}/tags", json={"name": "VIP"}, headers=headers).json()
    nulled = client.patch(f"{API}/tags/{tag['id']}", json={"name": None}, headers=headers)
    assert nulled.status_code == 422
    assert nulled.json()["field"] == "name"
    extra = client.post(f"{API}/tags", json={"name": "x", "colour": "#000000"}, headers=headers)
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["field"] == "colour"


def test_tagging_fans_in_bulk(client: TestClient, headers: dict[str, str]) -> None:
    ada, bob, cy = _fans(client, headers, "ada@example.com", "bob@example.com", "cy@example.com")
    tag = client.post(f"{API}/tags", json={"name": "VIP"}, headers=headers).json()

    added = client.post(f"{API}/tags/{tag['id']}/fans", json={"fan_ids": [ada, bob]}, headers=headers)
    assert added.status_code == 200
    assert added.json() == {"changed": 2}
    again = client.post(f"{API}/tags/{tag['id']}/fans", json={"fan_ids": [ada, bob, cy]}, headers=headers)
    assert again.json() == {"changed": 1}

    page = client.get(f"{API}/tags/{tag['id']}/fans", params={"page_size": 2}, headers=headers).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["page_size"] == 2
    assert client.get(f"{API}/tags/{tag['id']}", headers=headers).json()["fan_count"] == 3

    removed = client.post(f"{API}/tags/{tag['id']}/fans/remove", json={"fan_ids": [bob]}, headers=headers)
    assert removed.json() == {"changed": 1}
    assert _emails(client.get(f"{API}/tags/{tag['id']}/fans", headers=headers).json()) == {
        "ada@example.com",
        "cy@example.com",
    }
    assert client.get(f"{API}/fans/{ada}", headers=headers).json()["tags"] == ["VIP"]


def test_tagging_unknown_fans_is_refused_whole(client: TestClient, headers: dict[str, str]) -> None:
    (ada,) = _fans(client, headers, "ada@example.com")
    tag = client.post(f"{API}/tags", json={"name": "VIP"}, headers=headers).json()
    response = client.post(f"{API}/tags/{tag['id']}/fans", json={"fan_ids": [ada, 2**62]}, headers=headers)
    assert response.status_code == 404
    assert response.json()["field"] == "fan_ids"
    assert client.get(f"{API}/tags/{tag['id']}", headers=headers).json()["fan_count"] == 0
    empty = client.post(f"{API}/tags/{tag['id']}/fans", json={"fan_ids": []}, headers=headers)
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "fan_ids"


def test_list_crud(client: TestClient, headers: dict[str, str]) -> None:
    created = client.post(f"{API}/lists", json={"name": "Fan Club"}, headers=headers)
    assert created.status_code == 201, created.text
    fan_list = created.json()
    assert fan_list["subscribed"] == 0
    assert client.get(f"{API}/lists/{fan_list['id']}", headers=headers).json() == fan_list
    assert [item["name"] for item in client.get(f"{API}/lists", headers=headers).json()] == ["Fan Club"]
    patched = client.patch(f"{API}/lists/{fan_list['id']}", json={"description": "monthly"}, headers=headers)
    assert patched.json()["description"] == "monthly"
    assert client.post(f"{API}/lists", json={"name": "fan club"}, headers=headers).status_code == 409
    assert client.delete(f"{API}/lists/{fan_list['id']}", headers=headers).status_code == 204
    assert client.get(f"{API}/lists/{fan_list['id']}", headers=headers).status_code == 404


def test_subscriptions_with_consent_and_members_by_status(client: TestClient, headers: dict[str, str]) -> None:
    ada, bob, cy = _fans(client, headers, "ada@example.com", "bob@example.com", "cy@example.com")
    fan_list = client.post(f"{API}/lists", json={"name": "Fan Club"}, headers=headers).json()
    url = f"{API}/lists/{fan_list['id']}"

    subscribed = client.post(
        f"{url}/subscriptions",
        json={"fan_ids": [ada, bob, cy], "consent_source": "signup form", "consent_at": "2026-05-01T09:00:00Z"},
        headers=headers,
    )
    assert subscribed.status_code == 200, subscribed.text
    assert subscribed.json() == {"changed": 3}
    assert (
        client.post(f"{url}/subscriptions", json={"fan_ids": [bob], "status": "unsubscribed"}, headers=headers).json()[
            "changed"
        ]
        == 1
    )
    client.post(f"{url}/subscriptions", json={"fan_ids": [cy], "status": "bounced"}, headers=headers)

    assert _emails(client.get(f"{url}/members", headers=headers).json()) == {"ada@example.com"}
    unsubscribed = client.get(f"{url}/members", params={"status": "unsubscribed"}, headers=headers).json()
    assert _emails(unsubscribed) == {"bob@example.com"}
    counts = client.get(url, headers=headers).json()
    assert (counts["subscribed"], counts["unsubscribed"], counts["bounced"]) == (1, 1, 1)

    memberships = client.get(f"{API}/fans/{ada}/lists", headers=headers).json()
    assert memberships[0]["consent_source"] == "signup form"
    assert memberships[0]["consent_at"].startswith("2026-05-01T09:00:00")

    removed = client.post(f"{url}/members/remove", json={"fan_ids": [ada, bob]}, headers=headers)
    assert removed.json() == {"changed": 2}
    assert client.get(f"{url}/members", headers=headers).json()["total"] == 0

    bad_status = client.get(f"{url}/members", params={"status": "maybe"}, headers=headers)
    assert bad_status.status_code == 422
    assert bad_status.json()["errors"][0]["field"] == "status"
    bad_consent = client.post(
        f"{url}/subscriptions", json={"fan_ids": [ada], "consent_at": "2026-05-01T09:00:00"}, headers=headers
    )
    assert bad_consent.status_code == 422
    assert bad_consent.json()["errors"][0]["field"] == "consent_at"


def test_paging_is_bounded(client: TestClient, headers: dict[str, str]) -> None:
    tag = client.post(f"{API}/tags", json={"name": "VIP"}, headers=headers).json()
    response = client.get(f"{API}/tags/{tag['id']}/fans", params={"page_size": 10_000}, headers=headers)
    assert response.status_code == 422
    assert response.json()["field"] == "page_size"
