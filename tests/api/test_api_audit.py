"""The audit log (issue 15): keys, users, sign-ins, exports, erasures, webhook changes and segment deletions are
recorded with who (the key's prefix, the user, the command line), from where, what and to what; read newest first
through GET /audit, filtered by action; old entries are forgotten after the retention."""

from __future__ import annotations

import uuid
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fanbase.db.engine import Database
from fanbase.errors import Unauthorized
from fanbase.jobs.scheduler import Scheduler
from fanbase.schemas.audit import Actor
from fanbase.schemas.workspaces import WorkspaceCreated
from fanbase.services import audit
from fanbase.services import users

API = "/api/v1"


def _entries(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"{API}/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_what_changes_access_or_takes_data_out_is_recorded(
    client: TestClient, headers: dict[str, str], workspace: WorkspaceCreated, database: Database, now: datetime
) -> None:
    prefix = workspace.api_key.prefix
    key = client.post(f"{API}/api-keys", json={"name": "ci"}, headers=headers).json()
    assert client.delete(f"{API}/api-keys/{key['id']}", headers=headers).status_code == 204
    fan = client.post(f"{API}/fans", json={"email": "gone@example.com"}, headers=headers).json()
    assert client.get(f"{API}/fans/export", headers=headers).status_code == 200
    segment = client.post(f"{API}/segments", json={"name": "Press", "kind": "static"}, headers=headers).json()
    assert client.get(f"{API}/segments/{segment['id']}/members/export", headers=headers).status_code == 200
    assert client.delete(f"{API}/segments/{segment['id']}", headers=headers).status_code == 204
    assert client.delete(f"{API}/fans/{fan['id']}", headers=headers).status_code == 204
    email = f"audit-{uuid.uuid4().hex[:6]}@example.com"
    users.create_user(database, workspace.workspace.id, email=email, password="a long enough password", now=now)
    users.sign_in(database, email=email, password="a long enough password", now=now, client="203.0.113.9")
    with pytest.raises(Unauthorized):
        users.sign_in(database, email=email, password="not the password", now=now, client="203.0.113.9")

    entries = _entries(client, headers, page_size=50)
    by_action = {entry["action"]: entry for entry in entries}
    assert set(by_action) >= {
        "api_key.created",
        "api_key.revoked",
        "export.fans",
        "export.members",
        "segment.deleted",
        "fan.erased",
        "sign_in.succeeded",
        "sign_in.failed",
    }
    created = by_action["api_key.created"]
    assert created["actor"] == f"API key {prefix}"
    assert created["target"] == f"API key {key['prefix']} (ci)"
    assert created["client"] and created["client"].startswith("client-")  # the test client's address
    assert by_action["fan.erased"]["target"] == f"fan {fan['id']}"
    assert by_action["segment.deleted"]["target"] == f"segment {segment['id']} (Press)"
    assert by_action["export.members"]["target"] == f"segment {segment['id']}"
    assert by_action["export.fans"]["details"] == {"format": "csv"}
    assert by_action["sign_in.failed"]["actor"] == f"user {email}"
    assert by_action["sign_in.failed"]["client"] == "203.0.113.9"
    # Newest first, and filtered by action.
    assert [entry["id"] for entry in entries] == sorted((entry["id"] for entry in entries), reverse=True)
    assert [entry["action"] for entry in _entries(client, headers, action="fan.erased")] == ["fan.erased"]
    assert client.get(f"{API}/audit", params={"action": "made.up"}, headers=headers).status_code == 422


def test_another_workspace_sees_none_of_it(
    client: TestClient, headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    client.post(f"{API}/api-keys", json={"name": "mine"}, headers=headers)
    assert _entries(client, other_headers) == []


def test_entries_are_forgotten_after_the_retention(
    database: Database, workspace: WorkspaceCreated, now: datetime, tmp_path: Path
) -> None:
    actor = Actor(kind="command_line", name="ops")
    with database.transaction(workspace_id=workspace.workspace.id) as connection:
        audit.record(connection, workspace.workspace.id, actor, "export.fans", now=now - timedelta(days=400))
        audit.record(connection, workspace.workspace.id, actor, "export.fans", now=now - timedelta(days=10))
    Scheduler(database, clock=lambda: now).run_once()
    page = audit.entries(database, workspace.workspace.id, page=1, page_size=10)
    assert page.total == 1 and page.items[0].actor == "command line ops"
