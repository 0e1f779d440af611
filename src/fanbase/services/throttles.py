"""Throttles: rate limits per API key and per client address, and a back-off after failed attempts (sign-in,
wrong API keys), with their state in the database so they hold across processes and restarts.

A rate limit is a fixed window (``RateLimit``: so many requests per so many seconds); a request past it is refused
with ``Throttled`` and how long until the window ends. A failure back-off lets ``free`` failures through, then
blocks the key for 1 s, doubling with each further failure up to ``longest``; a success clears an account's count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Database
from fanbase.db.repositories import throttles as throttles_repo
from fanbase.errors import Throttled


@dataclass(frozen=True)
class RateLimit:
    requests: int  # 0: no limit
    seconds: int = 60


@dataclass(frozen=True)
class Quota:
    """Where a request leaves a rate limit: for the ``RateLimit`` / ``RateLimit-Policy`` headers."""

    limit: RateLimit
    remaining: int
    reset_seconds: int


@dataclass(frozen=True)
class BackOff:
    free: int  # failures let through before the first block
    longest: timedelta = timedelta(minutes=15)
    memory: timedelta = timedelta(hours=1)  # failures older than this are forgotten

    def delay(self, failures: int) -> timedelta | None:
        beyond = failures - self.free
        if beyond <= 0:
            return None
        return min(timedelta(seconds=2 ** min(beyond - 1, 20)), self.longest)


def take(database: Database, limits: Sequence[tuple[str, RateLimit]], *, now: datetime) -> Quota | None:
    """Count a request against each key's limit (one transaction); ``Throttled`` once any window is used up. The
    tightest quota left (for the response's headers); None when every limit is off."""
    quotas: list[Quota] = []
    active = [(key, limit) for key, limit in limits if limit.requests > 0]
    if not active:
        return None
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:  # no workspace
        for key, limit in active:
            window = timedelta(seconds=limit.seconds)
            hits, window_start = throttles_repo.count_hit(connection, key, now=now, window=window)
            reset = max(1, math.ceil((window_start + window - now).total_seconds()))
            quotas.append(Quota(limit=limit, remaining=limit.requests - hits, reset_seconds=reset))
    tightest = min(quotas, key=lambda quota: (quota.remaining, -quota.reset_seconds))
    if tightest.remaining < 0:
        limit, reset = tightest.limit, tightest.reset_seconds
        raise Throttled(
            f"more than {limit.requests:,} requests in {limit.seconds} s; retry in {reset} s", retry_after=reset
        )
    return tightest


def check_blocked(database: Database, keys: Sequence[str], *, now: datetime, what: str) -> None:
    """``Throttled`` while any of ``keys`` is backing off after failures (``what`` names the attempts)."""
    with database.transaction(workspace_id=ACROSS_WORKSPACES, write=False) as connection:  # no workspace
        until = throttles_repo.blocked_until(connection, keys, now=now)
    if until is not None:
        wait = max(1, math.ceil((until - now).total_seconds()))
        raise Throttled(f"too many failed {what}; try again in {wait} s", retry_after=wait)


def record_failure(database: Database, keys: Sequence[tuple[str, BackOff]], *, now: datetime) -> None:
    """Count a failed attempt against each key; a key past its free failures backs off."""
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:  # no workspace
        for key, back_off in keys:
            failures = throttles_repo.count_failure(connection, key, now=now, memory=back_off.memory)
            delay = back_off.delay(failures)
            if delay is not None:
                throttles_repo.block(connection, key, until=now + delay)


def clear(database: Database, key: str) -> None:
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:  # no workspace
        throttles_repo.clear(connection, key)


def prune(database: Database, *, now: datetime, older_than: timedelta = timedelta(days=1)) -> int:
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:  # no workspace
        return throttles_repo.prune(connection, before=now - older_than, now=now)
