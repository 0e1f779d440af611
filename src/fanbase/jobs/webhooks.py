"""Webhook delivery: claim due outbox rows, POST them signed, record the outcome, retry with backoff.

At-least-once: a row is marked delivered only after a 2xx, so a crash between the POST and the record sends it
again (receivers dedupe on ``Fanbase-Webhook-Id``). Claims are short transactions that lease the rows (see
``services.webhooks.claim_due``); the POSTs happen outside any transaction, so a slow receiver never holds a lock.

Start it with ``DeliveryWorker(database, clock=utc_now).start()`` and ``.stop()``, or run
``run_delivery_loop(database, stop_event, clock)`` in a thread of your own; ``deliver_due`` is one round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from random import Random

import httpx

from fanbase.errors import InvalidInput
from fanbase.jobs.background import BackgroundLoop
from fanbase.services import webhooks
from fanbase.services.unit_of_work import Database

log = logging.getLogger("fanbase.webhooks")

DEFAULT_LIMIT = 100
DEFAULT_INTERVAL_SECONDS = 2.0
REQUEST_TIMEOUT_SECONDS = 5.0
# A round sends its rows one after another, each bounded by the timeout: the lease outlasts the slowest round, so
# no other worker takes a row over while this one may still send it. Only a crashed worker's rows wait this long.
LEASE_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class DeliveryReport:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0  # failed this round and scheduled for a retry
    gave_up: int = 0  # failed for the last time
    skipped: int = 0  # the event's source was erased before delivery: nothing sent


def lease_for(limit: int, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> timedelta:
    return timedelta(seconds=limit * timeout) + LEASE_MARGIN


def _send(
    client: httpx.Client, delivery: webhooks.PendingDelivery, *, now: datetime, allow_private_targets: bool
) -> str | None:
    """POST one delivery; None on a 2xx, else what went wrong (one line)."""
    try:
        # Checked again at send time: the name may resolve elsewhere now (DNS rebinding); the request then goes to
        # the address just checked.
        target = webhooks.check_target(delivery.url, allow_private=allow_private_targets)
    except InvalidInput as error:
        return f"target refused: {error.message}"
    headers = delivery.headers(now=now)
    extensions = {}
    if target.host is not None:
        headers["Host"] = target.host
        extensions["sni_hostname"] = target.server_name
    try:
        # Redirects are not followed (a 3xx is a failure): following one could lead to an address never checked.
        # The response body is not read: only the status matters.
        with client.stream(
            "POST",
            target.url,
            content=delivery.body,
            headers=headers,
            timeout=REQUEST_TIMEOUT_SECONDS,
            follow_redirects=False,
            extensions=extensions,
        ) as response:
            if 200 <= response.status_code < 300:
                return None
            return f"HTTP {response.status_code}"
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"[:500]


def deliver_due(
    database: Database,
    *,
    now: datetime,
    client: httpx.Client,
    limit: int = DEFAULT_LIMIT,
    allow_private_targets: bool = False,
    jitter: Random | None = None,
    workspace_id: int | None = None,
) -> DeliveryReport:
    """One round: claim up to ``limit`` due deliveries, send each, record each result. ``now`` is passed in (the
    loop reads the clock); ``jitter`` spreads retry times (None: exact backoff, for tests); ``workspace_id``
    limits the round to one workspace (the loop serves them all)."""
    claimed = webhooks.claim_due(database, now=now, limit=limit, lease=lease_for(limit), workspace_id=workspace_id)
    delivered = failed = gave_up = 0
    for delivery in claimed.deliveries:
        error = _send(client, delivery, now=now, allow_private_targets=allow_private_targets)
        if error is None:
            webhooks.record_success(database, delivery, now=now)
            delivered += 1
        elif webhooks.record_failure(database, delivery, now=now, error=error, jitter=jitter):
            gave_up += 1
        else:
            failed += 1
    return DeliveryReport(
        claimed=len(claimed.deliveries) + claimed.skipped,
        delivered=delivered,
        failed=failed,
        gave_up=gave_up,
        skipped=claimed.skipped,
    )


def run_delivery_loop(
    database: Database,
    stop_event: threading.Event,
    clock: Callable[[], datetime],
    interval: float = DEFAULT_INTERVAL_SECONDS,
    *,
    allow_private_targets: bool = False,
    client: httpx.Client | None = None,
    limit: int = DEFAULT_LIMIT,
) -> None:
    """Deliver until ``stop_event`` is set: a full round is followed at once by the next (a backlog drains
    quickly), otherwise the loop waits ``interval`` seconds. Errors (database down…) are logged, never fatal."""
    own_client = client is None
    http = client or httpx.Client()
    jitter = Random()  # spreading retries, not security: no need for a CSPRNG
    try:
        while not stop_event.is_set():
            try:
                report = deliver_due(
                    database,
                    now=clock(),
                    client=http,
                    limit=limit,
                    allow_private_targets=allow_private_targets,
                    jitter=jitter,
                )
            except Exception:
                log.exception("webhook delivery round failed")
                report = DeliveryReport()
            if report.claimed < limit:
                stop_event.wait(interval)
    finally:
        if own_client:
            http.close()


class DeliveryWorker(BackgroundLoop):
    """``run_delivery_loop`` in a daemon thread: ``start()`` and ``stop()`` (which waits for the current round)."""

    thread_name = "fanbase-webhooks"

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], datetime],
        interval: float = DEFAULT_INTERVAL_SECONDS,
        allow_private_targets: bool = False,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(database, clock=clock, interval=interval)
        self.allow_private_targets = allow_private_targets
        self.client = client

    def run_until(self, stop: threading.Event) -> None:
        run_delivery_loop(
            self.database,
            stop,
            self.clock,
            self.interval,
            allow_private_targets=self.allow_private_targets,
            client=self.client,
        )

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to stop and wait for it (a round in progress finishes its current request first)."""
        super().stop(timeout)
