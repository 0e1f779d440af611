"""``python -m bench.under_load [--rows 200000] [--seconds 60] [--writers 8]`` — issue 15's load targets.

1. **SQLite, writes during a long import.** A workspace with 10 live segments imports a ``--rows``-row fan CSV
   while two clients post order batches (100 orders each) over HTTP for as long as it runs. Figures: every answer's
   status (the target: none fails), the writers' wait per batch (p50, p95, max), and the import's time against the
   same import alone in the same run (the cost of letting writers in between its chunks).
2. **PostgreSQL, ``--writers`` concurrent writers for ``--seconds``.** Each posts mixed order and event batches
   (100 items) over the same fans, segments live. Figures: every answer's status (the target: no 5xx), items/s.

In-process ASGI (the whole HTTP stack without a socket), one app and client per writer. Prints figures, writes
JSON to ``bench/out/``; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import threading
import time
from collections import Counter
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from bench.baselines import BENCH_RATE_LIMITS
from bench.run import OUT
from bench.run import throwaway_database
from bench.stats import summarise
from bench.writers import _body
from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.schemas.fans import FanIn
from fanbase.services import fan_csv
from fanbase.services import fans
from fanbase.services import segments
from fanbase.services import workspaces
from fanbase.settings import Settings

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SEGMENT_TEMPLATES = 10
BATCH = 100
FANS_FOR_WRITERS = 2_000


def _workspace(database: Database, name: str, *, buyers: int) -> tuple[int, str, list[int]]:
    """A workspace with live segments and fans for writers to buy for: (id, API key, the buyers' ids)."""
    created = workspaces.create_workspace(database, name=name, now=NOW)
    workspace_id = created.workspace.id
    for template in segments.list_templates()[:SEGMENT_TEMPLATES]:
        segments.create_from_template(database, workspace_id, template.key, now=NOW)
    ids = [
        fans.create_fan(database, workspace_id, FanIn(email=f"buyer{index}@example.com"), now=NOW).id
        for index in range(buyers)
    ]
    return workspace_id, created.api_key.key, ids


def _csv(rows: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["email", "first_name", "lifecycle_stage", "country", "tags"])
    for index in range(rows):
        stage = rnd.choice(("subscriber", "lead", "customer", "advocate"))
        writer.writerow([f"import{index}@example.com", f"Fan {index}", stage, rnd.choice(("GB", "FR", "US")), ""])
    return buffer.getvalue().encode()


def _client(database: Database) -> TestClient:
    """Built and warmed in the main thread. FastAPI finishes building an app's routes on its first requests, and
    the routers are module-level, shared by every app of the process: apps doing that at once in threads raced (a
    route parameter's alias, set on a shared field, made pydantic warn). One request that no route serves walks them
    all first."""
    settings = Settings(run_scheduler=False, **BENCH_RATE_LIMITS)
    client = TestClient(create_app(database=database, settings=settings, clock=lambda: NOW, dashboard=False))
    client.get("/api/v1/warm-up")
    return client


class _Writers:
    """Clients posting batches of ``BATCH`` over the workspace's fans from threads until stopped (each at least one
    batch, however short the run): every answer's status, and each batch's time."""

    def __init__(self, database: Database, *, key: str, fan_ids: list[int], seeds: list[int], mixed: bool) -> None:
        self.headers = {"Authorization": f"Bearer {key}"}
        self.fan_ids = fan_ids
        self.mixed = mixed  # orders and events alternately, else orders only
        self.statuses: Counter[int] = Counter()
        self.waits: list[float] = []
        self.lock = threading.Lock()
        self.until = threading.Event()
        self.threads = [
            threading.Thread(target=self._loop, args=(_client(database), random.Random(seed))) for seed in seeds
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.until.set()
        for thread in self.threads:
            thread.join()

    def _loop(self, client: TestClient, rnd: random.Random) -> None:
        with client:
            batch = 0
            while batch == 0 or not self.until.is_set():
                is_orders = not self.mixed or batch % 2 == 0
                path = "/api/v1/orders/batch" if is_orders else "/api/v1/events/batch"
                body = _body(rnd, len(self.fan_ids), batch_size=BATCH, is_orders=is_orders)
                for item in body["items"]:  # _body numbers fans from 1: these are this workspace's
                    item["fan_id"] = self.fan_ids[item["fan_id"] - 1]
                started = time.perf_counter()
                response = client.post(path, json=body, headers=self.headers)
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.statuses[response.status_code] += 1
                    self.waits.append(elapsed)
                batch += 1

    def figures(self) -> dict[str, Any]:
        return {
            "batches": sum(self.statuses.values()),
            "statuses": dict(self.statuses),
            "batch_ms": summarise([wait * 1000 for wait in self.waits]),
        }


def import_with_writers(database: Database, rows: int, *, buyers: int = FANS_FOR_WRITERS) -> dict[str, Any]:
    """On a migrated database (SQLite is the case that matters: one writer at a time)."""
    data = _csv(rows, seed=1)
    alone_id, _, _ = _workspace(database, "import alone", buyers=0)
    started = time.perf_counter()
    alone = fan_csv.import_fans_csv(database, alone_id, data, now=NOW)
    alone_seconds = time.perf_counter() - started

    workspace_id, key, buyer_ids = _workspace(database, "import with writers", buyers=buyers)
    writers = _Writers(database, key=key, fan_ids=buyer_ids, seeds=[1, 2], mixed=False)
    writers.start()
    started = time.perf_counter()
    try:
        report = fan_csv.import_fans_csv(database, workspace_id, _csv(rows, seed=2), now=NOW)
    finally:
        import_seconds = time.perf_counter() - started
        writers.stop()
    figures = writers.figures()
    return {
        "rows": rows,
        "import_alone_s": round(alone_seconds, 2),
        "import_with_writers_s": round(import_seconds, 2),
        "ratio": round(import_seconds / alone_seconds, 2),
        "created": [alone.created, report.created],
        "writer_batches": figures["batches"],
        "statuses": figures["statuses"],
        "writer_wait_ms": figures["batch_ms"],
    }


def concurrent_writers(
    database: Database, writers: int, seconds: float, *, buyers: int = FANS_FOR_WRITERS
) -> dict[str, Any]:
    """On a migrated database: ``writers`` clients posting mixed batches for ``seconds``."""
    _, key, buyer_ids = _workspace(database, "writers", buyers=buyers)
    clients = _Writers(
        database, key=key, fan_ids=buyer_ids, seeds=[100 + index for index in range(writers)], mixed=True
    )
    started = time.perf_counter()
    clients.start()
    time.sleep(seconds)
    clients.stop()
    elapsed = time.perf_counter() - started
    figures = clients.figures()
    return {
        "writers": writers,
        "seconds": round(elapsed, 1),
        "batches": figures["batches"],
        "statuses": figures["statuses"],
        "server_errors": sum(count for status, count in clients.statuses.items() if status >= 500),
        "items_per_s": round(clients.statuses.get(201, 0) * BATCH / elapsed),
        "batch_ms": figures["batch_ms"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--writers", type=int, default=8)
    arguments = parser.parse_args(argv)
    with throwaway_database("sqlite") as database:
        upgrade(database.engine)
        imported = import_with_writers(database, arguments.rows)
    with throwaway_database("postgresql") as database:
        upgrade(database.engine)
        written = concurrent_writers(database, arguments.writers, arguments.seconds)
    result = {"sqlite_import_with_writers": imported, "postgresql_writers": written}
    print(json.dumps(result, indent=2))
    OUT.mkdir(parents=True, exist_ok=True)
    path = Path(OUT) / f"under_load_{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
