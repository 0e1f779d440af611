"""Analytics as data (issue 14, point 9): the overlap of two or three segments, and segments compared over a period,
through the API and the CLI — the same figures the dashboard draws."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fanbase.cli.main import app as cli

API = "/api/v1"
TAGS = {"a": ["VIP"], "b": ["VIP", "Press"], "c": ["Press"], "d": ["VIP", "Press", "Crew"], "e": ["Crew"], "f": []}


def _segments(client: TestClient, headers: dict[str, str]) -> dict[str, int]:
    for name, tags in TAGS.items():
        response = client.post(f"{API}/fans", json={"email": f"{name}@x.co", "tags": tags}, headers=headers)
        assert response.status_code == 201, response.text
    ids = {}
    for tag in ("VIP", "Press", "Crew"):
        response = client.post(f"{API}/segments", json={"name": tag, "rule_text": f'tag "{tag}"'}, headers=headers)
        assert response.status_code == 201, response.text
        ids[tag] = response.json()["id"]
    return ids


def test_overlap_counts_every_region_exactly(client: TestClient, headers: dict[str, str]) -> None:
    ids = _segments(client, headers)
    names = ["VIP", "Press", "Crew"]
    response = client.get(
        f"{API}/analytics/overlap", params=[("segment_id", ids[name]) for name in names], headers=headers
    )
    assert response.status_code == 200, response.text
    result = response.json()
    members = {tag: {fan for fan, tags in TAGS.items() if tag in tags} for tag in names}
    # Every region: the fans in exactly that combination, computed here from the tags.
    expected = {}
    for size in (1, 2, 3):
        for combination in itertools.combinations(names, size):
            inside = set.intersection(*(members[name] for name in combination))
            outside = set().union(*(members[name] for name in names if name not in combination))
            expected[combination] = len(inside - outside)
    assert {tuple(region["segments"]): region["fans"] for region in result["regions"]} == expected
    assert (result["in_all"], result["in_any"]) == (1, 5)
    vip_press = next(
        pair for pair in result["pairs"] if (pair["first_id"], pair["second_id"]) == (ids["VIP"], ids["Press"])
    )
    assert vip_press["shared"] == 2 and vip_press["share_of_first"] == 2 / 3 and vip_press["share_of_second"] == 2 / 3

    one = client.get(f"{API}/analytics/overlap", params={"segment_id": ids["VIP"]}, headers=headers)
    assert one.status_code == 422 and one.json()["field"] == "segment_ids"
    unknown = client.get(
        f"{API}/analytics/overlap", params=[("segment_id", ids["VIP"]), ("segment_id", 999999)], headers=headers
    )
    assert unknown.status_code == 404


def test_compare_gives_each_segment_a_series(client: TestClient, headers: dict[str, str]) -> None:
    ids = _segments(client, headers)
    response = client.get(
        f"{API}/analytics/compare",
        params=[("segment_id", ids["VIP"]), ("segment_id", ids["Crew"]), ("days", 7)],
        headers=headers,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert 7 <= len(result["buckets"]) <= 8
    assert [series["segment_name"] for series in result["series"]] == ["VIP", "Crew"]
    assert [series["size_now"] for series in result["series"]] == [3, 2]
    # The segments were made today: no size before that (no run of zeros), today's size on the last day.
    for series in result["series"]:
        assert series["sizes"][:-1] == [None] * (len(result["buckets"]) - 1)
        assert series["sizes"][-1] == series["size_now"]
    too_long = client.get(f"{API}/analytics/compare", params={"segment_id": ids["VIP"], "days": 91}, headers=headers)
    assert too_long.status_code == 422


def test_the_cli_gives_the_same_overlap(tmp_path: Path) -> None:
    env = {"FANBASE_DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite3'}", "FANBASE_WORKSPACE": ""}
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(cli, ["workspace", "create", "A"], env=env).exit_code == 0
    source = tmp_path / "fans.csv"
    source.write_text("email,tags\n" + "".join(f"{name}@x.co,{'|'.join(tags)}\n" for name, tags in TAGS.items()))
    assert runner.invoke(cli, ["import", "fans", str(source)], env=env).exit_code == 0
    for tag in ("VIP", "Press"):
        assert runner.invoke(cli, ["segments", "create", tag, "--rule-text", f'tag "{tag}"'], env=env).exit_code == 0
    result = runner.invoke(cli, ["analytics", "overlap", "1", "2", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    overlap = json.loads(result.stdout)
    assert {tuple(region["segments"]): region["fans"] for region in overlap["regions"]} == {
        ("VIP",): 1,
        ("Press",): 1,
        ("VIP", "Press"): 2,
    }
    text = runner.invoke(cli, ["analytics", "overlap", "1", "2"], env=env)
    assert text.exit_code == 0 and "VIP and Press" in text.stdout
    assert runner.invoke(cli, ["analytics", "overlap", "1"], env=env).exit_code == 2
