"""`fanbase segments verify` on the demo workspace after a burst of mixed writes: zero drift."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fanbase.cli.main import app
from fanbase.clock import utc_now
from fanbase.db.engine import Database
from fanbase.schemas.fans import FanPatch
from fanbase.schemas.lists import SubscriptionIn
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.segments import SegmentPatch
from fanbase.services import demo
from fanbase.services import fan_csv
from fanbase.services import fans
from fanbase.services import lists as lists_service
from fanbase.services import membership
from fanbase.services import orders_events
from fanbase.services import segments
from fanbase.services import tags as tags_service
from fanbase.services import workspaces

runner = CliRunner()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'verify.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


def test_verify_reports_zero_drift_after_a_burst_of_mixed_writes(url: str) -> None:
    environment = {"FANBASE_DATABASE_URL": url, "FANBASE_WORKSPACE": ""}
    assert runner.invoke(app, ["db", "upgrade"], env=environment).exit_code == 0
    database = Database.from_url(url)
    # The real clock: `verify` reads it, as a person running it would.
    now = utc_now()
    workspace_id = demo.create_demo_workspace(database, now=now - timedelta(minutes=5), fans=300).workspace.id
    for template in segments.list_templates():
        if template.name not in {segment.name for segment in segments.list_segments(database, workspace_id)}:
            segments.create_from_template(database, workspace_id, template.key, now=now - timedelta(minutes=4))
    membership.apply_time(database, workspace_id, now=now - timedelta(minutes=4))
    rng = random.Random(5)
    fan_ids = [fan.id for fan in fans.list_fans(database, workspace_id, fans.FanFilter(), page=1, page_size=300).items]
    tags = tags_service.list_tags(database, workspace_id)
    lists = lists_service.list_lists(database, workspace_id)
    moment = now - timedelta(minutes=3)
    for step in range(60):
        moment += timedelta(seconds=2)
        fan_id = rng.choice(fan_ids)
        match step % 6:
            case 0:
                orders_events.record_order(
                    database,
                    workspace_id,
                    OrderIn(fan_id=fan_id, amount=Decimal(rng.randint(1, 20000)) / 100, category="merch"),
                    now=moment,
                )
            case 1:
                batch = [EventIn(fan_id=rng.choice(fan_ids), type="gig_attended") for _ in range(5)]
                orders_events.record_events(database, workspace_id, batch, now=moment)
            case 2:
                tags_service.tag_fans(database, workspace_id, rng.choice(tags).id, [fan_id], now=moment)
            case 3:
                status = rng.choice(["subscribed", "unsubscribed", "bounced"])
                lists_service.set_subscription(
                    database,
                    workspace_id,
                    rng.choice(lists).id,
                    SubscriptionIn(fan_ids=(fan_id,), status=status),
                    now=moment,  # type: ignore[arg-type]
                )
            case 4:
                stage = rng.choice(["subscriber", "lead", "customer", "advocate"])
                fans.update_fan(database, workspace_id, fan_id, FanPatch(lifecycle_stage=stage), now=moment)  # type: ignore[arg-type]
            case _:
                csv = f"email,tags\nnew{step}@example.com,VIP\n".encode()
                fan_csv.import_fans_csv(database, workspace_id, csv, now=moment)
    big = next(s for s in segments.list_segments(database, workspace_id) if s.name == "Total Spent > $100")
    segments.update_segment(database, workspace_id, big.id, SegmentPatch(rule_text="total_spent > 80"), now=moment)
    database.dispose()

    result = runner.invoke(app, ["segments", "verify", "--workspace", str(workspace_id)], env=environment)
    assert result.exit_code == 0, result.output
    assert f"{len(segments.list_templates())} dynamic segment(s) checked; 0 with drift." in " ".join(
        result.stdout.split()
    )


def test_history_commands_show_the_ledger(url: str) -> None:
    environment = {"FANBASE_DATABASE_URL": url, "FANBASE_WORKSPACE": ""}
    assert runner.invoke(app, ["db", "upgrade"], env=environment).exit_code == 0
    database = Database.from_url(url)
    now = utc_now() - timedelta(minutes=10)
    workspace_id = workspaces.create_workspace(database, name="ledger", now=now).workspace.id
    segment = segments.create_segment(
        database, workspace_id, SegmentIn(name="Buyers", rule_text="purchase_count > 0"), now=now
    )
    reply = orders_events.record_order(
        database, workspace_id, OrderIn(email="cli@example.com", amount=Decimal(3), category="music"), now=now
    )
    fan_id = reply.body["fan_id"]
    database.dispose()

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "--workspace", str(workspace_id)], env=environment)
        assert result.exit_code == 0, result.output
        return " ".join(re.sub(r"[\u2500-\u257f]", " ", result.stdout).split())  # without table borders

    assert "cli@example.com Buyers entered write 1" in run("segments", "history", str(segment.id))
    assert "Buyers dynamic" in run("fans", "segments", str(fan_id))
    assert "1 of 1 members" in run("segments", "members-as-of", str(segment.id), "--at", utc_now().isoformat())
    assert "0 of 0 members" in run(
        "segments", "members-as-of", str(segment.id), "--at", (now - timedelta(days=1)).isoformat()
    )
    assert run("segments", "sizes", str(segment.id), "--days", "2").split()[-3:] == ["1", "1", "0"]
    bad = runner.invoke(app, ["segments", "members-as-of", str(segment.id), "--at", "yesterday"], env=environment)
    assert bad.exit_code != 0
    assert "--at" in bad.stderr
