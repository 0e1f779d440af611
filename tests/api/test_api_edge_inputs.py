"""Inputs that once reached the database and failed there (a 500), now refused as 422 naming the field.

Run on both databases: most only failed on PostgreSQL (NUL in text, NaN in JSONB, a case-folded name longer than
its column), which the SQLite-only fuzz run cannot see.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v1"
TOO_BIG = 2**63
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("tag", "/tags", {"name": "a\x00b"}, "name"),
    ("list", "/lists", {"name": "a\x00b"}, "name"),
    ("fan", "/fans", {"email": "a@example.com", "first_name": "x\x00"}, "first_name"),
    (
        "event property value",
        "/events",
        {"email": "a@example.com", "type": "x", "properties": {"k": "\x00"}},
        "properties",
    ),
    ("event property key", "/events", {"email": "a@example.com", "type": "x", "properties": {"\x00": 1}}, "properties"),
    ("order category", "/orders", {"email": "a@example.com", "amount": "1", "category": "x\x00"}, "category"),
    ("api key", "/api-keys", {"name": "\x00"}, "name"),
    ("enum choice", "/custom-fields", {"name": "tier", "type": "enum", "choices": ["\x00"]}, "choices"),
    ("huge fan id", "/orders", {"fan_id": TOO_BIG, "amount": "1", "category": "x"}, "fan_id"),
    ("negative fan id", "/events", {"fan_id": -TOO_BIG, "type": "x"}, "fan_id"),
    ("huge id in batch", "/events/batch", {"items": [{"fan_id": TOO_BIG, "type": "x"}]}, "items[0].fan_id"),
    (
        "earliest instant east of UTC",
        "/orders",
        {"email": "a@example.com", "amount": "1", "category": "x", "placed_at": "0001-01-01T00:00:00+14:00"},
        "placed_at",
    ),
    (
        "latest instant west of UTC",
        "/events",
        {"email": "a@example.com", "type": "x", "occurred_at": "9999-12-31T23:59:59-14:00"},
        "occurred_at",
    ),
    ("tag name that folds longer", "/tags", {"name": "ß" * 100}, "name"),
    ("list name that folds longer", "/lists", {"name": "ﬃ" * 60}, "name"),
    ("fan tag that folds longer", "/fans", {"email": "a@example.com", "tags": ["ß" * 100]}, "tags[0]"),
]


@pytest.mark.parametrize(("path", "body", "field"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_refused_with_422_naming_the_field(
    client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any], field: str
) -> None:
    response = client.post(API + path, json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("path", ["/tags/1/fans", "/lists/1/subscriptions", "/lists/1/members/remove"])
def test_huge_ids_in_id_lists_are_422(client: TestClient, headers: dict[str, str], path: str) -> None:
    response = client.post(API + path, json={"fan_ids": [TOO_BIG]}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "fan_ids[0]"


@pytest.mark.parametrize("path", ["/fans/1", "/orders/9223372036854775808", "/tags/-1", "/lists/0"])
def test_ids_outside_the_stored_range_in_paths_are_422(client: TestClient, headers: dict[str, str], path: str) -> None:
    response = client.get(API + path, headers=headers)
    if path == "/fans/1":
        assert response.status_code == 404  # in range, just missing
    else:
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"].endswith("_id")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_422(client: TestClient, headers: dict[str, str], literal: str) -> None:
    # Python's JSON parser accepts these literals; JSON (and PostgreSQL's JSONB) does not.
    content = '{"email": "a@example.com", "type": "x", "properties": {"k": LITERAL}}'.replace("LITERAL", literal)
    response = client.post(f"{API}/events", content=content, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("properties.k")


@pytest.mark.parametrize("parameter", ["q", "tag", "list"])
@pytest.mark.parametrize("path", ["/fans", "/fans/export"])
def test_nul_in_filters_is_422(client: TestClient, headers: dict[str, str], path: str, parameter: str) -> None:
    response = client.get(API + path, params={parameter: "a\x00"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == parameter


def test_nul_in_an_imported_cell_is_a_row_error(client: TestClient, headers: dict[str, str]) -> None:
    client.post(f"{API}/custom-fields", json={"name": "note", "type": "text"}, headers=headers)
    data = b"email,first_name,note\na@example.com,A\x00,\nb@example.com,B,x\x00y\nc@example.com,C,fine\n"
    response = client.post(f"{API}/fans/import", files={"file": ("f.csv", data, "text/csv")}, headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["created"] == 1
    assert [error["line"] for error in report["errors"]] == [2, 3]


def test_a_non_ascii_idempotency_key_is_422(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        f"{API}/events",
        json={"email": "a@example.com", "type": "x"},
        headers={**headers, "Idempotency-Key": "clé".encode()},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
