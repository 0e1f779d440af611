"""/webhooks over HTTP: subscribe (secret shown once), list, get, disable, deliveries; refusals name the field.

Targets use a public IP literal (no DNS needed) so the default refusal of private addresses applies; nothing is
ever sent here (no worker runs), and each test's webhooks are disabled when it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.schemas.workspaces import WorkspaceCreated
from fanbase.services import webhooks
from fanbase.settings import Settings
from tests_support import api_client

API = "/api/v1"
PUBLIC = "https://93.184.215.14/hooks/fanbase"


@pytest.fixture(autouse=True)
def disable_webhooks_afterwards(database: Database, workspace: WorkspaceCreated, now: datetime) -> Iterator[None]:
    yield
    workspace_id = workspace.workspace.id
    for hook in webhooks.list_webhooks(database, workspace_id):
        webhooks.disable_webhook(database, workspace_id, hook.id, now=now)


def test_subscribe_list_get_disable_and_deliveries(client: TestClient, headers: dict[str, str]) -> None:
    created = client.post(
        f"{API}/webhooks",
        json={"url": PUBLIC, "events": ["tag.added", "segment.entered", "tag.added"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    assert len(hook["secret"]) >= 40
    assert hook["events"] == ["segment.entered", "tag.added"]  # canonical order, no repeats
    assert hook["disabled_at"] is None

    listed = client.get(f"{API}/webhooks", headers=headers).json()
    assert [item["id"] for item in listed] == [hook["id"]]
    assert "secret" not in listed[0]  # shown once, at creation
    fetched = client.get(f"{API}/webhooks/{hook['id']}", headers=headers).json()
    assert fetched == {key: value for key, value in hook.items() if key != "secret"}

    # A write the webhook wants is queued, in the same request.
    fan = client.post(f"{API}/fans", json={"email": "ada@example.com"}, headers=headers).json()
    tag = client.post(f"{API}/tags", json={"name": "VIP"}, headers=headers).json()
    client.post(f"{API}/tags/{tag['id']}/fans", json={"fan_ids": [fan["id"]]}, headers=headers)
    client.post(f"{API}/tags/{tag['id']}/fans/remove", json={"fan_ids": [fan["id"]]}, headers=headers)  # not wanted
    page = client.get(f"{API}/webhooks/{hook['id']}/deliveries", headers=headers).json()
    assert page["total"] == 1
    (delivery,) = page["items"]
    assert delivery["type"] == "tag.added" and delivery["event_id"].startswith("tag-")
    assert delivery["status"] == "pending" and delivery["attempts"] == 0 and delivery["next_attempt_at"]

    assert client.delete(f"{API}/webhooks/{hook['id']}", headers=headers).status_code == 204
    disabled = client.get(f"{API}/webhooks/{hook['id']}", headers=headers).json()
    assert disabled["disabled_at"] is not None
    assert client.delete(f"{API}/webhooks/{hook['id']}", headers=headers).status_code == 204  # idempotent
    assert client.get(f"{API}/webhooks/{hook['id']}", headers=headers).json() == disabled
    # Disabled: later writes queue nothing for it; its history stays readable.
    client.post(f"{API}/tags/{tag['id']}/fans", json={"fan_ids": [fan["id"]]}, headers=headers)
    assert client.get(f"{API}/webhooks/{hook['id']}/deliveries", headers=headers).json()["total"] == 1


BAD_URLS = (
    "ftp://93.184.215.14/x",
    "https://user:pass@93.184.215.14/x",
    "https:///x",
    "not a url",
    "http://127.0.0.1:8080/x",
    "http://localhost/x",
    "http://10.0.0.7/x",
    "http://192.168.1.1/x",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/x",
    "http://[fd00::1]/x",
    "http://0.0.0.0/x",
    "http://224.0.0.1/x",
)


def test_bad_or_private_urls_are_refused_naming_url(client: TestClient, headers: dict[str, str]) -> None:
    for url in BAD_URLS:
        response = client.post(f"{API}/webhooks", json={"url": url, "events": ["tag.added"]}, headers=headers)
        assert response.status_code == 422, (url, response.text)
        body = response.json()
        fields = {body.get("field")} | {error["field"] for error in body.get("errors", [])}
        assert "url" in fields, (url, body)
    assert client.get(f"{API}/webhooks", headers=headers).json() == []


def test_bad_events_are_refused_naming_them(client: TestClient, headers: dict[str, str]) -> None:
    for events, field in (
        (["segment.joined"], "events[0]"),
        ([], "events"),
        (["tag.added", "fan.created"], "events[1]"),
        ("tag.added", "events"),
    ):
        response = client.post(f"{API}/webhooks", json={"url": PUBLIC, "events": events}, headers=headers)
        assert response.status_code == 422, response.text
        assert field in {error["field"] for error in response.json()["errors"]}, (events, response.json())


def test_private_targets_are_accepted_when_the_server_allows_them(
    database: Database, headers: dict[str, str], tmp_path: Path, now: datetime
) -> None:
    settings = Settings(data_dir=tmp_path, allow_private_webhook_targets=True)
    with api_client(create_app(database=database, settings=settings, clock=lambda: now)) as client:
        response = client.post(
            f"{API}/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["tag.added"]}, headers=headers
        )
    assert response.status_code == 201, response.text


def test_other_workspaces_webhooks_are_not_found(
    client: TestClient, headers: dict[str, str], other_headers: dict[str, str], database: Database, now: datetime
) -> None:
    theirs = client.post(f"{API}/webhooks", json={"url": PUBLIC, "events": ["tag.added"]}, headers=other_headers)
    hook_id = theirs.json()["id"]
    try:
        assert client.get(f"{API}/webhooks", headers=headers).json() == []
        for method, path in (
            ("GET", f"/webhooks/{hook_id}"),
            ("DELETE", f"/webhooks/{hook_id}"),
            ("GET", f"/webhooks/{hook_id}/deliveries"),
        ):
            assert client.request(method, API + path, headers=headers).status_code == 404, path
        assert client.get(f"{API}/webhooks/{hook_id}", headers=other_headers).json()["disabled_at"] is None
    finally:
        client.delete(f"{API}/webhooks/{hook_id}", headers=other_headers)
