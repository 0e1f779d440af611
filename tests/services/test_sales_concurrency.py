"""Vendors send related deliveries at once (Shopify's orders/create and orders/paid of one order, a retry racing the
original), and two imports of one file can overlap: the order is recorded once and every writer answers normally."""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select

from fanbase.db.engine import Database
from fanbase.db.tables import orders
from fanbase.services import sales_csv
from fanbase.services import sales_sources
from fanbase.services import sales_webhooks
from fanbase.services import signatures
from fanbase.services import workspaces

WEBHOOKS = Path(__file__).parent.parent / "data" / "webhooks"
SECRET = "shpss_concurrent_secret"
WRITERS = 4


def _order_count(database: Database, workspace_id: int) -> int:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(orders).where(orders.c.workspace_id == workspace_id)
            ).scalar_one()
        )


def _at_once(work: list[object]) -> list[object]:
    """Run each callable in its own thread, released together; their results (or the exceptions they raised)."""
    start = threading.Barrier(len(work))
    results: list[object] = [None] * len(work)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = work[index]()  # type: ignore[operator]
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_the_same_shopify_order_delivered_by_several_at_once_is_one_order(database: Database, now: datetime) -> None:
    """shopify.dev, "Ignore duplicate webhooks": the same order may arrive on several topics and more than once."""
    workspace_id = workspaces.create_workspace(database, name="race", currency="EUR", now=now).workspace.id
    sales_sources.set_source(database, workspace_id, "shopify", SECRET, now=now, actor=None)
    body = (WEBHOOKS / "shopify_orders_paid.json").read_bytes()
    headers = {
        "x-shopify-topic": "orders/paid",
        "x-shopify-hmac-sha256": signatures.sign_shopify(SECRET, body),
        "x-shopify-webhook-id": "race",
    }
    results = _at_once(
        [
            lambda: sales_webhooks.receive(database, workspace_id, "shopify", body, headers, now=now)
            for _ in range(WRITERS)
        ]
    )
    outcomes = sorted(result.body["outcome"] for result in results)  # type: ignore[attr-defined]
    assert outcomes == ["processed"] + ["unchanged"] * (WRITERS - 1)
    assert _order_count(database, workspace_id) == len(json.loads(body)["line_items"])


def test_two_imports_of_one_file_at_once_record_each_order_once(database: Database, now: datetime) -> None:
    """sales_csv: a chunk refused by an order a concurrent import wrote first is written again and finds it."""
    workspace_id = workspaces.create_workspace(database, name="race", currency="USD", now=now).workspace.id
    lines = ["email,amount,category,placed_at,external_id"] + [
        f"fan{index % 40}@example.com,{index}.50,merch,2026-03-01T10:00:00Z,race-{index}" for index in range(300)
    ]
    data = "\n".join(lines).encode()
    reports = _at_once(
        [
            lambda: sales_csv.import_sales_csv(
                database, workspace_id, io.BytesIO(data), kind="orders", now=now, chunk_rows=50
            )
            for _ in range(2)
        ]
    )
    created = [report.orders_created for report in reports]  # type: ignore[attr-defined]
    assert sum(created) == 300
    assert _order_count(database, workspace_id) == 300
