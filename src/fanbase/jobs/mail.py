"""Sending mail: start scheduled messages when due, claim recipients, deliver over SMTP (or into the local outbox),
record each outcome. ``services.mail_delivery`` says how a crash is survived (exactly once, and the one exception).

``FANBASE_SMTP_URL`` names the relay: ``smtps://user:password@host:465`` (implicit TLS),
``smtp+starttls://user:password@host:587`` (STARTTLS required) or ``smtp://host:25`` (STARTTLS when the server offers
it; for a relay on the same host). Unset, mail goes to the local outbox (the dashboard shows it). Several
connections send in parallel (``FANBASE_MAIL_CONNECTIONS``), each kept open across mails; each workspace is held to
its own rate (messages a second, in its mail settings) within a sender process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from fanbase.jobs.background import BackgroundLoop
from fanbase.services import mail_delivery
from fanbase.services import messages
from fanbase.services.smtp import OutgoingMail
from fanbase.services.smtp import PermanentFailure
from fanbase.services.smtp import SmtpConnection
from fanbase.services.smtp import TemporaryFailure
from fanbase.services.smtp import parse_smtp_url
from fanbase.services.unit_of_work import Database
from fanbase.settings import Settings

log = logging.getLogger("fanbase.mail")

CLAIM_LIMIT = 200
DEFAULT_CONNECTIONS = 4
DEFAULT_LEASE = timedelta(minutes=2)


class _Pace:
    """Each workspace's rate: how many mails it may claim now (a bucket of one second's worth, refilled as time
    passes)."""

    def __init__(self) -> None:
        self._tokens: dict[int, tuple[float, float]] = {}  # workspace → (tokens, at monotonic)

    def allowance(self, workspace_id: int, rate: int) -> int:
        tokens, at = self._tokens.get(workspace_id, (float(rate), time.monotonic()))
        now = time.monotonic()
        tokens = min(float(rate), tokens + (now - at) * rate)
        self._tokens[workspace_id] = (tokens, now)
        return int(tokens)

    def spend(self, workspace_id: int, count: int) -> None:
        tokens, at = self._tokens[workspace_id]
        self._tokens[workspace_id] = (tokens - count, at)


@dataclass
class SendReport:
    started: int = 0  # scheduled messages that came due
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    bounced: int = 0


class MailSender(BackgroundLoop):
    """Rounds of: start due scheduled messages; per workspace with mail to send, claim what its rate allows, send
    it over ``connections`` parallel SMTP connections (or store it in the outbox), record each outcome."""

    thread_name = "fanbase-mail"

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], datetime],
        base_url: str,
        smtp_url: str | None = None,
        connections: int = DEFAULT_CONNECTIONS,
        interval: float = 1.0,
        lease: timedelta = DEFAULT_LEASE,
        only_workspace: int | None = None,
    ) -> None:
        super().__init__(database, clock=clock, interval=interval)
        self.only_workspace = only_workspace  # a sender for one workspace (tests); None: every workspace
        self.base_url = base_url
        self.relay = parse_smtp_url(smtp_url) if smtp_url else None
        self.lease = lease
        self._pace = _Pace()
        self._local = threading.local()
        self._connections: list[SmtpConnection] = []
        self._connections_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, connections), thread_name_prefix="fanbase-smtp")

    @classmethod
    def from_settings(cls, database: Database, settings: Settings, *, clock: Callable[[], datetime]) -> MailSender:
        """The sender `fanbase serve` and `fanbase worker` run: relay, links, connections and lease as configured."""
        return cls(
            database,
            clock=clock,
            base_url=settings.resolved_public_url(),
            smtp_url=settings.smtp_url,
            connections=settings.mail_connections,
            lease=timedelta(seconds=settings.mail_lease_seconds),
        )

    def run_until(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    report = self.round()
                except Exception:
                    log.exception("mail round failed")
                    report = SendReport()
                if report.claimed == 0:
                    stop.wait(self.interval)
        finally:
            self.close()

    def round(self) -> SendReport:
        now = self.clock()
        report = SendReport(started=len(messages.start_due(self.database, now=now)))
        for workspace_id in mail_delivery.sending_workspaces(self.database):
            if self.only_workspace is not None and workspace_id != self.only_workspace:
                continue
            mail_delivery.record_accepted(self.database, workspace_id, now=now)  # a crashed sender's, if any
            mail_delivery.enqueue_entries(self.database, workspace_id, now=now)
            rate = messages.get_settings(self.database, workspace_id, now=now).send_rate
            allowed = min(CLAIM_LIMIT, self._pace.allowance(workspace_id, rate))
            if allowed <= 0:
                continue
            mails = mail_delivery.claim(
                self.database, workspace_id, now=now, limit=allowed, lease=self.lease, base_url=self.base_url
            )
            self._pace.spend(workspace_id, len(mails))
            report.claimed += len(mails)
            self._deliver(mails, report)
            if mails:
                mail_delivery.record_accepted(self.database, workspace_id, now=self.clock())
        return report

    def _deliver(self, mails: list[OutgoingMail], report: SendReport) -> None:
        if not mails:
            return
        if self.relay is None:
            report.sent += mail_delivery.deliver_to_outbox(self.database, mails, now=self.clock())
            return
        for outcome in self._pool.map(self._send_one, mails):
            setattr(report, outcome, getattr(report, outcome) + 1)

    def _connection(self) -> SmtpConnection:
        connection: SmtpConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            assert self.relay is not None
            connection = SmtpConnection(self.relay)
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _send_one(self, mail: OutgoingMail) -> str:
        try:
            self._connection().send(mail)
        except TemporaryFailure as error:
            state = mail_delivery.record_failure(
                self.database, mail, error=str(error), permanent=False, now=self.clock()
            )
            return "retrying" if state == "queued" else "failed"
        except PermanentFailure as error:
            mail_delivery.record_failure(self.database, mail, error=str(error), permanent=True, now=self.clock())
            return "bounced"
        mail_delivery.record_sent(self.database, mail, now=self.clock())
        return "sent"

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
