"""Throttles (issue 15): sign-in backs off per account and per client address, checked before any hashing; the
state is in the database, so a second process (a second Database on the same URL) sees it; rate limits count per
fixed window. Both backends."""

from __future__ import annotations

import uuid
from datetime import datetime
from datetime import timedelta

import pytest

from fanbase.db.engine import Database
from fanbase.errors import Throttled
from fanbase.errors import Unauthorized
from fanbase.jobs.scheduler import Scheduler
from fanbase.services import throttles
from fanbase.services import users
from fanbase.services.throttles import BackOff
from fanbase.services.throttles import RateLimit

PASSWORD = "a long enough password"


def _email() -> str:
    return f"throttle-{uuid.uuid4().hex[:8]}@example.com"


def _client() -> str:
    return f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"


def test_back_off_doubles_from_one_second_up_to_its_longest() -> None:
    back_off = BackOff(free=5, longest=timedelta(minutes=15))
    assert [back_off.delay(n) for n in (1, 5)] == [None, None]
    assert [back_off.delay(n).total_seconds() for n in (6, 7, 8, 9)] == [1, 2, 4, 8]  # type: ignore[union-attr]
    assert back_off.delay(40) == timedelta(minutes=15)


def test_failed_sign_ins_back_off_per_account_even_for_the_right_password(
    database: Database, workspace_id: int, now: datetime
) -> None:
    email, client = _email(), _client()
    users.create_user(database, workspace_id, email=email, password=PASSWORD, now=now)
    for _ in range(users.ACCOUNT_BACK_OFF.free):
        with pytest.raises(Unauthorized):
            users.sign_in(database, email=email, password="wrong password!", now=now, client=client)
    with pytest.raises(Unauthorized):  # the sixth failure is counted and starts the back-off
        users.sign_in(database, email=email, password="wrong password!", now=now, client=client)
    with pytest.raises(Throttled, match="too many failed sign-ins; try again in 1 s") as refused:
        users.sign_in(database, email=email, password=PASSWORD, now=now, client=_client())  # from anywhere
    assert refused.value.retry_after == 1
    # A second process on the same database sees the same back-off.
    second = Database.from_url(str(database.engine.url.render_as_string(hide_password=False)))
    try:
        with pytest.raises(Throttled):
            users.sign_in(second, email=email, password=PASSWORD, now=now, client=client)
    finally:
        second.dispose()
    # Once it has passed, the right password signs in, and the count starts again.
    later = now + timedelta(seconds=2)
    assert users.sign_in(database, email=email, password=PASSWORD, now=later, client=client).user.email == email
    with pytest.raises(Unauthorized):
        users.sign_in(database, email=email, password="wrong password!", now=later, client=client)


def test_failed_sign_ins_back_off_per_client_address_across_accounts(database: Database, now: datetime) -> None:
    client = _client()
    for _ in range(users.ADDRESS_BACK_OFF.free + 1):
        with pytest.raises(Unauthorized):
            users.sign_in(database, email=_email(), password="guess guess", now=now, client=client)
    with pytest.raises(Throttled):
        users.sign_in(database, email=_email(), password="guess guess", now=now, client=client)
    with pytest.raises(Unauthorized):  # another address is not held back
        users.sign_in(database, email=_email(), password="guess guess", now=now, client=_client())


def test_old_failures_are_forgotten(database: Database, workspace_id: int, now: datetime) -> None:
    email, client = _email(), _client()
    users.create_user(database, workspace_id, email=email, password=PASSWORD, now=now)
    for _ in range(users.ACCOUNT_BACK_OFF.free):
        with pytest.raises(Unauthorized):
            users.sign_in(database, email=email, password="wrong password!", now=now, client=client)
    later = now + users.ACCOUNT_BACK_OFF.memory + timedelta(seconds=1)
    with pytest.raises(Unauthorized):  # not Throttled: a new run of failures
        users.sign_in(database, email=email, password="wrong password!", now=later, client=client)
    with pytest.raises(Unauthorized):
        users.sign_in(database, email=email, password="wrong password!", now=later, client=client)


def test_a_rate_limit_counts_per_fixed_window(database: Database, now: datetime) -> None:
    key = f"test:{uuid.uuid4().hex}"
    limit = RateLimit(3, seconds=60)
    quotas = [throttles.take(database, ((key, limit),), now=now + timedelta(seconds=index)) for index in range(3)]
    assert [(quota.remaining, quota.reset_seconds) for quota in quotas if quota] == [(2, 60), (1, 59), (0, 58)]
    with pytest.raises(Throttled, match="more than 3 requests in 60 s; retry in 50 s") as refused:
        throttles.take(database, ((key, limit),), now=now + timedelta(seconds=10))
    assert refused.value.retry_after == 50
    fresh = throttles.take(database, ((key, limit),), now=now + timedelta(seconds=60))
    assert fresh is not None and fresh.remaining == 2
    assert throttles.take(database, ((key, RateLimit(0)),), now=now) is None  # a limit of 0 is off


def test_the_tightest_of_several_limits_is_reported(database: Database, now: datetime) -> None:
    wide, narrow = f"test:{uuid.uuid4().hex}", f"test:{uuid.uuid4().hex}"
    quota = throttles.take(database, ((wide, RateLimit(100)), (narrow, RateLimit(5))), now=now)
    assert quota is not None and quota.limit.requests == 5 and quota.remaining == 4


def test_pruning_forgets_ended_windows_but_not_running_back_offs(database: Database, now: datetime) -> None:
    ended, blocked = f"test:{uuid.uuid4().hex}", f"test:{uuid.uuid4().hex}"
    throttles.take(database, ((ended, RateLimit(10)),), now=now - timedelta(days=2))
    throttles.record_failure(
        database, ((blocked, BackOff(free=0, longest=timedelta(days=9))),), now=now - timedelta(days=2)
    )
    for _ in range(20):
        throttles.record_failure(
            database, ((blocked, BackOff(free=0, longest=timedelta(days=9))),), now=now - timedelta(days=2)
        )
    assert throttles.prune(database, now=now) >= 1
    with pytest.raises(Throttled):
        throttles.check_blocked(database, (blocked,), now=now, what="tries")
    fresh = throttles.take(database, ((ended, RateLimit(10)),), now=now)
    assert fresh is not None and fresh.remaining == 9


def test_the_scheduler_forgets_ended_throttles(database: Database, now: datetime) -> None:
    ended = f"test:{uuid.uuid4().hex}"
    throttles.take(database, ((ended, RateLimit(1)),), now=now - timedelta(days=3))
    Scheduler(database, clock=lambda: now).run_once()
    fresh = throttles.take(database, ((ended, RateLimit(1)),), now=now - timedelta(days=3))
    assert fresh is not None and fresh.remaining == 0  # counted anew: the old row was gone
