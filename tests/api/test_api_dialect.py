"""One dialect across the API (issue 14, point 17): every list pages with a total, and a body's validation error
names its field at the top, in the user's words (no library prefix)."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from fanbase.db.engine import Database
from fanbase.schemas.fans import FanIn
from fanbase.schemas.segments import SegmentIn
from fanbase.services import fans
from fanbase.services import segments

API = "/api/v1"


def test_segments_page_with_a_total_and_can_be_searched(client: TestClient, headers: dict[str, str]) -> None:
    for name in ("Berlin street team", "Merch lovers", "Berlin VIPs"):
        response = client.post(f"{API}/segments", json={"name": name, "kind": "static"}, headers=headers)
        assert response.status_code == 201, response.text

    first = client.get(f"{API}/segments", params={"page_size": 2}, headers=headers).json()
    assert first["total"] == 3 and first["page"] == 1 and first["page_size"] == 2
    assert [item["name"] for item in first["items"]] == ["Berlin street team", "Berlin VIPs"]
    second = client.get(f"{API}/segments", params={"page_size": 2, "page": 2}, headers=headers).json()
    assert [item["name"] for item in second["items"]] == ["Merch lovers"]

    found = client.get(f"{API}/segments", params={"q": "berlin"}, headers=headers).json()
    assert found["total"] == 2
    assert client.get(f"{API}/segments", params={"q": "x" * 201}, headers=headers).status_code == 422


def test_a_body_validation_error_names_its_field_without_a_library_prefix(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.post(f"{API}/fans", json={"email": "not-an-email"}, headers=headers)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "email"
    assert body["errors"][0]["field"] == "email"
    assert "Value error" not in response.text
    assert body["detail"].startswith("email: ")


def test_a_segments_history_narrows_to_a_period(
    client: TestClient, headers: dict[str, str], database: Database, workspace_id: int, now: datetime
) -> None:
    """One day of the size chart: who entered and left that day (the dashboard lists it when a day is clicked)."""
    fan_ids = [fans.create_fan(database, workspace_id, FanIn(email=f"f{index}@x.co"), now=now).id for index in range(3)]
    segment = segments.create_segment(database, workspace_id, SegmentIn(name="Crew", kind="static"), now=now)
    yesterday = now - timedelta(days=1)
    segments.add_fans(database, workspace_id, segment.id, fan_ids, now=yesterday)
    segments.remove_fans(database, workspace_id, segment.id, fan_ids[:1], now=now)

    def moves(**params: str) -> Any:
        response = client.get(f"{API}/segments/{segment.id}/history", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    assert moves()["total"] == 4
    day = yesterday.replace(hour=0, minute=0, second=0, microsecond=0)
    that_day = moves(start=day.isoformat(), end=(day + timedelta(days=1)).isoformat())
    assert that_day["total"] == 3 and all(item["entered"] for item in that_day["items"])
    today = moves(start=(day + timedelta(days=1)).isoformat())
    assert today["total"] == 1 and not today["items"][0]["entered"] and today["items"][0]["cause"] == "manual"

    naive = client.get(f"{API}/segments/{segment.id}/history", params={"start": "2026-01-01T00:00:00"}, headers=headers)
    assert naive.status_code == 422 and naive.json()["field"] == "start"
    backwards = client.get(
        f"{API}/segments/{segment.id}/history",
        params={"start": now.isoformat(), "end": yesterday.isoformat()},
        headers=headers,
    )
    assert backwards.status_code == 422 and backwards.json()["field"] == "end"


def test_duplicate_a_segment_and_see_who_uses_one(client: TestClient, headers: dict[str, str]) -> None:
    def post(path: str, body: dict[str, Any] | None = None, status: int = 201) -> Any:
        response = client.post(f"{API}{path}", json=body, headers=headers)
        assert response.status_code == status, response.text
        return response.json()

    fan = post("/fans", {"email": "ada@x.co", "tags": ["VIP"]})
    vips = post("/segments", {"name": "VIPs", "rule_text": 'tag "VIP"'})
    post("/segments", {"name": "VIP buyers", "rule_text": 'segment "VIPs" and purchase_count >= 0'})
    crew = post("/segments", {"name": "Crew", "kind": "static"})
    post(f"/segments/{crew['id']}/members", {"fan_ids": [fan["id"]]}, status=200)

    listed = {item["name"]: item for item in client.get(f"{API}/segments", headers=headers).json()["items"]}
    assert listed["VIPs"]["used_by"] == ["VIP buyers"] and listed["Crew"]["used_by"] == []

    copy = post(f"/segments/{vips['id']}/duplicate")
    assert (copy["name"], copy["rule_text"], copy["size"], copy["used_by"]) == ("VIPs (copy)", 'tag "VIP"', 1, [])
    assert post(f"/segments/{vips['id']}/duplicate")["name"] == "VIPs (copy 2)"
    crew_copy = post(f"/segments/{crew['id']}/duplicate")
    assert (crew_copy["kind"], crew_copy["size"]) == ("static", 1)
    assert client.post(f"{API}/segments/999999/duplicate", headers=headers).status_code == 404
