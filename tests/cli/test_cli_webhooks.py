"""`fanbase webhooks …`: add (secret printed once), list, deliveries, disable; refusals are one error line."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from fanbase.cli.main import app

runner = CliRunner()


def test_webhooks_add_list_deliveries_disable(env: dict[str, str]) -> None:
    refused = runner.invoke(app, ["webhooks", "add", "http://127.0.0.1:9/hook"], env=env)
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: url: refused: 127.0.0.1")

    allowed = {**env, "FANBASE_ALLOW_PRIVATE_WEBHOOK_TARGETS": "true"}
    added = runner.invoke(app, ["webhooks", "add", "http://127.0.0.1:9/hook", "-e", "segment.exited"], env=allowed)
    assert added.exit_code == 0, added.output
    match = re.search(r"Created webhook (\d+) → http://127.0.0.1:9/hook for segment.exited", added.stdout)
    secret = added.stdout.strip().splitlines()[-1]
    assert match and len(secret) >= 40, added.stdout
    webhook_id = match.group(1)

    listed = runner.invoke(app, ["webhooks", "list"], env=env)
    assert listed.exit_code == 0 and "segment.exited" in listed.stdout and secret not in listed.stdout
    deliveries = runner.invoke(app, ["webhooks", "deliveries", webhook_id], env=env)
    assert deliveries.exit_code == 0 and "0 of 0 deliveries." in deliveries.stdout

    bad_event = runner.invoke(app, ["webhooks", "add", "http://127.0.0.1:9/x", "-e", "fan.created"], env=allowed)
    assert bad_event.exit_code == 2 and bad_event.stderr.startswith("error: events.0:")

    disabled = runner.invoke(app, ["webhooks", "disable", webhook_id], env=env)
    assert disabled.exit_code == 0 and f"Disabled webhook {webhook_id}." in disabled.stdout
    missing = runner.invoke(app, ["webhooks", "disable", "999999"], env=env)
    assert missing.exit_code == 1 and "webhook 999999 not found" in missing.stderr
