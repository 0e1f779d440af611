"""Segments over HTTP, on SQLite and PostgreSQL: CRUD, templates on the demo data against the Python evaluator,
bad rules (422 naming the path), preview, the fan list filtered by segment and by ad-hoc rule, static segments,
CSV export, deletion guarded by users, and the `Rule` schema in the OpenAPI document."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fanbase.core.evaluate import evaluate
from fanbase.core.rules import parse_rule_json
from fanbase.core.rules import rule_to_json
from fanbase.core.text import parse_rule_text
from fanbase.db.engine import Database
from fanbase.db.repositories import fan_snapshots as fan_snapshots_repo
from fanbase.schemas.common import MAX_ID
from fanbase.services import demo
from fanbase.services import rule_context
from fanbase.services.segment_templates import TEMPLATES
from fanbase.services.segment_templates import TEMPLATES_BY_KEY

API = "/api/v1"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def make_fans(client: TestClient, headers: dict[str, str], now: datetime) -> dict[str, int]:
    """ada: customer, VIP, spent 150 on merch; bo: subscriber; cy: advocate, VIP, two gigs."""
    ids: dict[str, int] = {}
    for name, stage, tags in [("ada", "customer", ["VIP"]), ("bo", "subscriber", []), ("cy", "advocate", ["VIP"])]:
        body = {"email": f"{name}@x.co", "lifecycle_stage": stage, "tags": tags, "first_name": name.title()}
        ids[name] = ok(client.post(f"{API}/fans", json=body, headers=headers), 201)["id"]
    order = {"fan_id": ids["ada"], "amount": "150", "category": "merch"}
    ok(client.post(f"{API}/orders", json=order, headers=headers), 201)
    for days in (3, 40):
        event = {"fan_id": ids["cy"], "type": "gig_attended", "occurred_at": (now - timedelta(days=days)).isoformat()}
        ok(client.post(f"{API}/events", json=event, headers=headers), 201)
    return ids


def all_members(client: TestClient, headers: dict[str, str], segment_id: int) -> set[int]:
    found: set[int] = set()
    page = 1
    while True:
        body = ok(client.get(f"{API}/segments/{segment_id}/members?page={page}&page_size=500", headers=headers))
        found.update(fan["id"] for fan in body["items"])
        if page * body["page_size"] >= body["total"]:
            assert len(found) == body["total"]
            return found
        page += 1


# --- CRUD -------------------------------------------------------------------------------------------------------


def test_crud(client: TestClient, headers: dict[str, str], now: datetime) -> None:
    ids = make_fans(client, headers, now)
    created = ok(
        client.post(
            f"{API}/segments",
            json={"name": "VIPs", "description": "Top fans", "rule_text": 'tag "VIP"'},
            headers=headers,
        ),
        201,
    )
    assert (created["kind"], created["size"], created["rule_version"]) == ("dynamic", 2, 1)
    assert created["rule"] == {"tag": "VIP"}
    assert created["rule_text"] == 'tag "VIP"'
    assert created["rule_english"] == 'Has tag "VIP"'
    assert created["last_evaluated_at"] is not None and created["last_error"] is None

    segment_id = created["id"]
    assert ok(client.get(f"{API}/segments/{segment_id}", headers=headers)) == created
    assert [item["name"] for item in ok(client.get(f"{API}/segments", headers=headers))["items"]] == ["VIPs"]
    # The same name (case-folded) is a conflict.
    response = client.post(f"{API}/segments", json={"name": "vips", "rule": {"tag": "VIP"}}, headers=headers)
    assert response.status_code == 409 and response.json()["field"] == "name"

    edited = ok(
        client.patch(
            f"{API}/segments/{segment_id}",
            json={
                "name": "VIP advocates",
                "rule": {"all": [{"tag": "VIP"}, {"field": "lifecycle_stage", "op": "in", "value": ["advocate"]}]},
            },
            headers=headers,
        )
    )
    assert (edited["name"], edited["rule_version"], edited["size"]) == ("VIP advocates", 2, 1)
    assert edited["description"] == "Top fans"
    assert all_members(client, headers, segment_id) == {ids["cy"]}
    # An edit that does not change the rule does not bump its version.
    same = ok(client.patch(f"{API}/segments/{segment_id}", json={"rule_text": edited["rule_text"]}, headers=headers))
    assert same["rule_version"] == 2

    assert ok(client.post(f"{API}/segments/{segment_id}/refresh", headers=headers)) == {
        "entered": 0,
        "exited": 0,
        "size": 1,
    }
    assert client.delete(f"{API}/segments/{segment_id}", headers=headers).status_code == 204
    assert client.get(f"{API}/segments/{segment_id}", headers=headers).status_code == 404
    assert ok(client.get(f"{API}/segments", headers=headers))["total"] == 0


def test_dynamic_segment_needs_one_rule_and_static_none(client: TestClient, headers: dict[str, str]) -> None:
    for body in (
        {"name": "A"},
        {"name": "A", "rule": {"tag": "VIP"}, "rule_text": 'tag "VIP"'},
        {"name": "A", "kind": "static", "rule_text": 'tag "VIP"'},
    ):
        assert client.post(f"{API}/segments", json=body, headers=headers).status_code == 422, body


# --- templates on the demo workspace ------------------------------------------------------------------------------


def oracle_members(database: Database, workspace_id: int, *, now: datetime) -> dict[int, set[int]]:
    """Segment id → who the Python evaluator says belongs, from every fan's full snapshot."""
    with database.transaction(workspace_id=None, write=False) as connection:
        context = rule_context.load_context(connection, workspace_id)
        fan_snapshots = fan_snapshots_repo.load_snapshots(connection, workspace_id, catalogue=context.catalogue)
    return {
        segment_id: {
            fan_id
            for fan_id, snapshot in fan_snapshots.items()
            if evaluate(parse_rule_json(row.rule), snapshot, now=now, catalogue=context.catalogue)
        }
        for segment_id, row in context.segment_rows.items()
    }


def test_every_template_has_the_members_the_python_evaluator_says(
    client: TestClient, database: Database, now: datetime
) -> None:
    created = demo.create_demo_workspace(database, now=now, fans=600)
    headers = {"Authorization": f"Bearer {created.api_key.key}"}
    templates = ok(client.get(f"{API}/segments/templates", headers=headers))
    assert [template["key"] for template in templates] == [template.key for template in TEMPLATES]

    # Templates built on others go first, so creating them must create their prerequisites.
    ordered = sorted(TEMPLATES, key=lambda template: not template.requires)
    segment_ids: dict[str, int] = {}
    for template in ordered:
        if template.key in segment_ids:
            continue
        segment = ok(client.post(f"{API}/segments/templates/{template.key}", json=None, headers=headers), 201)
        assert segment["name"] == template.name
        assert parse_rule_text(segment["rule_text"]) == parse_rule_text(template.rule_text)
        segment_ids[template.key] = segment["id"]
        by_name = {item["name"]: item["id"] for item in ok(client.get(f"{API}/segments", headers=headers))["items"]}
        for required in template.requires:
            segment_ids[required] = by_name[TEMPLATES_BY_KEY[required].name]
    assert set(segment_ids) == set(TEMPLATES_BY_KEY)
    again = client.post(f"{API}/segments/templates/is-customer", headers=headers)
    assert again.status_code == 409
    assert client.post(f"{API}/segments/templates/no-such-template", headers=headers).status_code == 404

    expected = oracle_members(database, created.workspace.id, now=now)
    mismatches = {}
    for key, segment_id in segment_ids.items():
        served = all_members(client, headers, segment_id)
        if served != expected[segment_id]:
            mismatches[key] = (sorted(served - expected[segment_id]), sorted(expected[segment_id] - served))
    assert not mismatches, f"template: (only served by the database, only the evaluator's): {mismatches}"
    # Every template says something about the demo data: nobody, or everybody, would hide a broken rule.
    trivial = [key for key, segment_id in segment_ids.items() if len(expected[segment_id]) in (0, 600)]
    assert trivial == [], trivial


# --- bad rules --------------------------------------------------------------------------------------------------

FRANCE = {"field": "country", "op": "=", "value": "FR"}
BAD_RULES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "unknown field",
        {"rule": {"all": [FRANCE, {"field": "colour", "op": "=", "value": "red"}]}},
        "all[1].field",
        "unknown field 'colour'",
    ),
    (
        "wrong value type",
        {"rule": {"any": [{"field": "total_spent", "op": ">", "value": "lots"}]}},
        "any[0].value",
        "expected an amount of money for total_spent, got 'lots'",
    ),
    (
        "operator the type lacks",
        {"rule": {"all": [FRANCE, {"not": {"field": "total_spent", "op": "contains", "value": 5}}]}},
        "all[1].not.op",
        "operator 'contains' does not apply to money field 'total_spent'",
    ),
    ("empty group", {"rule": {"all": [FRANCE, {"any": []}]}}, "all[1].any", "needs at least one condition"),
    (
        "missing segment",
        {"rule_text": 'country = "FR" or segment "Nobody Made This"'},
        "any[1].segment",
        "unknown segment 'Nobody Made This'",
    ),
    (
        "unknown order field in a count's where",
        {
            "rule": {
                "all": [
                    FRANCE,
                    {"field": "total_spent", "op": ">", "value": 10},
                    {
                        "count": {"of": "orders", "where": {"field": "colour", "op": "=", "value": "red"}},
                        "op": ">=",
                        "value": 2,
                    },
                ]
            }
        },
        "all[2].count.where.field",
        "unknown order field 'colour'",
    ),
    (
        "text syntax error",
        {"rule_text": 'country = "FR" and\n  total_spent >'},
        "",
        "line 2, column 16: unexpected the end of the rule",
    ),
]


@pytest.mark.parametrize(("rule", "path", "message"), [case[1:] for case in BAD_RULES], ids=[c[0] for c in BAD_RULES])
def test_bad_rules_are_422_naming_the_path(
    client: TestClient, headers: dict[str, str], rule: dict[str, Any], path: str, message: str
) -> None:
    for method, url, body in (
        ("POST", f"{API}/segments", {"name": "Bad", **rule}),
        ("POST", f"{API}/segments/preview", rule),
        ("POST", f"{API}/fans/search", rule),
    ):
        response = client.request(method, url, json=body, headers=headers)
        assert response.status_code == 422, f"{url}: {response.text}"
        answer = response.json()
        assert len(answer["errors"]) == 1, answer
        assert answer["errors"][0]["path"] == path, answer
        assert message in answer["errors"][0]["message"], answer
        assert answer["detail"].startswith(f"{path}: " if path else "line "), answer
        assert answer["field"] == "rule"
    if "rule_text" in rule:
        response = client.get(f"{API}/fans", params={"rule_text": rule["rule_text"]}, headers=headers)
        assert response.status_code == 422 and response.json()["errors"][0]["path"] == path
    assert ok(client.get(f"{API}/segments", headers=headers))["total"] == 0


def test_a_cycle_between_segments_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    first = ok(client.post(f"{API}/segments", json={"name": "A", "rule_text": "total_spent > 1"}, headers=headers), 201)
    second = {"name": "B", "rule_text": 'segment "A" and purchase_count > 0'}
    ok(client.post(f"{API}/segments", json=second, headers=headers), 201)
    response = client.patch(
        f"{API}/segments/{first['id']}", json={"rule": {"any": [FRANCE, {"segment": "B"}]}}, headers=headers
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["path"] == "any[1].segment"
    assert "would make a cycle" in error["message"] and "'B'" in error["message"]
    response = client.patch(f"{API}/segments/{first['id']}", json={"rule_text": 'segment "A"'}, headers=headers)
    assert response.status_code == 422 and "cycle" in response.json()["errors"][0]["message"]
    assert ok(client.get(f"{API}/segments/{first['id']}", headers=headers))["rule_version"] == 1


# --- preview ------------------------------------------------------------------------------------------------------


def test_preview_counts_samples_and_creates_nothing(client: TestClient, headers: dict[str, str], now: datetime) -> None:
    ids = make_fans(client, headers, now)
    result = ok(
        client.post(
            f"{API}/segments/preview",
            json={"rule_text": 'tag "VIP" and lifecycle_stage in (customer, subscriber)'},
            headers=headers,
        )
    )
    assert result["count"] == 1
    assert [fan["id"] for fan in result["sample"]] == [ids["ada"]]
    assert [(item["path"], item["count"]) for item in result["conditions"]] == [("all[0]", 2), ("all[1]", 2)]
    assert result["conditions"][0]["description"] == 'Has tag "VIP"'
    assert result["rule"] == rule_to_json(parse_rule_text('tag "VIP" and lifecycle_stage in (customer, subscriber)'))
    assert result["rule_text"] == 'tag "VIP" and lifecycle_stage in (customer, subscriber)'
    assert result["rule_english"].startswith('Has tag "VIP", and')

    json_rule = {
        "count": {"of": "events", "where": {"field": "type", "op": "=", "value": "gig_attended"}},
        "op": ">=",
        "value": 2,
    }
    result = ok(client.post(f"{API}/segments/preview", json={"rule": json_rule}, headers=headers))
    assert (result["count"], [fan["id"] for fan in result["sample"]]) == (1, [ids["cy"]])
    assert [item["path"] for item in result["conditions"]] == [""]
    assert result["hints"] == []
    # An event type the workspace has not seen is valid (0 fans), with a hint naming the closest it has.
    json_rule["count"]["where"]["value"] = "gig_atended"
    result = ok(client.post(f"{API}/segments/preview", json={"rule": json_rule}, headers=headers))
    assert result["count"] == 0
    assert result["hints"] == [
        {
            "path": "count.where.value",
            "message": "no event type 'gig_atended' has been recorded yet (did you mean 'gig_attended'?)",
        }
    ]
    assert client.post(f"{API}/segments/preview", json={}, headers=headers).status_code == 422
    assert ok(client.get(f"{API}/segments", headers=headers))["total"] == 0


# --- the fan list, by segment and by ad-hoc rule -----------------------------------------------------------------


def emails(page: dict[str, Any]) -> list[str]:
    return sorted(fan["email"] for fan in page["items"])


def test_fan_list_by_segment_and_by_rule(
    client: TestClient, headers: dict[str, str], other_headers: dict[str, str], now: datetime
) -> None:
    make_fans(client, headers, now)
    segment = ok(client.post(f"{API}/segments", json={"name": "VIPs", "rule_text": 'tag "VIP"'}, headers=headers), 201)

    page = ok(client.get(f"{API}/fans", params={"segment_id": segment["id"]}, headers=headers))
    assert (emails(page), page["total"]) == (["ada@x.co", "cy@x.co"], 2)
    # Combined with the other filters: all must hold.
    page = ok(
        client.get(f"{API}/fans", params={"segment_id": segment["id"], "lifecycle_stage": "advocate"}, headers=headers)
    )
    assert emails(page) == ["cy@x.co"]

    rule_text = 'total_spent > 100 or count(events where type = "gig_attended" within 30 days) >= 1'
    page = ok(client.get(f"{API}/fans", params={"rule_text": rule_text}, headers=headers))
    assert emails(page) == ["ada@x.co", "cy@x.co"]
    page = ok(
        client.get(f"{API}/fans", params={"rule_text": "lifecycle_stage = subscriber", "q": "bo"}, headers=headers)
    )
    assert emails(page) == ["bo@x.co"]

    search = {
        "rule": {"not": {"tag": "VIP"}},
        "page": 1,
        "page_size": 10,
    }
    page = ok(client.post(f"{API}/fans/search", json=search, headers=headers))
    assert (emails(page), page["page_size"]) == (["bo@x.co"], 10)
    search = {"rule_text": "purchase_count >= 0", "segment_id": segment["id"], "tag": "VIP", "page": 2, "page_size": 1}
    page = ok(client.post(f"{API}/fans/search", json=search, headers=headers))
    assert (page["total"], page["page"], len(page["items"])) == (2, 2, 1)

    # The export takes the same filters.
    response = client.get(f"{API}/fans/export", params={"rule_text": 'tag "VIP"'}, headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert sorted(row["email"] for row in csv.DictReader(io.StringIO(response.text))) == ["ada@x.co", "cy@x.co"]
    response = client.get(f"{API}/fans/export", params={"segment_id": segment["id"]}, headers=headers)
    assert len(list(csv.DictReader(io.StringIO(response.text)))) == 2

    # Unknown or foreign segments are 404; ids beyond storage are 422; bad bodies are 422.
    for params in ({"segment_id": segment["id"]}, {"segment_id": 10**12}):
        for url in (f"{API}/fans", f"{API}/fans/export"):
            response = client.get(url, params=params, headers=other_headers)
            assert response.status_code == 404 and response.json()["field"] == "segment_id", response.text
    for bad in ({"segment_id": MAX_ID + 1}, {"segment_id": 0}, {"rule_text": ""}):
        assert client.get(f"{API}/fans", params=bad, headers=headers).status_code == 422, bad
        assert client.post(f"{API}/fans/search", json=bad, headers=headers).status_code == 422, bad
    for bad_search in (
        {"rule": {"tag": "VIP"}, "rule_text": 'tag "VIP"'},
        {"page_size": 10_000},
        {"page": 0},
        {"rule": {"tag": "VIP"}, "colour": "red"},
    ):
        response = client.post(f"{API}/fans/search", json=bad_search, headers=headers)
        assert response.status_code == 422, (bad_search, response.text)
    # Names in a rule are the caller's workspace's: another workspace's tag is unknown here.
    response = client.post(f"{API}/fans/search", json={"rule": {"tag": "VIP"}}, headers=other_headers)
    assert response.status_code == 422 and response.json()["errors"][0]["path"] == "tag"


# --- static segments, members, export, deletion ---------------------------------------------------------------


def test_static_segment_add_remove_emails_and_csv(client: TestClient, headers: dict[str, str], now: datetime) -> None:
    ids = make_fans(client, headers, now)
    segment = ok(client.post(f"{API}/segments", json={"name": "Press", "kind": "static"}, headers=headers), 201)
    assert (segment["rule"], segment["rule_text"], segment["size"]) == (None, None, 0)
    members = f"{API}/segments/{segment['id']}/members"

    assert ok(client.post(members, json={"fan_ids": [ids["ada"], ids["bo"]]}, headers=headers)) == {
        "entered": 2,
        "exited": 0,
        "size": 2,
    }
    assert ok(client.post(members, json={"fan_ids": [ids["ada"]]}, headers=headers))["entered"] == 0
    assert ok(client.post(f"{members}/remove", json={"fan_ids": [ids["bo"]]}, headers=headers))["exited"] == 1
    assert all_members(client, headers, segment["id"]) == {ids["ada"]}

    assert ok(client.post(f"{members}/emails", json={"emails": ["BO@x.co"]}, headers=headers))["size"] == 2
    response = client.post(f"{members}/emails", json={"emails": ["nobody@x.co"]}, headers=headers)
    assert response.status_code == 404 and "nobody@x.co" in response.json()["detail"]

    upload = {"file": ("press.csv", b"name,email\nCy,cy@x.co\nAda,ada@x.co\n", "text/csv")}
    assert ok(client.post(f"{members}/import", files=upload, headers=headers)) == {"entered": 1, "exited": 0, "size": 3}
    bad = {"file": ("press.csv", b"email\nnot-an-email\n", "text/csv")}
    response = client.post(f"{members}/import", files=bad, headers=headers)
    assert response.status_code == 422 and "line 2" in response.json()["detail"]

    # A dynamic segment's members follow its rule: they cannot be curated by hand.
    dynamic = ok(client.post(f"{API}/segments", json={"name": "VIPs", "rule_text": 'tag "VIP"'}, headers=headers), 201)
    response = client.post(f"{API}/segments/{dynamic['id']}/members", json={"fan_ids": [ids["bo"]]}, headers=headers)
    assert response.status_code == 422 and "edit the rule" in response.json()["detail"]
    response = client.patch(f"{API}/segments/{segment['id']}", json={"rule_text": 'tag "VIP"'}, headers=headers)
    assert response.status_code == 422

    # A dynamic segment can be built on a static one, and follows it.
    built = {"name": "Press VIPs", "rule_text": 'segment "Press" and tag "VIP"'}
    built_id = ok(client.post(f"{API}/segments", json=built, headers=headers), 201)["id"]
    assert all_members(client, headers, built_id) == {ids["ada"], ids["cy"]}
    client.post(f"{members}/remove", json={"fan_ids": [ids["cy"]]}, headers=headers)
    assert all_members(client, headers, built_id) == {ids["ada"]}


def test_members_page_and_csv_export(client: TestClient, headers: dict[str, str], now: datetime) -> None:
    ids = make_fans(client, headers, now)
    segment = ok(
        client.post(f"{API}/segments", json={"name": "Everyone", "rule_text": "purchase_count >= 0"}, headers=headers),
        201,
    )
    first = ok(client.get(f"{API}/segments/{segment['id']}/members?page=1&page_size=2", headers=headers))
    second = ok(client.get(f"{API}/segments/{segment['id']}/members?page=2&page_size=2", headers=headers))
    assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
    assert {fan["id"] for fan in first["items"] + second["items"]} == set(ids.values())

    response = client.get(f"{API}/segments/{segment['id']}/members/export", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="segment-{segment["id"]}.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(row["email"] for row in rows) == ["ada@x.co", "bo@x.co", "cy@x.co"]
    assert {row["email"]: row["tags"] for row in rows}["ada@x.co"] == "VIP"
    assert client.get(f"{API}/segments/{MAX_ID}/members/export", headers=headers).status_code == 404


def test_a_segment_used_by_another_cannot_be_deleted(client: TestClient, headers: dict[str, str]) -> None:
    base = ok(
        client.post(f"{API}/segments", json={"name": "Buyers", "rule_text": "purchase_count > 0"}, headers=headers), 201
    )
    for name in ("Big Buyers", "VIP Buyers"):
        rule = {"all": [{"segment": "buyers"}, {"field": "total_spent", "op": ">", "value": 100}]}
        ok(client.post(f"{API}/segments", json={"name": name, "rule": rule}, headers=headers), 201)
    response = client.delete(f"{API}/segments/{base['id']}", headers=headers)
    assert response.status_code == 409
    assert response.json()["detail"] == "segment 'Buyers' is used by: Big Buyers, VIP Buyers"
    response = client.patch(f"{API}/segments/{base['id']}", json={"name": "Shoppers"}, headers=headers)
    assert response.status_code == 409 and "Big Buyers, VIP Buyers" in response.json()["detail"]
    assert client.get(f"{API}/segments/{base['id']}", headers=headers).status_code == 200


# --- OpenAPI ------------------------------------------------------------------------------------------------------


def test_openapi_has_the_rule_schema(client: TestClient) -> None:
    document = ok(client.get("/openapi.json"))
    schemas = document["components"]["schemas"]
    assert "Rule" in schemas
    rule_ref = {"$ref": "#/components/schemas/Rule"}
    assert rule_ref in schemas["SegmentIn"]["properties"]["rule"]["anyOf"]
    assert rule_ref in schemas["RuleIn"]["properties"]["rule"]["anyOf"]
    assert rule_ref in schemas["FanSearch"]["properties"]["rule"]["anyOf"]
    # Every reference in the document resolves (the rule schema's own parts were lifted into components).
    text = str(document)
    for name in {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in schemas, name
    parameters = {item["name"] for item in document["paths"]["/api/v1/fans"]["get"]["parameters"]}
    assert {"segment_id", "rule_text"} <= parameters
