"""Throttles over HTTP (issue 15): per-key and per-address rate limits with the IETF RateLimit fields and 429 +
Retry-After; wrong API keys back off per address; the dashboard's sign-in form backs off and says how long."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fanbase.api.app import create_app
from fanbase.api.deps import WRONG_KEY_BACK_OFF
from fanbase.db.engine import Database
from fanbase.services import users
from fanbase.settings import Settings
from tests_support import api_client

API = "/api/v1"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, rate_limit_per_key=3, rate_limit_per_address=1000)


def test_a_key_past_its_rate_is_refused_with_429_and_retry_after(client: TestClient, headers: dict[str, str]) -> None:
    for left in (2, 1, 0):
        response = client.get(f"{API}/tags", headers=headers)
        assert response.status_code == 200
        assert response.headers["ratelimit-policy"] == '"default";q=3;w=60'
        assert re.fullmatch(rf'"default";r={left};t=\d+', response.headers["ratelimit"])
    refused = client.get(f"{API}/tags", headers=headers)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("more than 3 requests in 60 s; retry in ")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # The connection stays usable, and another key has its own quota.
    assert client.get(f"{API}/health").status_code == 200


def test_wrong_keys_back_off_per_address(client: TestClient, headers: dict[str, str], app: object) -> None:
    wrong = {"Authorization": "Bearer fb_00000000_not-a-key"}
    for _ in range(WRONG_KEY_BACK_OFF.free + 1):
        assert client.get(f"{API}/tags", headers=wrong).status_code == 401
    refused = client.get(f"{API}/tags", headers=headers)  # even with a right key, from this address
    assert refused.status_code == 429
    assert refused.json()["detail"] == "too many failed API keys; try again in 1 s"
    assert refused.headers["retry-after"] == "1"
    with api_client(app) as elsewhere:
        assert elsewhere.get(f"{API}/tags", headers=headers).status_code == 200


def test_the_sign_in_form_backs_off_and_says_how_long(
    database: Database, workspace_id: int, settings: Settings, now: datetime
) -> None:
    email = f"form-{uuid.uuid4().hex[:8]}@example.com"
    users.create_user(database, workspace_id, email=email, password="a long enough password", now=now)
    app = create_app(database=database, settings=settings, clock=lambda: now)
    with api_client(app, follow_redirects=False) as browser:
        for _ in range(users.ACCOUNT_BACK_OFF.free + 1):
            response = browser.post("/auth/login", data={"email": email, "password": "wrong password!"})
            assert response.status_code == 303 and "error=1" in response.headers["location"]
        response = browser.post("/auth/login", data={"email": email, "password": "a long enough password"})
        assert response.status_code == 303
        assert "error=throttled&wait=1" in response.headers["location"]
        assert response.headers["retry-after"] == "1"
        assert "fanbase_session" not in response.cookies
        page = browser.get(response.headers["location"])
        assert "Too many failed sign-ins. Try again in 1 second." in page.text
