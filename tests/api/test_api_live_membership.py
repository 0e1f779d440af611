"""Issue 5's acceptance through the real app: live membership on writes, time-driven flips by the scheduler."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from fastapi.testclient import TestClient

from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.jobs.scheduler import Scheduler
from fanbase.services import workspaces
from fanbase.settings import Settings
from tests_support import api_client

API = "/api/v1"


def test_one_order_makes_its_fan_enter_in_the_same_request_and_the_ledger_says_why(
    client: TestClient, headers: dict[str, str]
) -> None:
    segment = client.post(
        f"{API}/segments", json={"name": "Spent > $100", "rule_text": "total_spent > 100"}, headers=headers
    )
    assert segment.status_code == 201, segment.text
    segment_id = segment.json()["id"]
    order = client.post(
        f"{API}/orders", json={"email": "ada@example.com", "amount": "150.00", "category": "merch"}, headers=headers
    )
    assert order.status_code == 201, order.text
    fan_id = order.json()["fan_id"]
    members = client.get(f"{API}/segments/{segment_id}/members", headers=headers).json()
    assert [fan["id"] for fan in members["items"]] == [fan_id]
    (why,) = client.get(f"{API}/fans/{fan_id}/segments", headers=headers).json()
    assert (why["segment_name"], why["cause"], why["rule_version"]) == ("Spent > $100", "write", 1)
    (entry,) = client.get(f"{API}/segments/{segment_id}/history", headers=headers).json()["items"]
    assert (entry["fan_email"], entry["entered"], entry["cause"]) == ("ada@example.com", True, "write")
    sizes = client.get(f"{API}/segments/{segment_id}/sizes", params={"bucket": "day"}, headers=headers).json()
    assert sizes[-1]["size"] == 1


def test_the_scheduler_moves_a_fan_into_inactive_within_one_tick(database: Database, now: datetime) -> None:
    clock = {"now": now}
    settings = Settings(scheduler_interval_seconds=15)
    app = create_app(database=database, settings=settings, clock=lambda: clock["now"], dashboard=False)
    key = workspaces.create_workspace(database, name="tick", now=now).api_key.key
    headers = {"Authorization": f"Bearer {key}"}
    scheduler = Scheduler(database, clock=lambda: clock["now"], interval=settings.scheduler_interval_seconds)
    with api_client(app) as client:
        fan = client.post(
            f"{API}/fans",
            json={"email": "bo@example.com", "created_at": (now - timedelta(days=60)).isoformat()},
            headers=headers,
        ).json()
        client.post(
            f"{API}/events",
            json={
                "fan_id": fan["id"],
                "type": "email_opened",
                "occurred_at": (now - timedelta(days=30, seconds=-10)).isoformat(),
            },
            headers=headers,
        )
        inactive = client.post(f"{API}/segments/templates/inactive", headers=headers).json()
        assert inactive["size"] == 0
        scheduler.run_once()
        due = client.get(f"{API}/segments/{inactive['id']}", headers=headers).json()["next_flip_at"]
        assert datetime.fromisoformat(due) == now + timedelta(seconds=10)
        clock["now"] = now + timedelta(seconds=settings.scheduler_interval_seconds)  # the next tick
        scheduler.run_once()
        segment = client.get(f"{API}/segments/{inactive['id']}", headers=headers).json()
        assert segment["size"] == 1
        (entry,) = client.get(f"{API}/segments/{inactive['id']}/history", headers=headers).json()["items"]
        assert (entry["cause"], entry["entered"]) == ("time", True)
        lag = datetime.fromisoformat(entry["at"]) - datetime.fromisoformat(due)
        assert timedelta(0) <= lag <= timedelta(seconds=settings.scheduler_interval_seconds)
