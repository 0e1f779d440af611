"""The caller's workspace, API keys (issue, list, revoke), authentication, and custom fields."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fanbase.schemas.workspaces import WorkspaceCreated

API = "/api/v1"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_workspace_is_the_callers(client: TestClient, headers: dict[str, str], workspace: WorkspaceCreated) -> None:
    response = client.get(f"{API}/workspace", headers=headers)
    assert response.status_code == 200
    assert response.json()["id"] == workspace.workspace.id
    assert response.json()["name"] == workspace.workspace.name


def test_missing_or_unknown_keys_are_401(client: TestClient) -> None:
    missing = client.get(f"{API}/tags")
    assert missing.status_code == 401
    assert "API key" in missing.json()["detail"]
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    unknown = client.get(f"{API}/tags", headers=bearer("fb_00000000_nope"))
    assert unknown.status_code == 401
    assert unknown.json() == {"detail": "unknown API key"}


def test_issue_list_and_revoke_keys(client: TestClient, headers: dict[str, str]) -> None:
    created = client.post(f"{API}/api-keys", json={"name": "shop sync"}, headers=headers)
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["key"].startswith(key["prefix"]) and key["revoked_at"] is None
    new_headers = bearer(key["key"])
    assert client.get(f"{API}/workspace", headers=new_headers).status_code == 200

    listed = client.get(f"{API}/api-keys", headers=headers).json()
    assert {item["name"] for item in listed} == {"default", "shop sync"}
    assert all("key" not in item for item in listed)

    assert client.delete(f"{API}/api-keys/{key['id']}", headers=headers).status_code == 204
    revoked = client.get(f"{API}/workspace", headers=new_headers)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["detail"]
    assert client.delete(f"{API}/api-keys/{key['id']}", headers=headers).status_code == 404
    assert client.get(f"{API}/workspace", headers=headers).status_code == 200


def test_api_key_name_is_required(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(f"{API}/api-keys", json={"name": "  "}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


def test_custom_fields(client: TestClient, headers: dict[str, str]) -> None:
    created = client.post(
        f"{API}/custom-fields", json={"name": "tier", "type": "enum", "choices": ["gold", "silver"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["choices"] == ["gold", "silver"]
    assert (
        client.post(f"{API}/custom-fields", json={"name": "tier", "type": "text"}, headers=headers).status_code == 409
    )
    listed = client.get(f"{API}/custom-fields", headers=headers).json()
    assert [field["name"] for field in listed] == ["tier"]

    bad = client.post(f"{API}/custom-fields", json={"name": "Tier!", "type": "text"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "name"

    fan = client.post(
        f"{API}/fans", json={"email": "a@example.com", "custom_fields": {"tier": "gold"}}, headers=headers
    )
    assert fan.status_code == 201
    wrong = client.post(
        f"{API}/fans", json={"email": "b@example.com", "custom_fields": {"tier": "tin"}}, headers=headers
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "custom_fields.tier"


def test_duplicate_fan_email_conflicts(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post(f"{API}/fans", json={"email": "Ada@Example.com"}, headers=headers).status_code == 201
    duplicate = client.post(f"{API}/fans", json={"email": "ada@example.com"}, headers=headers)
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "email"


def test_a_custom_field_has_a_label_people_read(client: TestClient, headers: dict[str, str]) -> None:
    """Rules and the API use the key; the label is what the dashboard and a rule's English show."""
    labelled = client.post(
        f"{API}/custom-fields",
        json={"name": "tshirt_size", "type": "enum", "choices": ["S", "M"], "label": "T-shirt size"},
        headers=headers,
    )
    assert labelled.status_code == 201, labelled.text
    assert labelled.json()["label"] == "T-shirt size"
    plain = client.post(f"{API}/custom-fields", json={"name": "favourite_album", "type": "text"}, headers=headers)
    assert plain.json()["label"] == "favourite album"
    listed = {field["name"]: field["label"] for field in client.get(f"{API}/custom-fields", headers=headers).json()}
    assert listed == {"favourite_album": "favourite album", "tshirt_size": "T-shirt size"}
    too_long = client.post(
        f"{API}/custom-fields", json={"name": "note", "type": "text", "label": "x" * 101}, headers=headers
    )
    assert too_long.status_code == 422 and too_long.json()["field"] == "label"

    preview = client.post(f"{API}/segments/preview", json={"rule_text": "tshirt_size = M"}, headers=headers)
    assert preview.status_code == 200, preview.text
    assert "T-shirt size" in preview.json()["rule_english"]
