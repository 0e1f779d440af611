"""Privacy and expiry (issue 15, point 8): Idempotency-Key replies are kept for a while (24 h by default), not
forever; erasing a fan also forgets the stored replies that named them."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy import select

from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.db.tables import idempotency_keys
from fanbase.jobs.scheduler import Scheduler
from fanbase.schemas.workspaces import WorkspaceCreated
from fanbase.settings import Settings
from tests_support import api_client

API = "/api/v1"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _order(email: str, amount: str = "25.00") -> dict[str, Any]:
    return {"email": email, "amount": amount, "category": "merch"}


def _replies(database: Database, workspace_id: int) -> int:
    with database.transaction(write=False) as connection:
        return int(
            connection.execute(select(func.count()).where(idempotency_keys.c.workspace_id == workspace_id)).scalar_one()
        )


def test_an_idempotency_key_is_remembered_for_its_ttl_then_is_a_new_request(
    database: Database, workspace: WorkspaceCreated, tmp_path: Path, now: datetime
) -> None:
    clock = Clock(now)
    settings = Settings(data_dir=tmp_path, idempotency_ttl_hours=2)
    app = create_app(database=database, settings=settings, clock=clock, dashboard=False)
    headers = {"Authorization": f"Bearer {workspace.api_key.key}", "Idempotency-Key": "order-1"}
    with api_client(app) as client:
        first = client.post(f"{API}/orders", json=_order("ttl@example.com"), headers=headers)
        clock.now = now + timedelta(hours=1)
        replay = client.post(f"{API}/orders", json=_order("ttl@example.com"), headers=headers)
        assert replay.headers.get("idempotency-replayed") == "true" and replay.json() == first.json()
        assert client.post(f"{API}/orders", json=_order("ttl@example.com", "5"), headers=headers).status_code == 409
        clock.now = now + timedelta(hours=2, seconds=1)
        again = client.post(f"{API}/orders", json=_order("ttl@example.com", "5"), headers=headers)
        assert again.status_code == 201 and "idempotency-replayed" not in again.headers
        assert again.json()["id"] != first.json()["id"]


def test_the_scheduler_forgets_expired_replies(database: Database, workspace: WorkspaceCreated, now: datetime) -> None:
    app = create_app(database=database, settings=Settings(), clock=lambda: now, dashboard=False)
    headers = {"Authorization": f"Bearer {workspace.api_key.key}", "Idempotency-Key": "kept-a-day"}
    with api_client(app) as client:
        assert client.post(f"{API}/orders", json=_order("kept@example.com"), headers=headers).status_code == 201
    workspace_id = workspace.workspace.id
    Scheduler(database, clock=lambda: now + timedelta(hours=23)).run_once()
    assert _replies(database, workspace_id) == 1
    Scheduler(database, clock=lambda: now + timedelta(hours=25)).run_once()
    assert _replies(database, workspace_id) == 0


def test_erasing_a_fan_forgets_the_replies_that_named_them(
    database: Database, workspace: WorkspaceCreated, now: datetime
) -> None:
    app = create_app(database=database, settings=Settings(), clock=lambda: now, dashboard=False)
    auth = {"Authorization": f"Bearer {workspace.api_key.key}"}
    with api_client(app) as client:
        erased = client.post(
            f"{API}/orders", json=_order("erase.me@example.com"), headers={**auth, "Idempotency-Key": "a"}
        )
        kept = client.post(f"{API}/orders", json=_order("stays@example.com"), headers={**auth, "Idempotency-Key": "b"})
        event = {"email": "erase.me@example.com", "type": "gig_attended"}
        assert client.post(f"{API}/events", json=event, headers={**auth, "Idempotency-Key": "c"}).status_code == 201
        assert _replies(database, workspace.workspace.id) == 3
        assert client.delete(f"{API}/fans/{erased.json()['fan_id']}", headers=auth).status_code == 204
        assert _replies(database, workspace.workspace.id) == 1  # only the other fan's
        replay = client.post(
            f"{API}/orders", json=_order("stays@example.com"), headers={**auth, "Idempotency-Key": "b"}
        )
        assert replay.json() == kept.json()


def test_a_fans_data_is_exported_whole_in_one_document(
    database: Database, workspace: WorkspaceCreated, now: datetime
) -> None:
    app = create_app(database=database, settings=Settings(), clock=lambda: now, dashboard=False)
    auth = {"Authorization": f"Bearer {workspace.api_key.key}"}
    with api_client(app) as client:
        fan = client.post(
            f"{API}/fans", json={"email": "subject@example.com", "first_name": "Sam", "tags": ["VIP"]}, headers=auth
        ).json()
        for amount in ("10", "20", "30"):
            client.post(f"{API}/orders", json=_order("subject@example.com", amount), headers=auth)
        client.post(f"{API}/events", json={"email": "subject@example.com", "type": "gig_attended"}, headers=auth)
        client.post(f"{API}/segments", json={"name": "Buyers", "rule_text": "purchase_count >= 1"}, headers=auth)
        client.post(f"{API}/fans", json={"email": "someone.else@example.com"}, headers=auth)

        response = client.get(f"{API}/fans/{fan['id']}/export", headers=auth)
        assert response.status_code == 200, response.text
        document = response.json()
        assert document["fan"]["email"] == "subject@example.com" and document["fan"]["tags"] == ["VIP"]
        assert sorted(order["amount"] for order in document["orders"]) == ["10.00", "20.00", "30.00"]
        assert [event["type"] for event in document["events"]] == ["gig_attended"]
        assert [segment["segment_name"] for segment in document["segments"]] == ["Buyers"]
        assert [(line["segment_name"], line["entered"]) for line in document["segment_history"]] == [("Buyers", True)]
        assert "someone.else@example.com" not in response.text
        audited = client.get(f"{API}/audit", params={"action": "export.fan"}, headers=auth).json()["items"]
        assert [entry["target"] for entry in audited] == [f"fan {fan['id']}"]
        assert client.get(f"{API}/fans/999999/export", headers=auth).status_code == 404
