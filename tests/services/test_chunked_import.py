"""Fan imports in chunks (issue 15, point 6): each chunk is its own transaction, so other writers wait for one
chunk, not the file; an import that fails part-way keeps its whole chunks and the same file imported again resumes
after them, ending where a single run would have. Both backends; the concurrent writers on SQLite."""

from __future__ import annotations

import csv
import io
import threading
import uuid
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from fanbase.db.engine import Database
from fanbase.db.tables import imports
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.fans import FanIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.tags import TagIn
from fanbase.services import fan_csv
from fanbase.services import fans
from fanbase.services import orders_events
from fanbase.services import segments
from fanbase.services import tags
from fanbase.services import workspaces
from tests_support import members_of
from tests_support import oracle_members


def _csv(rows: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["email", "first_name", "lifecycle_stage", "tags"])
    for index in range(rows):
        writer.writerow(
            [
                f"fan{index}@example.com",
                f"Fan {index}",
                "customer" if index % 4 else "lead",
                "VIP" if index % 3 == 0 else "",
            ]
        )
    return buffer.getvalue().encode()


def _snapshot(database: Database, workspace_id: int) -> dict[str, tuple[object, ...]]:
    return {
        fan.email: (fan.first_name, fan.lifecycle_stage, fan.tags)
        for fan in fans.iterate_fans(database, workspace_id, FanFilter())
    }


def _workspace(database: Database, now: datetime) -> int:
    workspace_id = workspaces.create_workspace(database, name=f"chunks {uuid.uuid4().hex[:6]}", now=now).workspace.id
    tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
    segments.create_segment(
        database, workspace_id, SegmentIn(name="VIP leads", rule_text='tag "VIP" and lifecycle_stage = lead'), now=now
    )
    return workspace_id


class Interrupted(Exception):
    pass


def test_an_import_interrupted_part_way_resumes_to_the_same_end(database: Database, now: datetime) -> None:
    data = _csv(1_000)
    whole = _workspace(database, now)
    report = fan_csv.import_fans_csv(database, whole, data, now=now, chunk_size=100)
    assert (report.created, report.updated) == (1_000, 0)

    parts = _workspace(database, now)
    seen: list[int] = []

    def interrupt_after_three_chunks(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == 3:
            raise Interrupted  # the process dies here, between chunks

    with pytest.raises(Interrupted):
        fan_csv.import_fans_csv(database, parts, data, now=now, chunk_size=100, progress=interrupt_after_three_chunks)
    assert len(_snapshot(database, parts)) == 300  # three whole chunks, nothing of the fourth
    with database.transaction(workspace_id=None, write=False) as connection:
        record = connection.execute(select(imports).where(imports.c.workspace_id == parts)).one()
    # As a killed process leaves it: still "running" (a failed chunk would have marked it "failed"); either resumes.
    assert (record.status, record.chunks, record.chunks_done) == ("running", 10, 3)

    written: list[int] = []
    resumed = fan_csv.import_fans_csv(
        database, parts, data, now=now, chunk_size=100, progress=lambda d, t: written.append(d)
    )
    assert resumed.import_id == record.id
    assert (resumed.created, resumed.updated) == (700, 0)  # the chunks the first run did not write
    assert written[0] == 400  # it started at the fourth chunk
    assert _snapshot(database, parts) == _snapshot(database, whole)
    segment = {s.name: s for s in segments.list_segments(database, parts)}["VIP leads"]
    assert members_of(database, parts, segment.id) == oracle_members(database, parts, segment.id, now=now)
    assert segment.size == sum(1 for index in range(1_000) if index % 3 == 0 and index % 4 == 0)

    again = fan_csv.import_fans_csv(database, parts, data, now=now, chunk_size=100)
    assert (again.created, again.updated) == (0, 0) and again.import_id != record.id  # a new, finished run


def test_writers_get_in_during_a_long_sqlite_import(sqlite_database: Database, now: datetime) -> None:
    """Orders recorded while a 20,000-fan import runs (10 chunks): every one is written, none times out."""
    database = sqlite_database
    workspace_id = _workspace(database, now)
    buyer = fans.create_fan(database, workspace_id, FanIn(email="buyer@example.com"), now=now).id
    failures: list[BaseException] = []
    done = threading.Event()

    def write_orders() -> None:
        count = 0
        while not done.is_set() or count < 20:
            try:
                orders_events.record_order(
                    database, workspace_id, OrderIn(fan_id=buyer, amount=Decimal("1"), category="merch"), now=now
                )
            except BaseException as error:
                failures.append(error)
            count += 1

    writer = threading.Thread(target=write_orders)
    writer.start()
    try:
        report = fan_csv.import_fans_csv(database, workspace_id, _csv(20_000), now=now)
    finally:
        done.set()
        writer.join()
    assert report.created == 20_000
    assert failures == []
    assert fans.get_fan(database, workspace_id, buyer).purchase_count >= 20
