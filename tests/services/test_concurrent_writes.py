"""Concurrent writers over the same fans: no error and no drift. Batches lock their fans in id order (no deadlock
between them); a transaction that still loses a race is run again, and only when the retries run out does the caller
get ``Unavailable`` (HTTP 503 with Retry-After)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.db.repositories import fans as fans_repo
from fanbase.errors import Unavailable
from fanbase.schemas.fans import FanIn
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.segments import SegmentIn
from fanbase.services import fans
from fanbase.services import orders_events
from fanbase.services import segments
from fanbase.services import workspaces
from fanbase.settings import Settings
from tests_support import api_client


def test_threads_writing_overlapping_fans_meet_no_error_and_leave_no_drift(
    database: Database, workspace_id: int, now: datetime
) -> None:
    emails = [f"fan{index}@example.com" for index in range(60)]  # created by whichever batch names them first
    segments.create_segment(database, workspace_id, SegmentIn(name="Buyers", rule_text="total_spent > 100"), now=now)
    segments.create_segment(
        database,
        workspace_id,
        SegmentIn(name="Gig goers", rule_text='count(events where type = "gig_attended") >= 2'),
        now=now,
    )
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        try:
            for _ in range(4):
                chosen = rng.sample(emails, 40)  # overlapping sets, each in its own order
                if rng.random() < 0.5:
                    items = [EventIn(email=email, type="gig_attended", occurred_at=now) for email in chosen]
                    orders_events.record_events(database, workspace_id, items, now=now)
                else:
                    orders = [OrderIn(email=email, amount=Decimal(40), category="merch") for email in chosen]
                    orders_events.record_orders(database, workspace_id, orders, now=now)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(drift.is_exact for drift in segments.verify(database, workspace_id, now=now))
    with database.transaction(workspace_id=None) as connection:
        stored = fans_repo.derived_figures(connection, workspace_id)
        fans_repo.recompute_figures(connection, workspace_id)
        assert fans_repo.derived_figures(connection, workspace_id) == stored
        assert len(stored) == len(emails)


def _deadlock_with(database: Database, first: int, second: int, *, call: Callable[[], object]) -> object:
    """Run ``call`` (a batch naming fans ``first`` < ``second``) while another transaction holds ``second`` and then
    asks for ``first``: the batch locks ``first``, waits for ``second``, and PostgreSQL breaks the cycle by failing
    the batch's transaction (it waited first, so it runs the deadlock check first)."""
    holding = threading.Event()

    def other() -> None:
        with database.engine.connect() as connection, connection.begin():
            connection.execute(text("SELECT id FROM fans WHERE id = :id FOR UPDATE"), {"id": second})
            holding.set()
            _wait_for_a_lock_wait(database)  # the batch now holds `first` and waits for `second`
            connection.execute(text("SELECT id FROM fans WHERE id = :id FOR UPDATE"), {"id": first})

    thread = threading.Thread(target=other)
    thread.start()
    holding.wait()
    try:
        return call()
    finally:
        thread.join()


def _wait_for_a_lock_wait(database: Database, *, timeout: float = 20.0) -> None:
    """Until another backend of this database waits for a row lock (a fixed sleep lost the race on a loaded
    machine: the batch had not reached its locks yet, and no deadlock happened)."""
    deadline = time.monotonic() + timeout
    with database.engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            connection.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the batch never waited for the held lock")


def _deadlocks(database: Database) -> int:
    with database.engine.connect() as connection:
        found = connection.execute(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))
        return int(found.scalar_one())


@pytest.mark.postgres
def test_a_batch_that_loses_a_deadlock_runs_again_and_succeeds(postgres_database: Database, now: datetime) -> None:
    workspace_id = workspaces.create_workspace(postgres_database, name="deadlock", now=now).workspace.id
    ada, bo = (
        fans.create_fan(postgres_database, workspace_id, FanIn(email=f"{name}@example.com"), now=now).id
        for name in ("ada", "bo")
    )
    before = _deadlocks(postgres_database)
    orders = [OrderIn(fan_id=fan_id, amount=Decimal(10), category="merch") for fan_id in (bo, ada)]
    reply = _deadlock_with(
        postgres_database,
        ada,
        bo,
        call=lambda: orders_events.record_orders(postgres_database, workspace_id, orders, now=now),
    )
    assert reply.status_code == 201  # type: ignore[attr-defined]
    with postgres_database.transaction(workspace_id=None, write=False) as connection:
        figures = fans_repo.derived_figures(connection, workspace_id)
    assert {figures[ada].purchase_count, figures[bo].purchase_count} == {1}
    assert _deadlocks(postgres_database) > before  # the first try really did lose a deadlock


@pytest.mark.postgres
def test_when_retries_run_out_the_api_answers_503_with_retry_after(
    postgres_database: Database, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orders_events, "ATTEMPTS", 1)
    created = workspaces.create_workspace(postgres_database, name="busy", now=now)
    ada, bo = (
        fans.create_fan(postgres_database, created.workspace.id, FanIn(email=f"{name}@example.com"), now=now).id
        for name in ("ada", "bo")
    )
    app = create_app(database=postgres_database, settings=Settings(), clock=lambda: now, dashboard=False)
    body = {"items": [{"fan_id": fan_id, "type": "gig_attended"} for fan_id in (ada, bo)]}
    with api_client(app) as client:
        response = _deadlock_with(
            postgres_database,
            ada,
            bo,
            call=lambda: client.post(
                "/api/v1/events/batch", json=body, headers={"Authorization": f"Bearer {created.api_key.key}"}
            ),
        )
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.headers["Retry-After"] == "1"  # type: ignore[attr-defined]
    assert "retry" in response.json()["detail"]  # type: ignore[attr-defined]
    with pytest.raises(Unavailable):
        _deadlock_with(
            postgres_database,
            ada,
            bo,
            call=lambda: orders_events.record_events(
                postgres_database,
                created.workspace.id,
                [
                    EventIn(fan_id=fan_id, type="gig_attended", occurred_at=now - timedelta(days=1))
                    for fan_id in (bo, ada)
                ],
                now=now,
            ),
        )
    with postgres_database.transaction(workspace_id=None, write=False) as connection:
        figures = fans_repo.derived_figures(connection, created.workspace.id)
    assert figures[ada].last_active_at is None  # nothing was written by either refused batch
