"""Limits before work (issue 15): request bodies capped while they are read, before authentication; rules bounded
at validation with a 422 naming the limit (and accepted at the limit, on both backends); event properties and
custom fields bounded; everything under /api/ answered in JSON, 404 or 405."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fanbase.api.app import create_app
from fanbase.core.rule_limits import MAX_BEHAVIOURS
from fanbase.core.rule_limits import MAX_CONDITIONS
from fanbase.core.rule_limits import MAX_DEPTH
from fanbase.db.engine import Database
from fanbase.schemas.common import MAX_PROPERTIES
from fanbase.schemas.common import MAX_PROPERTY_TEXT
from fanbase.schemas.common import NAME_LENGTH
from fanbase.settings import Settings
from tests_support import api_client

API = "/api/v1"
MAX_JSON_BYTES = 64 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, max_json_bytes=MAX_JSON_BYTES, max_csv_bytes=4096)


# --- bodies --------------------------------------------------------------------------------------------------------


def test_a_body_over_the_cap_is_refused_before_authentication(client: TestClient) -> None:
    big = b'{"name": "' + b"x" * MAX_JSON_BYTES + b'"}'
    response = client.post(f"{API}/tags", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text  # not 401: nothing was read, nobody was asked who they are
    assert response.json() == {
        "detail": (
            f"the request body is larger than the limit of {MAX_JSON_BYTES:,} bytes (set by FANBASE_MAX_JSON_BYTES)"
        ),
        "field": "body",
    }
    assert response.headers["connection"] == "close"


def test_a_body_without_a_length_is_counted_as_it_arrives(app: FastAPI, headers: dict[str, str]) -> None:
    """Straight through ASGI (a test client would buffer the body first): a chunked 16 MB body is read only up to
    the cap, then answered 413."""
    chunk = b"x" * 16_384
    received = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {
            "type": "http.request",
            "body": b'{"name": "' if received == 1 else chunk,
            "more_body": received < 1_000,
        }

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{API}/tags",
        "raw_path": f"{API}/tags".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            (b"authorization", headers["Authorization"].encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["field"] == "body"
    assert received <= MAX_JSON_BYTES // len(chunk) + 2  # the reading stopped at the cap


def test_a_body_under_the_cap_is_served_as_usual(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(f"{API}/tags", json={"name": "x" * (NAME_LENGTH + 1)}, headers=headers)
    assert response.status_code == 422 and response.json()["field"] == "name"  # the schema's own refusal
    assert client.post(f"{API}/tags", json={"name": "VIP"}).status_code == 401


def test_an_upload_may_carry_a_file_up_to_its_own_limit(client: TestClient, headers: dict[str, str]) -> None:
    rows = "email\n" + "".join(f"fan{index}@example.com\n" for index in range(100))
    assert len(rows) < 4096
    response = client.post(
        f"{API}/fans/import", files={"file": ("fans.csv", rows.encode(), "text/csv")}, headers=headers
    )
    assert response.status_code == 200, response.text
    huge = b"email\n" + b"a@example.com\n" * 20_000  # over 4,096 bytes and the multipart allowance
    response = client.post(f"{API}/fans/import", files={"file": ("fans.csv", huge, "text/csv")})
    assert response.status_code == 413 and "FANBASE_MAX_CSV_BYTES" in response.json()["detail"]


# --- JSON for everything under /api/ -------------------------------------------------------------------------------


@pytest.fixture
def dashboard_client(database: Database, settings: Settings) -> Iterator[TestClient]:
    """The app as served, with the dashboard mounted at / (which would answer unknown paths with its HTML)."""
    with api_client(create_app(database=database, settings=settings)) as test_client:
        yield test_client


def test_unknown_api_routes_and_wrong_methods_answer_json(
    dashboard_client: TestClient, headers: dict[str, str]
) -> None:
    response = dashboard_client.get(f"{API}/nothing-here", headers=headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "no such API route: /api/v1/nothing-here"}
    response = dashboard_client.delete(f"{API}/segments", headers=headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json() == {"detail": "DELETE is not allowed here; use GET, POST"}
    assert dashboard_client.get("/api/", headers=headers).status_code == 404
    assert dashboard_client.get(f"{API}/segments", headers=headers).status_code == 200


# --- rules ---------------------------------------------------------------------------------------------------------

LEAF: dict[str, Any] = {"field": "total_spent", "op": ">", "value": 1}
BEHAVIOUR: dict[str, Any] = {
    "count": {"of": "events", "where": {"field": "type", "op": "=", "value": "gig_attended"}},
    "op": ">=",
    "value": 1,
}


def nested(depth: int) -> dict[str, Any]:
    rule: dict[str, Any] = LEAF
    for _ in range(depth):
        rule = {"not": rule}
    return rule


def preview(client: TestClient, headers: dict[str, str], rule: Any) -> Any:
    return client.post(f"{API}/segments/preview", json={"rule": rule}, headers=headers)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (nested(200), f"the rule is nested too deeply: at most {MAX_DEPTH} groups inside one another"),
        (nested(MAX_DEPTH + 1), f"the rule is too large: groups nest {MAX_DEPTH + 1} deep; the limit is {MAX_DEPTH}"),
        ({"any": [LEAF] * 1_000}, f"the rule is too large: at most {MAX_CONDITIONS} conditions"),
        (
            {"any": [LEAF] * (MAX_CONDITIONS + 1)},
            f"the rule is too large: it has {MAX_CONDITIONS + 1} conditions; the limit is {MAX_CONDITIONS}",
        ),
        (
            {"all": [BEHAVIOUR] * (MAX_BEHAVIOURS + 1)},
            f"the rule is too large: it has {MAX_BEHAVIOURS + 1} behaviour conditions; the limit is {MAX_BEHAVIOURS}",
        ),
    ],
)
def test_a_rule_beyond_the_limits_is_refused_naming_the_limit(
    client: TestClient, headers: dict[str, str], rule: Any, message: str
) -> None:
    response = preview(client, headers, rule)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == message
    created = client.post(f"{API}/segments", json={"name": "big", "rule": rule}, headers=headers)
    assert created.status_code == 422 and created.json()["detail"] == message


def test_the_text_form_is_bounded_before_it_is_parsed(client: TestClient, headers: dict[str, str]) -> None:
    text = "(" * 3_000 + "total_spent > 1" + ")" * 3_000
    response = client.post(f"{API}/segments/preview", json={"rule_text": text}, headers=headers)
    assert response.status_code == 422
    assert "nested too deeply" in response.json()["detail"]
    # Parentheses inside quoted text do not count.
    quoted = 'tag "' + "(" * 50 + '"'
    response = client.post(f"{API}/segments/preview", json={"rule_text": quoted}, headers=headers)
    assert response.status_code == 422 and "unknown tag" in response.json()["detail"]


def test_rules_at_the_limits_are_answered(client: TestClient, headers: dict[str, str]) -> None:
    """On both backends: SQLite's expression depth and PostgreSQL's column limit are far from these."""
    client.post(f"{API}/fans", json={"email": "ada@example.com", "total_spent": "5"}, headers=headers)
    response = preview(client, headers, nested(MAX_DEPTH))
    assert response.status_code == 200, response.text
    widest = {"any": [{"field": "total_spent", "op": ">", "value": index} for index in range(MAX_CONDITIONS)]}
    response = preview(client, headers, widest)
    assert response.status_code == 200, response.text
    assert len(response.json()["conditions"]) == MAX_CONDITIONS
    behaviours = {"any": [{**BEHAVIOUR, "value": index + 1} for index in range(MAX_BEHAVIOURS)]}
    response = client.post(f"{API}/segments", json={"name": "many behaviours", "rule": behaviours}, headers=headers)
    assert response.status_code == 201, response.text
    event = {"email": "ada@example.com", "type": "gig_attended"}
    assert client.post(f"{API}/events", json=event, headers=headers).status_code == 201


# --- properties and custom fields -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "field", "message"),
    [
        ({"note": "x" * (MAX_PROPERTY_TEXT + 1)}, "properties.note", "must be at most 1,000 characters, got 1,001"),
        ({f"k{index}": 1 for index in range(MAX_PROPERTIES + 1)}, "properties", "at most 50 items"),
        ({f"k{index}": "y" * 900 for index in range(20)}, "properties", "must be at most 16,384 bytes as JSON"),
    ],
)
def test_event_properties_are_bounded(
    client: TestClient, headers: dict[str, str], properties: dict[str, Any], field: str, message: str
) -> None:
    body = {"email": "ada@example.com", "type": "page_viewed", "properties": properties}
    response = client.post(f"{API}/events", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert message in response.json()["detail"]
    assert len(json.dumps(properties)) < MAX_JSON_BYTES  # the schema refused it, not the body cap


def test_custom_field_values_are_bounded_too(client: TestClient, headers: dict[str, str]) -> None:
    body = {"email": "ada@example.com", "custom_fields": {"note": "x" * (MAX_PROPERTY_TEXT + 1)}}
    response = client.post(f"{API}/fans", json=body, headers=headers)
    assert response.status_code == 422 and response.json()["field"] == "custom_fields.note"
