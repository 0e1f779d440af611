"""One dialect for scripts (issue 14, point 17): exit codes with one meaning each (0 done, 1 failed, 2 a mistake in
the command line or its input, 3 drift found) and ``--json`` on the commands scripts use."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text
from typer.testing import CliRunner

from fanbase.cli.main import app

runner = CliRunner()


def _invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {"FANBASE_DATABASE_URL": f"sqlite:///{tmp_path / 'dialect.sqlite3'}", "FANBASE_WORKSPACE": ""}
    assert _invoke(env, "db", "upgrade")[0] == 0
    return env


def test_scripts_get_json_from_the_commands_they_use(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    code, out, _ = _invoke(env, "workspace", "create", "Aurora", "--json")
    assert code == 0
    created = json.loads(out)
    workspace_id = created["workspace"]["id"]
    assert created["workspace"]["name"] == "Aurora" and created["api_key"]["key"].startswith("fb_")
    env["FANBASE_WORKSPACE"] = str(workspace_id)

    code, out, _ = _invoke(env, "keys", "create", "--name", "shop", "--json")
    assert code == 0 and json.loads(out)["name"] == "shop"

    source = tmp_path / "fans.csv"
    source.write_text("email,first_name,tags\nada@x.co,Ada,VIP\nbo@x.co,Bo,\nnot-an-email,X,\n")
    code, out, _ = _invoke(env, "import", "fans", str(source), "--json")
    report = json.loads(out)
    assert code == 1  # a row was rejected: the import did not do all its work
    assert (report["rows"], report["created"], report["updated"]) == (3, 2, 0)
    assert report["errors"][0]["line"] == 4
    # The same file again changes nobody.
    code, out, _ = _invoke(env, "import", "fans", str(source), "--json")
    assert (json.loads(out)["created"], json.loads(out)["updated"]) == (0, 0)

    code, out, _ = _invoke(env, "export", "fans", "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(fan["email"] for fan in lines) == ["ada@x.co", "bo@x.co"]
    assert next(fan for fan in lines if fan["email"] == "ada@x.co")["tags"] == ["VIP"]

    assert _invoke(env, "segments", "create", "VIPs", "--rule-text", 'tag "VIP"')[0] == 0
    code, out, _ = _invoke(env, "segments", "duplicate", "1")
    assert code == 0 and "VIPs (copy)" in out
    code, out, _ = _invoke(env, "segments", "verify", "--json")
    verified = json.loads(out)
    assert code == 0 and (verified["checked"], verified["drifted"]) == (2, 0)
    assert verified["segments"][0]["segment_name"] == "VIPs"


def test_exit_codes_have_one_meaning_each(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    assert _invoke(env, "workspace", "create", "One")[0] == 0
    # 2: a mistake in the command line or its input.
    assert _invoke(env, "segments", "list", "--no-such-option")[0] == 2
    assert _invoke(env, "segments", "create", "Bad", "--rule-text", "x > 1", "--static")[0] == 2
    assert _invoke(env, "segments", "create", "Bad", "--rule-text", "total_spent >")[0] == 2
    assert _invoke(env, "segments", "refresh")[0] == 2
    assert _invoke(env, "workspace", "create", "Two")[0] == 0
    code, _, err = _invoke(env, "keys", "list")
    assert code == 2 and "there are 2 workspaces" in err
    # 1: the command could not do its work.
    assert _invoke(env, "segments", "show", "999999", "-w", "1")[0] == 1

    # 3: verify found drift (a stored member removed behind fanbase's back).
    env["FANBASE_WORKSPACE"] = "1"
    source = tmp_path / "fans.csv"
    source.write_text("email,tags\nada@x.co,VIP\n")
    assert _invoke(env, "import", "fans", str(source))[0] == 0
    assert _invoke(env, "segments", "create", "VIPs", "--rule-text", 'tag "VIP"')[0] == 0
    engine = create_engine(env["FANBASE_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM segment_members"))
    engine.dispose()
    code, out, _ = _invoke(env, "segments", "verify")
    assert code == 3 and "DRIFT" in out
    code, out, _ = _invoke(env, "segments", "verify", "--json")
    assert code == 3 and json.loads(out)["drifted"] == 1
