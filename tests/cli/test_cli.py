from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fanbase.cli.main import app

runner = CliRunner()
KEY = re.compile(r"fb_[0-9a-f]{8}_\S+")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment a user would set: a fresh SQLite file, or the test PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    environment = {"FANBASE_DATABASE_URL": url, "FANBASE_WORKSPACE": ""}
    result = runner.invoke(app, ["db", "upgrade"], env=environment)
    assert result.exit_code == 0, result.output
    return environment


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def create_workspace(env: dict[str, str]) -> tuple[int, str]:
    code, out, err = invoke(env, "workspace", "create", f"Band {uuid.uuid4().hex[:6]}", "--currency", "eur")
    assert code == 0, err
    match = re.search(r"Created workspace (\d+)", out)
    key = KEY.search(out)
    assert match and key, out
    return int(match.group(1)), key.group(0)


def test_workspace_create_prints_a_key_once_and_keys_can_be_managed(env: dict[str, str]) -> None:
    workspace_id, key = create_workspace(env)
    code, out, _ = invoke(env, "workspace", "list")
    assert code == 0 and "EUR" in out
    code, out, _ = invoke(env, "keys", "list", "--workspace", str(workspace_id))
    assert code == 0 and key[:11] in out and key not in out
    code, out, _ = invoke(env, "keys", "create", "--workspace", str(workspace_id), "--name", "shop")
    assert code == 0 and KEY.search(out)
    code, out, _ = invoke(env, "keys", "revoke", "2000000", "--workspace", str(workspace_id))
    assert code == 1


def test_import_with_errors_exits_1_and_writes_the_report(env: dict[str, str], tmp_path: Path) -> None:
    workspace_id, _ = create_workspace(env)
    source = tmp_path / "fans.csv"
    source.write_text("email,first_name,tags\nada@x.co,Ada,VIP\nnot-an-email,Bob,\n,Nobody,\ncy@x.co,Cy,VIP|Press\n")
    report = tmp_path / "errors.csv"
    code, out, err = invoke(env, "import", "fans", str(source), "-w", str(workspace_id), "--errors", str(report))
    assert code == 1
    assert "4 rows: 2 created, 0 updated, 2 rejected." in out
    assert "error: 2 of 4 rows were rejected" in err
    rows = list(csv.DictReader(io.StringIO(report.read_text())))
    assert [(row["line"], row["email"]) for row in rows] == [("3", "not-an-email"), ("4", "")]
    assert rows[1]["reason"] == "email: required"

    clean = tmp_path / "clean.csv"
    clean.write_text("email,last_name\nada@x.co,Lovelace\n")
    code, out, _ = invoke(env, "import", "fans", str(clean), "-w", str(workspace_id))
    assert code == 0 and "0 created, 1 updated, 0 rejected" in out

    code, out, _ = invoke(env, "export", "fans", "-w", str(workspace_id), "--tag", "vip")
    assert code == 0
    exported = list(csv.DictReader(io.StringIO(out)))
    assert [(row["email"], row["last_name"], row["tags"]) for row in exported] == [
        ("ada@x.co", "Lovelace", "VIP"),
        ("cy@x.co", "", "Press;VIP"),
    ]
    target = tmp_path / "out.csv"
    code, _, _ = invoke(env, "export", "fans", "-w", str(workspace_id), "--out", str(target))
    assert code == 0 and target.read_text().count("\n") == 3

    code, out, _ = invoke(env, "fans", "recompute", "-w", str(workspace_id))
    assert code == 0 and "2 fans" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["workspace", "create", "X", "--bogus"], "No such option: --bogus"),
        (["workspace", "create", "X", "--currency", "EURO"], "currency: must be a three-letter ISO 4217 code"),
        (["export", "fans", "-w", "1", "--lifecycle-stage", "superstar"], "lifecycle_stage: Input should be"),
        (["keys", "list", "--workspace", "abc"], "Invalid value for '--workspace'"),
        (["keys", "list", "--workspace", "2000000"], "workspace 2000000 not found"),
        (["import", "fans", "/no/such/file.csv", "-w", "1"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_a_non_zero_exit(
    env: dict[str, str], args: list[str], message: str
) -> None:
    code, out, err = invoke(env, *args)
    assert code != 0
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


def test_unknown_columns_and_workspace_selection(env: dict[str, str], tmp_path: Path) -> None:
    workspace_id, _ = create_workspace(env)
    typo = tmp_path / "typo.csv"
    typo.write_text("email,frist_name\na@x.co,A\n")
    code, _, err = invoke(env, "import", "fans", str(typo), "-w", str(workspace_id))
    assert code == 2 and "unknown column 'frist_name'" in err and err.count("\n") == 1
    code, out, _ = invoke({**env, "FANBASE_WORKSPACE": str(workspace_id)}, "keys", "list")
    assert code == 0 and "default" in out


def test_only_workspace_is_chosen_and_schema_is_checked(tmp_path: Path) -> None:
    env = {"FANBASE_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}", "FANBASE_WORKSPACE": ""}
    code, _, err = invoke(env, "workspace", "list")
    assert code == 1 and "fanbase db upgrade" in err
    assert invoke(env, "db", "upgrade")[0] == 0
    code, _, err = invoke(env, "keys", "list")
    assert code == 1 and "no workspace yet" in err
    create_workspace(env)
    assert invoke(env, "keys", "list")[0] == 0
    create_workspace(env)
    code, _, err = invoke(env, "keys", "list")
    assert code == 2 and "there are 2 workspaces" in err


def test_demo_command(tmp_path: Path) -> None:
    env = {"FANBASE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "FANBASE_WORKSPACE": ""}
    code, out, _ = invoke(env, "demo", "--fans", "50")
    assert code == 0 and "Demo — Aurora Lane" in out and KEY.search(out)
    code, out, _ = invoke(env, "export", "fans")
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 50
