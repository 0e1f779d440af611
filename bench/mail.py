"""Mail: how fast fanbase sends a message to a local SMTP sink, and how fast it counts a reachable audience.

Targets (issue 16): 100,000 recipients sent at 500 messages a second or more on SQLite and PostgreSQL, memory flat;
the reachable audience of a 1,000,000-fan segment counted in 1 s or less.

The sink is aiosmtpd in a process of its own (it accepts and counts, nothing more). The baseline, measured in the
same run against the same sink with the same number of connections, is plain ``smtplib`` sending one prepared mail
over and over: what SMTP alone costs on this machine. fanbase's figure includes everything else: claiming through
the database, rendering each fan's mail, marking each sent with its ``message_sent`` event.

    python -m bench.mail [--recipients 100000] [--audience-fans 1000000] [--backend both] [--connections 4]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import smtplib
import socket
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.load import load
from bench.run import OUT
from bench.run import machine
from bench.run import throwaway_database
from fanbase.db.engine import Database
from fanbase.jobs.mail import MailSender
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.lists import ListIn
from fanbase.schemas.messages import MailSettingsPatch
from fanbase.schemas.messages import MessageIn
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import SegmentIn
from fanbase.services import fans as fans_service
from fanbase.services import lists
from fanbase.services import messages
from fanbase.services import previews
from fanbase.services import segments

BASE_URL = "https://fans.example.com"
BODY = (
    "Hi {{ first_name | default('friend') }},\n\nWe're going on **tour** this spring, and you're among the first"
    " to know.\n\n[Get tickets](https://tickets.example.com/tour) before Friday.\n\nSee you down the front!\n"
) * 3


def _serve_sink(port: int, received: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with received.get_lock():
                received.value += len(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    stop.wait()
    controller.stop()


@contextmanager
def sink() -> Iterator[tuple[str, Any]]:
    """An SMTP sink in a process of its own: its URL, and the count of mails it received."""
    context = multiprocessing.get_context("spawn")
    received, stop = context.Value("q", 0), context.Event()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = context.Process(target=_serve_sink, args=(port, received, stop), daemon=True)
    process.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=2).quit()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"smtp://127.0.0.1:{port}?tls=none", received
    finally:
        stop.set()
        process.join(10)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def raw_smtp_rate(url: str, count: int, connections: int) -> float:
    """Plain smtplib over ``connections`` connections, one prepared 5 KB mail: messages a second."""
    port = int(url.rsplit(":", 1)[1].split("?")[0])
    mail = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\n\r\n" + (b"x" * 76 + b"\r\n") * 64

    def send(share: int) -> None:
        smtp = smtplib.SMTP("127.0.0.1", port)
        for _ in range(share):
            smtp.sendmail("a@example.com", ["b@example.com"], mail)
        smtp.quit()

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(send, [count // connections] * connections))
    return (count // connections * connections) / (time.perf_counter() - started)


def _everyone(database: Database, workspace_id: int, now: datetime) -> tuple[int, int]:
    """A static segment of every fan and a list every fan subscribed to: every fan reachable."""
    everyone = fans_service.matching_fan_ids(database, workspace_id, FanFilter(), now=now)
    segment = segments.create_segment(database, workspace_id, SegmentIn(name="Bench: everyone", kind="static"), now=now)
    segments.add_fans(database, workspace_id, segment.id, everyone, now=now)
    audience_list = lists.create_list(database, workspace_id, ListIn(name="Bench: mail"), now=now)
    lists.subscribe_fans(database, workspace_id, audience_list.id, everyone, consent_source="bench", now=now)
    return segment.id, audience_list.id


def send_run(backend: str, *, recipients: int, connections: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    with throwaway_database(backend) as database, sink() as (url, received):
        loaded = load(database, fans=recipients)
        workspace_id = loaded.workspace_id
        segment_id, list_id = _everyone(database, workspace_id, now)
        messages.update_settings(database, workspace_id, MailSettingsPatch(send_rate=1000), now=now)
        baseline = raw_smtp_rate(url, min(recipients, 20_000), connections)
        received.value = 0
        message = messages.create_message(
            database,
            workspace_id,
            MessageIn(
                name="Bench",
                subject="Tour news, {{ first_name }}",
                body=BODY,
                segment_ids=(segment_id,),
                list_id=list_id,
            ),
            now=now,
        )
        freeze_started = time.perf_counter()
        sent = messages.send_message(database, workspace_id, message.id, at=None, now=now)
        freeze_seconds = time.perf_counter() - freeze_started
        sender = MailSender(
            database, clock=lambda: datetime.now(UTC), base_url=BASE_URL, smtp_url=url, connections=connections
        )
        memory = [rss_mb()]
        started = time.perf_counter()
        try:
            while messages.get_message(database, workspace_id, message.id).status == "sending":
                sender.round()
                memory.append(rss_mb())
        finally:
            sender.close()
        seconds = time.perf_counter() - started
        stats = messages.stats(database, workspace_id, message.id)
    rate = stats.sent / seconds
    return {
        "backend": backend,
        "recipients": sent.recipients,
        "sent": stats.sent,
        "sink_received": received.value,
        "freeze_seconds": round(freeze_seconds, 2),
        "send_seconds": round(seconds, 1),
        "messages_per_second": round(rate),
        "raw_smtp_per_second": round(baseline),
        "ratio_to_raw_smtp": round(rate / baseline, 2),
        "rss_mb_start_max_end": [round(memory[0]), round(max(memory)), round(memory[-1])],
        "rss_mb_at_quarters": [round(memory[len(memory) * q // 4 - 1 if q else 0]) for q in range(5)],
    }


def audience_run(backend: str, *, fans: int, runs: int = 5) -> dict[str, Any]:
    now = datetime.now(UTC)
    with throwaway_database(backend) as database:
        loaded = load(database, fans=fans)
        workspace_id = loaded.workspace_id
        segment = segments.create_segment(
            database, workspace_id, SegmentIn(name="Bench: everyone", rule_text="purchase_count >= 0"), now=now
        )
        newsletter = max(lists.list_lists(database, workspace_id), key=lambda fan_list: fan_list.subscribed)
        message = messages.create_message(
            database,
            workspace_id,
            MessageIn(name="Bench", subject="s", body="b", segment_ids=(segment.id,), list_id=newsletter.id),
            now=now,
        )
        times, audience = [], None
        for _ in range(runs + 1):
            started = time.perf_counter()
            audience = messages.audience(database, workspace_id, message.id)
            times.append(time.perf_counter() - started)
        # The baseline, in the same run: a preview of the segment's rule, fanbase's own count over the same fans.
        floor = []
        for _ in range(runs):
            started = time.perf_counter()
            previews.preview(database, workspace_id, RuleIn(rule_text="purchase_count >= 0"), now=now)
            floor.append(time.perf_counter() - started)
    assert audience is not None
    median = statistics.median(times[1:])
    return {
        "backend": backend,
        "fans": fans,
        "total": audience.total,
        "reachable": audience.reachable,
        "summary": audience.summary,
        "audience_seconds_median": round(median, 3),
        "audience_seconds_max": round(max(times[1:]), 3),
        "rule_preview_seconds_median": round(statistics.median(floor), 3),
        "ratio_to_rule_preview": round(median / statistics.median(floor), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mail", description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--audience-fans", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--skip", choices=("send", "audience"), action="append", default=[])
    arguments = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if arguments.backend == "both" else (arguments.backend,)
    results: dict[str, Any] = {"machine": machine(), "send": [], "audience": []}
    for backend in backends:
        if "send" not in arguments.skip:
            result = send_run(backend, recipients=arguments.recipients, connections=arguments.connections)
            print(json.dumps(result), flush=True)
            results["send"].append(result)
        if "audience" not in arguments.skip:
            result = audience_run(backend, fans=arguments.audience_fans)
            print(json.dumps(result), flush=True)
            results["audience"].append(result)
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (OUT / f"mail_{stamp}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
