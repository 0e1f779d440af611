"""`fanbase audit`, `fanbase fans export-one` and `fanbase suppressions …` (issue 15): the CLI speaks the API's
privacy and audit features; what it does is audited as the command line."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from typer.testing import CliRunner

from fanbase.cli.main import app

runner = CliRunner()


def test_suppressions_export_and_the_audit_log_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    emails = tmp_path / "fans.csv"
    emails.write_text("email,first_name\nsam@example.com,Sam\n")
    assert runner.invoke(app, ["import", "fans", str(emails)], env=env).exit_code == 0
    exported = runner.invoke(app, ["export", "fans", "--json"], env=env)
    fan_id = json.loads(exported.stdout.splitlines()[0])["id"]

    one = runner.invoke(app, ["fans", "export-one", str(fan_id)], env=env)
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["fan"]["email"] == "sam@example.com"
    assert runner.invoke(app, ["fans", "export-one", "999999"], env=env).exit_code == 1

    added = runner.invoke(app, ["suppressions", "add", "Gone@Example.com"], env=env)
    assert added.exit_code == 0 and "Suppressed gone@example.com." in added.stdout
    shown = runner.invoke(app, ["suppressions", "show", "gone@example.com"], env=env)
    assert shown.exit_code == 0 and "suppressed (requested)" in shown.stdout
    emails.write_text("email\ngone@example.com\n")
    imported = runner.invoke(app, ["import", "fans", str(emails)], env=env)
    assert "is suppressed" in imported.output
    assert runner.invoke(app, ["suppressions", "lift", "gone@example.com"], env=env).exit_code == 0
    assert runner.invoke(app, ["suppressions", "show", "gone@example.com"], env=env).exit_code == 1

    log = runner.invoke(app, ["audit", "--json"], env=env)
    assert log.exit_code == 0, log.output
    entries = json.loads(log.stdout)["items"]
    actions = [entry["action"] for entry in entries]
    assert {"export.fans", "export.fan", "suppression.added", "suppression.lifted"} <= set(actions)
    assert all(entry["actor"] == f"command line {getpass.getuser()}" for entry in entries)
    text = runner.invoke(app, ["audit", "--action", "export.fan"], env=env)
    assert text.exit_code == 0 and f"fan {fan_id}" in text.stdout
    unknown = runner.invoke(app, ["audit", "--action", "made.up"], env=env)
    assert unknown.exit_code == 2
