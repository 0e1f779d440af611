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
from fanbase.db.tables import suppressions
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
    with database.transaction(workspace_id=None, write=False) as connection:
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
        # The first purchase made the subscriber a customer (services.lifecycle): that move is theirs too.
        assert sorted(event["type"] for event in document["events"]) == ["gig_attended", "lifecycle_changed"]
        assert [segment["segment_name"] for segment in document["segments"]] == ["Buyers"]
        assert [(line["segment_name"], line["entered"]) for line in document["segment_history"]] == [("Buyers", True)]
        assert "someone.else@example.com" not in response.text
        audited = client.get(f"{API}/audit", params={"action": "export.fan"}, headers=auth).json()["items"]
        assert [entry["target"] for entry in audited] == [f"fan {fan['id']}"]
        assert client.get(f"{API}/fans/999999/export", headers=auth).status_code == 404


def test_an_erased_fans_email_is_suppressed_until_lifted(
    database: Database, workspace: WorkspaceCreated, now: datetime
) -> None:
    app = create_app(database=database, settings=Settings(), clock=lambda: now, dashboard=False)
    auth = {"Authorization": f"Bearer {workspace.api_key.key}"}
    email = "Erased.Person@Example.com"
    with api_client(app) as client:
        fan = client.post(f"{API}/fans", json={"email": email}, headers=auth).json()
        assert client.delete(f"{API}/fans/{fan['id']}", headers=auth).status_code == 204
        found = client.get(f"{API}/suppressions", params={"email": email}, headers=auth)
        assert found.status_code == 200
        assert found.json()["email"] == "erased.person@example.com" and found.json()["reason"] == "erased"
        # Only a hash is kept: the address is nowhere in the table.
        with database.transaction(workspace_id=None, write=False) as connection:
            rows = connection.execute(
                select(suppressions).where(suppressions.c.workspace_id == workspace.workspace.id)
            ).all()
        assert len(rows) == 1 and "erased.person" not in repr(rows)

        refused = client.post(f"{API}/fans", json={"email": email}, headers=auth)
        assert refused.status_code == 422 and refused.json()["field"] == "email"
        assert "is suppressed (the fan was erased at their request)" in refused.json()["detail"]
        batch = client.post(f"{API}/orders", json=_order("erased.person@example.com"), headers=auth)
        assert batch.status_code == 422 and "suppressed" in batch.json()["detail"]
        csv_file = b"email,first_name\nnew.person@example.com,New\nERASED.person@example.com,Back\n"
        report = client.post(
            f"{API}/fans/import", files={"file": ("fans.csv", csv_file, "text/csv")}, headers=auth
        ).json()
        assert report["created"] == 1
        assert [(error["line"], error["email"]) for error in report["errors"]] == [(3, "erased.person@example.com")]
        assert client.get(f"{API}/fans", params={"q": "erased.person"}, headers=auth).json()["total"] == 0

        assert client.delete(f"{API}/suppressions", params={"email": email}, headers=auth).status_code == 204
        assert client.get(f"{API}/suppressions", params={"email": email}, headers=auth).status_code == 404
        assert client.post(f"{API}/fans", json={"email": email}, headers=auth).status_code == 201
        actions = [entry["action"] for entry in client.get(f"{API}/audit", headers=auth).json()["items"]]
        assert "suppression.lifted" in actions and "fan.erased" in actions


def test_a_workspace_can_suppress_an_email_itself(
    database: Database, workspace: WorkspaceCreated, now: datetime
) -> None:
    app = create_app(database=database, settings=Settings(), clock=lambda: now, dashboard=False)
    auth = {"Authorization": f"Bearer {workspace.api_key.key}"}
    with api_client(app) as client:
        added = client.post(f"{API}/suppressions", json={"email": "do.not.add@example.com"}, headers=auth)
        assert added.status_code == 201 and added.json()["reason"] == "requested"
        refused = client.post(f"{API}/fans", json={"email": "do.not.add@example.com"}, headers=auth)
        assert "the workspace suppressed it" in refused.json()["detail"]
        assert client.post(f"{API}/suppressions", json={"email": "not an email"}, headers=auth).status_code == 422
        assert (
            client.delete(f"{API}/suppressions", params={"email": "never@example.com"}, headers=auth).status_code == 404
        )
