"""Messages over HTTP: compose, audience, preview, send into the local outbox, recipients; and the links in a mail,
served without sign-in: unsubscribe by one-click POST and by the confirmation page, the open pixel and tracked
links feeding a live segment, and tampered tokens refused."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from fanbase.schemas.workspaces import WorkspaceCreated
from tests_support import deliver_mail
from tests_support import seed_message

API = "/api/v1"


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _links(raw: bytes) -> dict[str, str]:
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    content = html.get_content()
    found = {
        "unsubscribe": re.search(r"<(https://[^>]+)>", str(mail["List-Unsubscribe"])),
        "pixel": re.search(r'src="(https://fans\.example\.com/t/o/[^"]+)"', content),
        "click": re.search(r'href="(https://fans\.example\.com/t/c/[^"]+)"', content),
    }
    return {name: urlsplit(match.group(1)).path for name, match in found.items() if match}


def test_compose_see_the_audience_preview_send_and_read_the_outbox(
    app: FastAPI, client: TestClient, headers: dict[str, str], workspace: WorkspaceCreated, now: datetime
) -> None:
    seeded = seed_message(client, headers)
    message_id = seeded["message"]["id"]
    assert seeded["message"]["status"] == "draft"
    audience = client.get(f"{API}/messages/{message_id}/audience", headers=headers).json()
    assert (audience["total"], audience["reachable"]) == (3, 3)
    preview = client.get(
        f"{API}/messages/{message_id}/preview", params={"fan_id": seeded["fan_ids"][0]}, headers=headers
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["subject"] == "Hi F0"
    assert "tickets.example.com/tour" in preview.json()["html"]
    assert client.get(f"{API}/messages/{message_id}/preview", headers=headers).json()["subject"] == "Hi friend"

    sent = client.post(f"{API}/messages/{message_id}/send", headers=headers)
    assert sent.status_code == 200, sent.text
    assert (sent.json()["status"], sent.json()["recipients"]) == ("sending", 3)
    again = client.post(f"{API}/messages/{message_id}/send", headers=headers)
    assert again.status_code == 409
    deliver_mail(app.state.fanbase.database, workspace.workspace.id, now)
    assert client.get(f"{API}/messages/{message_id}", headers=headers).json()["status"] == "sent"
    recipients = client.get(f"{API}/messages/{message_id}/recipients", headers=headers).json()
    assert recipients["total"] == 3 and {item["state"] for item in recipients["items"]} == {"sent"}
    outbox = client.get(f"{API}/mail/outbox", params={"message_id": message_id}, headers=headers).json()
    assert outbox["total"] == 3
    raw = client.get(f"{API}/mail/outbox/{outbox['items'][0]['id']}/raw", headers=headers)
    assert raw.headers["content-type"].startswith("message/rfc822")
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw.content
    # A fan's data export lists the mail they were sent; erasing them leaves no copy of it behind.
    fan_id = seeded["fan_ids"][0]
    exported = client.get(f"{API}/fans/{fan_id}/export", headers=headers).json()
    assert [(m["message_id"], m["state"], m["email"]) for m in exported["mail"]] == [
        (message_id, "sent", "fan0@example.com")
    ]
    assert client.delete(f"{API}/fans/{fan_id}", headers=headers).status_code == 204
    left = client.get(f"{API}/mail/outbox", params={"message_id": message_id}, headers=headers).json()
    assert left["total"] == 2 and "fan0@example.com" not in {item["to_address"] for item in left["items"]}
    assert client.get(f"{API}/messages/{message_id}/recipients", headers=headers).json()["total"] == 2


def test_bad_messages_are_refused_naming_the_field(client: TestClient, headers: dict[str, str]) -> None:
    seeded = seed_message(client, headers, fans=1)
    for body, field in (
        ({"name": "x", "subject": "s", "body": "Hi {{ frist_name }}"}, "body"),
        ({"name": "x", "subject": "{% for x in y %}{% endfor %}", "body": "b"}, "subject"),
        ({"name": "x", "subject": "s", "body": "b", "segment_ids": [1, 1], "excluded_segment_ids": [1]}, None),
        ({"name": "x", "subject": "s", "body": "b", "list_id": 999_999_999}, "list_id"),
    ):
        response = client.post(f"{API}/messages", json=body, headers=headers)
        assert response.status_code in (404, 422), response.text
        if field is not None:
            assert response.json()["field"] == field, response.text
    scheduled = client.post(
        f"{API}/messages/{seeded['message']['id']}/send", json={"at": "2030-01-01T09:00:00"}, headers=headers
    )
    assert scheduled.status_code == 422 and "timezone" in scheduled.text, scheduled.text


def test_schedule_then_cancel(client: TestClient, headers: dict[str, str]) -> None:
    message_id = seed_message(client, headers, fans=1)["message"]["id"]
    scheduled = client.post(f"{API}/messages/{message_id}/send", json={"at": "2030-01-01T09:00:00Z"}, headers=headers)
    assert scheduled.json()["status"] == "scheduled"
    assert scheduled.json()["send_at"].startswith("2030-01-01T09:00:00")
    draft = client.post(f"{API}/messages/{message_id}/unschedule", headers=headers).json()
    assert (draft["status"], draft["send_at"]) == ("draft", None)
    assert client.post(f"{API}/messages/{message_id}/unschedule", headers=headers).status_code == 409
    client.post(f"{API}/messages/{message_id}/send", json={"at": "2030-01-01T09:00:00Z"}, headers=headers)
    assert client.post(f"{API}/messages/{message_id}/cancel", headers=headers).json()["status"] == "cancelled"
    assert client.post(f"{API}/messages/{message_id}/cancel", headers=headers).status_code == 409


def test_one_click_unsubscribe_and_the_confirmation_page(
    app: FastAPI, client: TestClient, headers: dict[str, str], workspace: WorkspaceCreated, now: datetime
) -> None:
    seeded = seed_message(client, headers, fans=2)
    message_id = seeded["message"]["id"]
    client.post(f"{API}/messages/{message_id}/send", headers=headers)
    deliver_mail(app.state.fanbase.database, workspace.workspace.id, now)
    items = client.get(f"{API}/mail/outbox", params={"message_id": message_id}, headers=headers).json()["items"]
    by_address = {
        item["to_address"]: _links(client.get(f"{API}/mail/outbox/{item['id']}/raw", headers=headers).content)
        for item in items
    }
    one_click, by_page = by_address["fan0@example.com"]["unsubscribe"], by_address["fan1@example.com"]["unsubscribe"]

    # RFC 8058: the mail client's POST, no sign-in, no page.
    answer = client.post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and answer.content == b""
    # A person: GET shows a page and changes nothing; its button posts the form.
    page = client.get(by_page)
    assert page.status_code == 200 and "fan1@example.com" in page.text and "Newsletter" in page.text
    still = client.get(f"{API}/fans/{seeded['fan_ids'][1]}/lists", headers=headers).json()
    assert [entry["status"] for entry in still] == ["subscribed"]
    done = client.post(by_page, data={"confirm": "yes"})
    assert done.status_code == 200 and "unsubscribed" in done.text
    for fan_id in seeded["fan_ids"]:
        lists = client.get(f"{API}/fans/{fan_id}/lists", headers=headers).json()
        assert [entry["status"] for entry in lists] == ["unsubscribed"], lists
    # Twice changes nothing more; a tampered token is refused, with a page (GET) or a bare 400 (one-click).
    assert client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.get(f"{API}/messages/{message_id}/stats", headers=headers).json()["unsubscribed"] == 2
    tampered = one_click[:-3] + ("aaa" if not one_click.endswith("aaa") else "bbb")
    assert client.get(tampered).status_code == 400
    assert client.post(tampered, data={"List-Unsubscribe": "One-Click"}).status_code == 400
    # The next message's audience counts them as unsubscribed.
    second = client.post(
        f"{API}/messages",
        json={
            "name": "Next",
            "subject": "s",
            "body": "b",
            "segment_ids": [seeded["segment_id"]],
            "list_id": seeded["list_id"],
        },
        headers=headers,
    ).json()
    audience = client.get(f"{API}/messages/{second['id']}/audience", headers=headers).json()
    assert audience["unreachable"] == {"unsubscribed": 2}


def test_opens_and_clicks_become_events_that_segments_follow(
    app: FastAPI, client: TestClient, headers: dict[str, str], workspace: WorkspaceCreated, now: datetime
) -> None:
    seeded = seed_message(client, headers, fans=1)
    message_id = seeded["message"]["id"]
    engaged = _created(
        client.post(
            f"{API}/segments",
            json={
                "name": "Opened the tour mail",
                "kind": "dynamic",
                "rule_text": f'count(events where type = "email_opened" and properties.message_id = {message_id}) >= 1',
            },
            headers=headers,
        )
    )
    assert engaged["size"] == 0
    client.post(f"{API}/messages/{message_id}/send", headers=headers)
    deliver_mail(app.state.fanbase.database, workspace.workspace.id, now)
    [item] = client.get(f"{API}/mail/outbox", params={"message_id": message_id}, headers=headers).json()["items"]
    links = _links(client.get(f"{API}/mail/outbox/{item['id']}/raw", headers=headers).content)

    pixel = client.get(links["pixel"])
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    assert client.get(f"{API}/segments/{engaged['id']}", headers=headers).json()["size"] == 1
    click = client.get(links["click"], follow_redirects=False)
    assert click.status_code == 302 and click.headers["location"] == "https://tickets.example.com/tour"
    events = client.get(f"{API}/fans/{seeded['fan_ids'][0]}/events", headers=headers).json()
    kinds = {(event["type"], event["properties"].get("url")) for event in events}
    assert kinds == {
        ("message_sent", None),
        ("email_opened", None),
        ("link_clicked", "https://tickets.example.com/tour"),
    }
    # No open redirect: a token is only good for the URL signed into it.
    assert client.get(links["click"] + "x", follow_redirects=False).status_code == 400
    # A bad pixel token still answers the image (a mail never shows a broken one) and records nothing.
    assert client.get("/t/o/1.nonsense.gif").status_code == 200
    assert len(client.get(f"{API}/fans/{seeded['fan_ids'][0]}/events", headers=headers).json()) == 3
    # Opened twice counts one recipient; the day's figures count each open.
    client.get(links["pixel"])
    stats = client.get(f"{API}/messages/{message_id}/stats", headers=headers).json()
    assert (stats["recipients"], stats["sent"], stats["opened"], stats["clicked"], stats["unsubscribed"]) == (
        1,
        1,
        1,
        1,
        0,
    )
    assert stats["by_day"] == [{"day": "2026-06-01", "opened": 2, "clicked": 1}]
    received = client.get(f"{API}/mail/received", params={"segment_id": seeded["segment_id"]}, headers=headers).json()
    assert received == [{"segment_id": seeded["segment_id"], "received": 1}]


def test_a_test_send_goes_to_the_outbox_marked_and_counts_for_nothing(
    client: TestClient, headers: dict[str, str]
) -> None:
    seeded = seed_message(client, headers, fans=1)
    message_id = seeded["message"]["id"]
    sent = client.post(
        f"{API}/messages/{message_id}/test",
        json={"email": "me@example.com", "fan_id": seeded["fan_ids"][0]},
        headers=headers,
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["via"] == "outbox"
    [item] = client.get(f"{API}/mail/outbox", params={"message_id": message_id}, headers=headers).json()["items"]
    assert (item["to_address"], item["subject"], item["recipient_id"]) == ("me@example.com", "[Test] Hi F0", None)
    message = client.get(f"{API}/messages/{message_id}", headers=headers).json()
    assert (message["status"], message["recipients"]) == ("draft", 0)
    refused = client.post(f"{API}/messages/{message_id}/test", json={"email": "not an address"}, headers=headers)
    assert refused.status_code == 422


def test_with_tracking_off_mail_has_no_pixel_and_links_lead_straight_on(
    app: FastAPI, client: TestClient, headers: dict[str, str], workspace: WorkspaceCreated, now: datetime
) -> None:
    settings = client.patch(f"{API}/mail/settings", json={"tracking": False}, headers=headers)
    assert settings.status_code == 200 and settings.json()["tracking"] is False
    seeded = seed_message(client, headers, fans=1)
    client.post(f"{API}/messages/{seeded['message']['id']}/send", headers=headers)
    deliver_mail(app.state.fanbase.database, workspace.workspace.id, now)
    [item] = client.get(f"{API}/mail/outbox", headers=headers).json()["items"]
    raw = client.get(f"{API}/mail/outbox/{item['id']}/raw", headers=headers).content
    links = _links(raw)
    assert "pixel" not in links and "click" not in links
    assert "unsubscribe" in links
    html = email.message_from_bytes(raw, policy=email.policy.default).get_body(preferencelist=("html",))
    assert html is not None and 'href="https://tickets.example.com/tour"' in html.get_content()
    refused = client.patch(f"{API}/mail/settings", json={"send_rate": 0}, headers=headers)
    assert refused.status_code == 422 and refused.json()["field"] == "send_rate"
