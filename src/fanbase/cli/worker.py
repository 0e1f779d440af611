"""`fanbase worker`: the time-driven scheduler (and webhook delivery) on its own, without the web server."""

from __future__ import annotations

from typing import Annotated

import typer

from fanbase.cli.common import open_database
from fanbase.cli.common import stdout
from fanbase.clock import utc_now
from fanbase.jobs.mail import MailSender
from fanbase.jobs.scheduler import DEFAULT_INTERVAL_SECONDS
from fanbase.jobs.scheduler import Scheduler
from fanbase.jobs.webhooks import DeliveryWorker
from fanbase.settings import Settings


def worker(
    interval: Annotated[
        float, typer.Option(help="Seconds between ticks (flips are applied within one interval)", min=0.5, max=60)
    ] = DEFAULT_INTERVAL_SECONDS,
    once: Annotated[bool, typer.Option("--once", help="Run one tick and one round of mail, then exit")] = False,
) -> None:
    """Apply time-driven membership changes (e.g. "inactive for 30 days") as they fall due, deliver webhooks, and
    send mail (scheduled messages when due; over FANBASE_SMTP_URL, or into the local outbox without it).

    Safe to run beside `fanbase serve` or another worker: each workspace's tick takes a database lock."""
    settings = Settings()
    with open_database() as database:
        scheduler = Scheduler(
            database,
            clock=utc_now,
            interval=interval,
            idempotency_ttl=settings.idempotency_ttl,
            audit_retention=settings.audit_retention,
        )
        deliveries = DeliveryWorker(
            database, clock=utc_now, allow_private_targets=settings.allow_private_webhook_targets
        )
        mail = MailSender.from_settings(database, settings, clock=utc_now)
        if once:
            reports = scheduler.run_once()
            moved = sum(report.entered + report.exited for report in reports)
            stdout().print(f"{len(reports)} workspace(s) ticked; {moved} membership change(s).")
            try:
                sent = mail.round()
            finally:
                mail.close()
            stdout().print(f"{sent.sent} mail(s) sent, {sent.retrying} to retry, {sent.bounced} bounced.")
            return
        where = "over SMTP" if settings.smtp_url else "to the local outbox"
        stdout().print(
            f"worker: ticking every {interval:g} s, delivering webhooks and sending mail {where}; Ctrl-C to stop."
        )
        deliveries.start()
        mail.start()
        try:
            scheduler.run_forever()
        except KeyboardInterrupt:
            stdout().print("worker: stopped.")
        finally:
            mail.stop()
            deliveries.stop()
