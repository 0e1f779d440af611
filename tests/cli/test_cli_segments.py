"""`fanbase segments …` on SQLite and PostgreSQL, through the real command line (as a user types it)."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fanbase.cli.main import app

runner = CliRunner()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """A workspace with three fans, selected through FANBASE_WORKSPACE as a user would."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    environment = {"FANBASE_DATABASE_URL": url, "FANBASE_WORKSPACE": ""}
    assert invoke(environment, "db", "upgrade")[0] == 0
    code, out, err = invoke(environment, "workspace", "create", f"Band {uuid.uuid4().hex[:6]}")
    assert code == 0, err
    match = re.search(r"Created workspace (\d+)", out)
    assert match, out
    environment["FANBASE_WORKSPACE"] = match.group(1)
    fans = tmp_path / "fans.csv"
    fans.write_text(
        "email,first_name,lifecycle_stage,tags,lists\n"
        "ada@x.co,Ada,customer,VIP,Fan Club\n"
        "bo@x.co,Bo,subscriber,,\n"
        "cy@x.co,Cy,advocate,VIP|Press,\n"
    )
    code, out, err = invoke(environment, "import", "fans", str(fans))
    assert code == 0, out + err
    return environment


def invoke(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def created_id(out: str) -> int:
    match = re.search(r"Created segment (\d+)", out)
    assert match, out
    return int(match.group(1))


def test_create_from_text_list_show_and_export_members(env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = invoke(env, "segments", "create", "VIPs", "--rule-text", 'tag "VIP"', "--description", "Top")
    assert code == 0, err
    assert "(dynamic, 2 fans)" in out and 'Rule: tag "VIP"' in out and 'In English: Has tag "VIP"' in out
    vips = created_id(out)

    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"field": "lifecycle_stage", "op": "=", "value": "subscriber"}))
    code, out, err = invoke(env, "segments", "create", "Subscribers", "--rule-json", str(rule))
    assert code == 0 and "(dynamic, 1 fan)" in out, err
    code, out, err = invoke(
        env,
        "segments",
        "create",
        "Advocates",
        "--rule-json",
        "-",
        stdin='{"field": "lifecycle_stage", "op": "in", "value": ["advocate"]}',
    )
    assert code == 0 and "(dynamic, 1 fan)" in out, err
    code, out, err = invoke(env, "segments", "from-template", "is-customer")
    assert code == 0 and "Is Customer" in out and "1 fan" in out, err

    code, out, _ = invoke(env, "segments", "list")
    assert code == 0
    for name in ("VIPs", "Subscribers", "Advocates", "Is Customer"):
        assert name in out
    assert "dynamic" in out and "just now" in out

    code, out, _ = invoke(env, "segments", "show", str(vips))
    assert code == 0 and "Top" in out and 'Rule: tag "VIP"' in out and "Rule version 1" in out

    code, out, _ = invoke(env, "segments", "members", str(vips))
    assert code == 0
    assert sorted(row["email"] for row in csv.DictReader(io.StringIO(out))) == ["ada@x.co", "cy@x.co"]
    target = tmp_path / "vips.csv"
    code, _, err = invoke(env, "segments", "members", str(vips), "--out", str(target))
    assert code == 0 and str(target) in err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(row["email"], row["tags"]) for row in rows] == [("ada@x.co", "VIP"), ("cy@x.co", "Press;VIP")]

    code, out, err = invoke(
        env, "segments", "edit", str(vips), "--rule-text", 'tag "VIP" and lifecycle_stage = advocate'
    )
    assert code == 0 and "(dynamic, 1 fan)" in out, err
    code, out, _ = invoke(env, "segments", "refresh", "--all")
    assert code == 0 and "Refreshed 4 dynamic segments." in out
    code, out, _ = invoke(env, "segments", "delete", str(vips), "--yes")
    assert code == 0 and f"Deleted segment {vips}." in out
    assert invoke(env, "segments", "show", str(vips))[0] == 1


def test_preview_prints_the_count_each_condition_and_a_sample(env: dict[str, str]) -> None:
    code, out, err = invoke(env, "segments", "preview", 'tag "VIP" and lifecycle_stage in (customer, subscriber)')
    assert code == 0, err
    assert out.startswith("1 fan matches.")
    assert re.search(r"all\[0\].*Has tag \"VIP\".*2", out) and re.search(r"all\[1\].*2", out), out
    assert "ada@x.co" in out and "bo@x.co" not in out
    assert invoke(env, "segments", "list")[1].count("dynamic") == 0  # nothing was created
    code, out, err = invoke(env, "segments", "preview", 'count(events where type = "gig_atended") > 0')
    assert code == 0, err
    assert "Hint (count.where.value): no event type 'gig_atended' has been recorded yet" in out, out


def test_static_segment_add_and_remove(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = invoke(env, "segments", "create", "Press", "--static")
    assert code == 0 and "(static, 0 fans)" in out
    press = created_id(out)
    emails = tmp_path / "press.csv"
    emails.write_text("email\nada@x.co\nBO@x.co\n")
    code, out, err = invoke(env, "segments", "add", str(press), "--emails-csv", str(emails))
    assert code == 0 and "2 entered" in out and "2 members" in out, err
    members = list(csv.DictReader(io.StringIO(invoke(env, "segments", "members", str(press))[1])))
    bo = next(int(row["id"]) for row in members if row["email"] == "bo@x.co")
    code, out, _ = invoke(env, "segments", "remove", str(press), "--fan-id", str(bo))
    assert code == 0 and "1 left" in out and "1 members" in out
    code, out, _ = invoke(env, "segments", "add", str(press), "--fan-id", str(bo), "--fan-id", str(bo))
    assert code == 0 and "1 entered" in out


BAD_INPUT: list[tuple[list[str], str]] = [
    (
        ["create", "Bad", "--rule-text", 'country = "FR" and count(orders where colour = "red") >= 2'],
        "error: all[1].count.where.field: unknown order field 'colour'",
    ),
    (["preview", "total_spent contains 5"], "error: op: operator 'contains' does not apply to money field"),
    (["preview", 'tag "VIP" and\n total_spent >'], "error: line 2, column 15: unexpected the end of the rule"),
    (["preview", 'segment "Nope"'], "error: segment: unknown segment 'Nope'"),
    (["create", "Bad", "--rule-text", "x > 1", "--static"], "give exactly one of --rule-text, --rule-json or"),
    (["create", "Bad", "--rule-json", "-"], "error: --rule-json: not valid JSON"),
    (["show", "999999"], "error: segment 999999 not found"),
    (["show", "0"], "Invalid value for 'segment_id'"),
    (["from-template", "nope"], "error: no template 'nope'; see `fanbase segments templates`"),
    (["refresh"], "error: give a segment id or --all"),
    (["add", "1"], "error: give --fan-id (one or more) or --emails-csv"),
]


def test_bad_input_is_one_line_and_a_non_zero_exit(env: dict[str, str]) -> None:
    for args, message in BAD_INPUT:
        code, out, err = invoke(env, "segments", *args, stdin="{not json")
        assert code != 0, args
        assert out == "", args
        assert err.count("\n") == 1 and err.startswith("error: ") and message in err, (args, err)


def test_a_segment_in_use_is_not_deleted(env: dict[str, str]) -> None:
    code, out, _ = invoke(env, "segments", "create", "VIPs", "--rule-text", 'tag "VIP"')
    vips = created_id(out)
    assert (
        invoke(env, "segments", "create", "VIP advocates", "-r", 'segment "VIPs" and lifecycle_stage = advocate')[0]
        == 0
    )
    code, out, err = invoke(env, "segments", "delete", str(vips), "--yes")
    assert code == 1 and err == "error: segment 'VIPs' is used by: VIP advocates\n"
    code, out, err = invoke(env, "segments", "delete", str(vips), stdin="n\n")
    assert code == 1 and "aborted" in err
