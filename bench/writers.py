"""Concurrent writers over HTTP (issue 13): 1, 2 and 4 clients each sending mixed order and event batches over the
same fans at once, with the segments live. Figures: items per second over the whole round, and every answer that
was not 201 (a deadlock or any other failure would show here; 503 is counted apart, as the retries running out).

In-process ASGI (the whole HTTP stack without a socket), one app and client per writer, sharing the database.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.testclient import TestClient

from bench.baselines import BENCH_RATE_LIMITS
from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.settings import Settings

CLIENTS = (1, 2, 4)


def _body(rnd: random.Random, highest_fan: int, *, batch_size: int, is_orders: bool) -> dict[str, Any]:
    if is_orders:
        items = [
            {
                "fan_id": rnd.randint(1, highest_fan),
                "amount": str(Decimal(rnd.randint(100, 9000)) / 100),
                "category": rnd.choice(("merch", "music", "ticket")),
            }
            for _ in range(batch_size)
        ]
    else:
        items = [
            {"fan_id": rnd.randint(1, highest_fan), "type": rnd.choice(("gig_attended", "email_opened", "page_viewed"))}
            for _ in range(batch_size)
        ]
    return {"items": items}


def _round(
    database: Database,
    *,
    clients: int,
    headers: dict[str, str],
    highest_fan: int,
    now: datetime,
    batches: int,
    batch_size: int,
    seed: int,
) -> tuple[Counter[int], float]:
    """One round: ``clients`` writers at once, each its own app and client; the answers' statuses and the seconds."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(clients)

    # The apps are built and warmed here, one after another (see bench.under_load._client: FastAPI finishes
    # building routes on first requests, on routers shared by every app of the process, and that raced in threads).
    settings = Settings(run_scheduler=False, **BENCH_RATE_LIMITS)
    apps = [
        create_app(database=database, settings=settings, clock=lambda: now, dashboard=False) for _ in range(clients)
    ]
    for app in apps:
        TestClient(app).get("/api/v1/warm-up")

    def writer(index: int) -> None:
        rnd = random.Random(seed * 100 + clients * 10 + index)
        with TestClient(apps[index]) as client:
            start.wait()
            for batch in range(batches):
                is_orders = (batch + index) % 2 == 0
                path = "/api/v1/orders/batch" if is_orders else "/api/v1/events/batch"
                body = _body(rnd, highest_fan, batch_size=batch_size, is_orders=is_orders)
                response = client.post(path, json=body, headers=headers)
                with lock:
                    statuses[response.status_code] += 1

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, time.perf_counter() - started


def concurrent_writers(
    database: Database,
    *,
    api_key: str,
    highest_fan: int,
    now: datetime,
    batches: int,
    batch_size: int = 1000,
    seed: int = 11,
) -> dict[str, Any]:
    """For each number of clients: ``batches`` batches per client, alternating orders and events."""
    result: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {api_key}"}
    for clients in CLIENTS:
        statuses, seconds = _round(
            database,
            clients=clients,
            headers=headers,
            highest_fan=highest_fan,
            now=now,
            batches=batches,
            batch_size=batch_size,
            seed=seed,
        )
        items = statuses.get(201, 0) * batch_size
        result[str(clients)] = {
            "clients": clients,
            "batches": clients * batches,
            "batch_size": batch_size,
            "items_per_second": items / seconds,
            "seconds": seconds,
            "errors": sum(count for status, count in statuses.items() if status not in (201, 503)),
            "unavailable": statuses.get(503, 0),
            "statuses": {str(status): count for status, count in sorted(statuses.items())},
        }
    return result
