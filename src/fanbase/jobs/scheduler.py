"""The time-driven scheduler: every few seconds, apply the membership changes that time alone caused.

It runs inside `fanbase serve` (a background thread) and as `fanbase worker` on its own. Several may run at once:
each workspace's tick takes a database lock (see ``scheduler_repo.try_lock_workspace``), so only one acts on a
workspace at a time and the others skip it. Flips are applied within one interval of their due time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta

from fanbase.jobs.background import BackgroundLoop
from fanbase.services import audit
from fanbase.services import membership
from fanbase.services import orders_events
from fanbase.services import sales_sources
from fanbase.services import segments
from fanbase.services import throttles
from fanbase.services.unit_of_work import Database

log = logging.getLogger("fanbase.scheduler")

DEFAULT_INTERVAL_SECONDS = 15.0
# How often the scheduler refreshes the query planner's statistics (SQLite never does by itself; see
# Database.refresh_planner_statistics): data that grows through writes keeps its good plans.
STATISTICS_EVERY = timedelta(minutes=10)
# How often segment size changes are folded (see services.segments.compact_sizes).
SIZES_EVERY = timedelta(minutes=1)
# How often ended throttle windows and back-offs are forgotten (see services.throttles.prune).
HOUSEKEEPING_EVERY = timedelta(hours=1)


def tick(database: Database, *, now: datetime) -> list[membership.TickReport]:
    """One pass over every workspace with dynamic segments. A workspace that fails is logged and retried next
    tick; its error is kept on the scheduler state (and on the segment when one rule fails)."""
    reports = []
    for workspace_id in membership.time_workspaces(database):
        try:
            reports.append(membership.apply_time(database, workspace_id, now=now))
        except Exception:
            log.exception("time-driven evaluation failed for workspace %s", workspace_id)
    return reports


class Scheduler(BackgroundLoop):
    """A background thread calling ``tick`` every ``interval`` seconds until stopped."""

    thread_name = "fanbase-scheduler"

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], datetime],
        interval: float = DEFAULT_INTERVAL_SECONDS,
        also: Callable[[datetime], object] | None = None,
        idempotency_ttl: timedelta = orders_events.IDEMPOTENCY_TTL,
        audit_retention: timedelta = audit.RETENTION,
    ) -> None:
        super().__init__(database, clock=clock, interval=interval)
        self.also = also  # e.g. webhook delivery, run after each tick
        # Chores beside the tick, each at its own pace: (what, how often, the work); _last_run says when each ran.
        self._chores: list[tuple[str, timedelta, Callable[[datetime], object]]] = [
            ("refreshing planner statistics", STATISTICS_EVERY, lambda _now: database.refresh_planner_statistics()),
            ("folding segment size changes", SIZES_EVERY, lambda _now: segments.compact_sizes(database)),
            ("forgetting ended throttles", HOUSEKEEPING_EVERY, lambda now: throttles.prune(database, now=now)),
            (
                "forgetting expired idempotency replies",
                HOUSEKEEPING_EVERY,
                lambda now: orders_events.forget_expired_replies(database, now=now, ttl=idempotency_ttl),
            ),
            (
                "forgetting old audit entries",
                HOUSEKEEPING_EVERY,
                lambda now: audit.forget_old(database, now=now, retention=audit_retention),
            ),
            (
                "forgetting old sales deliveries",
                HOUSEKEEPING_EVERY,
                lambda now: sales_sources.forget_old_deliveries(database, now=now),
            ),
        ]
        self._last_run: dict[str, datetime] = {}

    def run_once(self) -> list[membership.TickReport]:
        now = self.clock()
        for what, every, work in self._chores:
            last = self._last_run.get(what)
            if last is None or now - last >= every:
                try:
                    work(now)
                except Exception:
                    log.exception("%s failed", what)
                self._last_run[what] = now
        reports = tick(self.database, now=now)
        if self.also is not None:
            try:
                self.also(now)
            except Exception:
                log.exception("scheduled job failed")
        return reports

    def run_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("scheduler tick failed")
            stop.wait(self.interval)
