"""Web hygiene (issue 15, point 9): sign-in from another site refused (login CSRF), security headers on the
dashboard and the API, the dashboard's socket closed to other origins."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.services import users
from fanbase.settings import Settings
from tests_support import api_client

PASSWORD = "a long enough password"


@pytest.fixture
def site(database: Database, tmp_path: Path, now: datetime) -> TestClient:
    app = create_app(database=database, settings=Settings(data_dir=tmp_path), clock=lambda: now)
    return api_client(app, follow_redirects=False)


@pytest.fixture
def email(database: Database, workspace_id: int, now: datetime) -> str:
    address = f"hygiene-{uuid.uuid4().hex[:8]}@example.com"
    users.create_user(database, workspace_id, email=address, password=PASSWORD, now=now)
    return address


def test_a_sign_in_form_posted_from_another_site_is_refused(site: TestClient, email: str) -> None:
    form = {"email": email, "password": PASSWORD}
    refused = site.post("/auth/login", data=form, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.json() == {"detail": "a form from another site cannot post here"}
    assert "fanbase_session" not in refused.cookies
    own = site.post("/auth/login", data=form, headers={"Origin": "http://testserver"})
    assert own.status_code == 303 and "fanbase_session" in own.cookies
    assert site.post("/auth/logout", headers={"Origin": "https://evil.example"}).status_code == 403


def test_security_headers_on_pages_and_the_api(site: TestClient) -> None:
    page = site.get("/login")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy and "object-src 'none'" in policy
    for response in (page, site.get("/api/v1/health")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"
    assert "content-security-policy" not in site.get("/api/v1/health").headers
    assert "strict-transport-security" not in page.headers  # plain http
    secure = site.get("https://testserver/login")
    assert secure.headers["strict-transport-security"] == "max-age=31536000"


def test_the_dashboard_socket_refuses_other_origins(site: TestClient) -> None:
    path = "/_nicegui_ws/socket.io/?EIO=4&transport=polling"
    foreign = site.get(path, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 400
    assert "not an accepted origin" in foreign.text
    assert site.get(path, headers={"Origin": "http://testserver"}).status_code != 400
