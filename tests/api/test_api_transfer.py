"""CSV import and export of fans over HTTP."""

from __future__ import annotations

import csv
import io

import httpx
from fastapi.testclient import TestClient

from fanbase.settings import Settings

API = "/api/v1"


def _upload(client: TestClient, headers: dict[str, str], data: bytes) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{API}/fans/import", files={"file": ("fans.csv", data, "text/csv")}, headers=headers
    )
    return response


def test_import_reports_created_updated_and_bad_rows(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post(f"{API}/fans", json={"email": "ada@example.com"}, headers=headers).status_code == 201
    data = b"email,first_name,tags\nada@example.com,Ada,VIP\nbob@example.com,Bob,VIP;Crew\nnot-an-email,Nobody,\n"
    response = _upload(client, headers, data)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["created"], report["updated"]) == (3, 1, 1)
    assert [(error["line"], error["email"]) for error in report["errors"]] == [(4, "not-an-email")]
    fans = client.get(f"{API}/fans", params={"tag": "VIP"}, headers=headers).json()
    assert {fan["email"]: fan["first_name"] for fan in fans["items"]} == {
        "ada@example.com": "Ada",
        "bob@example.com": "Bob",
    }


def test_an_unreadable_file_is_refused_naming_the_file(client: TestClient, headers: dict[str, str]) -> None:
    response = _upload(client, headers, b"name,city\nAda,London\n")
    assert response.status_code == 422
    assert response.json()["field"] == "file"
    missing = client.post(f"{API}/fans/import", headers=headers)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "file"


def test_a_file_over_the_limit_is_413_naming_the_limit(
    client: TestClient, headers: dict[str, str], settings: Settings
) -> None:
    data = b"email\n" + b"".join(f"fan{index}@example.com\n".encode() for index in range(1000))
    assert len(data) > settings.max_csv_bytes
    response = _upload(client, headers, data)
    assert response.status_code == 413
    assert response.json()["field"] == "file"
    assert f"{settings.max_csv_bytes:,}" in response.json()["detail"]
    assert client.get(f"{API}/fans", headers=headers).json()["total"] == 0


def test_export_streams_csv_with_the_list_filters(client: TestClient, headers: dict[str, str]) -> None:
    client.post(
        f"{API}/fans",
        json={"email": "ada@example.com", "first_name": "=HYPERLINK(1)", "tags": ["VIP"]},
        headers=headers,
    )
    client.post(f"{API}/fans", json={"email": "bob@example.com", "first_name": "Bob"}, headers=headers)

    response = client.get(f"{API}/fans/export", params={"tag": "VIP"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="fans.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["email"] for row in rows] == ["ada@example.com"]
    assert rows[0]["first_name"] == "'=HYPERLINK(1)"

    everyone = client.get(f"{API}/fans/export", headers=headers)
    assert len(list(csv.DictReader(io.StringIO(everyone.text)))) == 2
    bad = client.get(f"{API}/fans/export", params={"lifecycle_stage": "fan"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "lifecycle_stage"
    assert client.get(f"{API}/fans/export").status_code == 401


def test_exported_csv_imports_back_unchanged(
    client: TestClient, headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    client.post(
        f"{API}/fans",
        json={"email": "ada@example.com", "first_name": "-5", "country": "FR", "tags": ["VIP"], "lists": ["Club"]},
        headers=headers,
    )
    exported = client.get(f"{API}/fans/export", headers=headers).content
    report = _upload(client, other_headers, exported).json()
    assert (report["created"], report["errors"]) == (1, [])
    fan = client.get(f"{API}/fans", headers=other_headers).json()["items"][0]
    assert (fan["first_name"], fan["country"], fan["tags"], fan["lists"]) == (
        "-5",
        "FR",
        ["VIP"],
        {"Club": "subscribed"},
    )
