"""`fanbase messages …` and `fanbase mail …`: compose from a Markdown file, see the audience, send into the local
outbox (the worker's one round), read the mail and its recipients; bad input is one line and a non-zero exit."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from fanbase.cli.main import app
from fanbase.db.engine import Database
from fanbase.schemas.fans import FanIn
from fanbase.schemas.lists import ListIn
from fanbase.schemas.segments import SegmentIn
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import segments

runner = CliRunner()
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _audience(env: dict[str, str]) -> tuple[int, int]:
    database = Database.from_url(env["FANBASE_DATABASE_URL"])
    workspace_id = int(env["FANBASE_WORKSPACE"])
    try:
        ids = [
            fans.create_fan(
                database, workspace_id, FanIn(email=f"cli{i}@example.com", first_name=f"Cli{i}"), now=NOW
            ).id
            for i in range(2)
        ]
        segment = segments.create_segment(database, workspace_id, SegmentIn(name="CLI", kind="static"), now=NOW)
        segments.add_fans(database, workspace_id, segment.id, ids, now=NOW)
        newsletter = lists.create_list(database, workspace_id, ListIn(name="CLI list"), now=NOW)
        lists.subscribe_fans(database, workspace_id, newsletter.id, ids[:1], consent_source="test", now=NOW)
    finally:
        database.dispose()
    return segment.id, newsletter.id


def test_compose_send_and_read_the_outbox_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    segment_id, list_id = _audience(env)
    body = tmp_path / "body.md"
    body.write_text("Hello {{ first_name | default('friend') }},\n\nThe **tour** is on.\n", encoding="utf-8")
    created = runner.invoke(
        app,
        [
            *("messages", "create", "--name", "Tour", "--subject", "Tour news", "--body", str(body)),
            *("--segment", str(segment_id), "--list", str(list_id), "--json"),
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    message_id = json.loads(created.stdout)["id"]

    shown = runner.invoke(app, ["messages", "show", str(message_id)], env=env)
    assert shown.exit_code == 0, shown.output
    assert "2 in the segments → 1 reachable: 1 no consent" in shown.stdout
    preview = runner.invoke(app, ["messages", "preview", str(message_id)], env=env)
    assert "Hello friend," in preview.stdout

    sent = runner.invoke(app, ["messages", "send", str(message_id)], env=env)
    assert sent.exit_code == 0 and "going to 1 recipients, to the local outbox" in sent.stdout, sent.output
    ticked = runner.invoke(app, ["worker", "--once"], env=env)
    assert ticked.exit_code == 0 and "mail(s) sent" in ticked.stdout, ticked.output

    recipients = runner.invoke(app, ["messages", "recipients", str(message_id), "--json"], env=env)
    [recipient] = json.loads(recipients.stdout)["items"]
    assert (recipient["email"], recipient["state"]) == ("cli0@example.com", "sent")
    outbox = runner.invoke(app, ["mail", "outbox", "--message", str(message_id)], env=env)
    assert "cli0@example.com" in outbox.stdout and "1 mails in the outbox." in outbox.stdout
    listed = runner.invoke(app, ["messages", "list", "--json"], env=env)
    assert json.loads(listed.stdout)["items"][0]["status"] == "sent"


def test_bad_input_is_one_line_and_a_non_zero_exit(env: dict[str, str], tmp_path: Path) -> None:
    body = tmp_path / "body.md"
    body.write_text("Hello {{ frist_name }}\n", encoding="utf-8")
    refused = runner.invoke(app, ["messages", "create", "--name", "x", "--subject", "s", "--body", str(body)], env=env)
    assert refused.exit_code == 2, refused.output
    assert "body" in refused.output and "frist_name" in refused.output
    body.write_text("Hello\n", encoding="utf-8")
    created = runner.invoke(
        app, ["messages", "create", "--name", "x", "--subject", "s", "--body", str(body), "--json"], env=env
    )
    message_id = json.loads(created.stdout)["id"]
    unsendable = runner.invoke(app, ["messages", "send", str(message_id)], env=env)
    assert unsendable.exit_code == 2 and "segment" in unsendable.output
    naive = runner.invoke(app, ["messages", "send", str(message_id), "--at", "2030-01-01T09:00"], env=env)
    assert naive.exit_code == 2 and "--at" in naive.output
    assert runner.invoke(app, ["messages", "show", "999999"], env=env).exit_code == 1
    rate = runner.invoke(app, ["mail", "settings", "--rate", "5", "--json"], env=env)
    assert rate.exit_code == 0 and json.loads(rate.stdout)["send_rate"] == 5
