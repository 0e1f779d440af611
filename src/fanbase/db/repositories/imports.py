"""Import records: a chunked import's progress, so the same file imported again resumes it."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from fanbase.db.tables import imports


class ImportRecord(NamedTuple):
    id: int
    chunks: int
    chunks_done: int
    status: str


def unfinished(
    connection: Connection, workspace_id: int, *, kind: str, file_sha256: str, chunks: int
) -> ImportRecord | None:
    """The latest import of this very file (same digest, same chunking) that did not finish, if any."""
    row = connection.execute(
        select(imports.c.id, imports.c.chunks, imports.c.chunks_done, imports.c.status)
        .where(
            imports.c.workspace_id == workspace_id,
            imports.c.kind == kind,
            imports.c.file_sha256 == file_sha256,
            imports.c.chunks == chunks,
            imports.c.status != "done",
        )
        .order_by(imports.c.id.desc())
        .limit(1)
    ).one_or_none()
    return ImportRecord(*row) if row else None


def start(
    connection: Connection, workspace_id: int, *, kind: str, file_sha256: str, rows: int, chunks: int, now: datetime
) -> ImportRecord:
    new_id = connection.execute(
        insert(imports)
        .values(
            workspace_id=workspace_id,
            kind=kind,
            file_sha256=file_sha256,
            rows=rows,
            chunks=chunks,
            chunks_done=0,
            status="running",
            started_at=now,
        )
        .returning(imports.c.id)
    ).scalar_one()
    return ImportRecord(int(new_id), chunks, 0, "running")


def resume(connection: Connection, workspace_id: int, import_id: int) -> None:
    connection.execute(
        update(imports)
        .where(imports.c.workspace_id == workspace_id, imports.c.id == import_id)
        .values(status="running", error=None)
    )


def chunk_written(connection: Connection, workspace_id: int, import_id: int, *, chunks_done: int) -> None:
    connection.execute(
        update(imports)
        .where(imports.c.workspace_id == workspace_id, imports.c.id == import_id)
        .values(chunks_done=chunks_done)
    )


def finish(
    connection: Connection, workspace_id: int, import_id: int, *, status: str, error: str | None, now: datetime
) -> None:
    connection.execute(
        update(imports)
        .where(imports.c.workspace_id == workspace_id, imports.c.id == import_id)
        .values(status=status, error=error, finished_at=now)
    )
