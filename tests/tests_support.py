"""Helpers shared by tests: throwaway PostgreSQL databases, stored membership, and what the Python evaluator (the
oracle) says it should be."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy import select
from sqlalchemy import text
from typer.testing import CliRunner

from fanbase.cli.main import app as command_line
from fanbase.core.evaluate import evaluate
from fanbase.core.rules import parse_rule_json
from fanbase.db import tables
from fanbase.db.engine import Database
from fanbase.db.repositories import fan_snapshots as fan_snapshots_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.jobs.mail import MailSender
from fanbase.services import rule_context

POSTGRES_SERVER = os.environ.get("FANBASE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """The URL of a new, empty database on the local server, dropped afterwards. Raises OperationalError when the
    server cannot be reached (callers decide whether that is a skip or a failure)."""
    name = f"fanbase_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def members_of(database: Database, workspace_id: int, segment_id: int) -> set[int]:
    with database.transaction(workspace_id=None, write=False) as connection:
        return segments_repo.member_ids(connection, workspace_id, segment_id)


def oracle_members(database: Database, workspace_id: int, segment_id: int, *, now: datetime) -> set[int]:
    """Who the Python evaluator says belongs, fan by fan, from each fan's full snapshot (stored membership is what
    segment-in-segment conditions read, so the oracle agrees only once the inputs are right)."""
    with database.transaction(workspace_id=None, write=False) as connection:
        context = rule_context.load_context(connection, workspace_id)
        fan_snapshots = fan_snapshots_repo.load_snapshots(connection, workspace_id, catalogue=context.catalogue)
    rule = parse_rule_json(context.segment_rows[segment_id].rule)
    return {
        fan_id
        for fan_id, snapshot in fan_snapshots.items()
        if evaluate(rule, snapshot, now=now, catalogue=context.catalogue)
    }


def workspace_rows(database: Database, workspace_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every fan, order and event row of the workspace, every column, straight from the tables in id order: to
    compare before and after a write that should change nothing."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return {
            table.name: [
                dict(row._mapping)
                for row in connection.execute(
                    select(table).where(table.c.workspace_id == workspace_id).order_by(table.c.id)
                )
            ]
            for table in (tables.fans, tables.orders, tables.events)
        }


def api_client(app: Any, **options: Any) -> TestClient:
    """A test client from an address of its own. Throttles count per client address and the suite shares one
    database per backend at a fixed clock, so clients on starlette's one default address ("testclient") would add
    up every test's requests and wrong keys in one window."""
    return TestClient(app, client=(f"client-{uuid.uuid4().hex[:12]}", 50000), **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer on {url} within {timeout} s")


@contextmanager
def served(database_url: str, folder: Path, **environment: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The whole app (API and dashboard) served by uvicorn in a subprocess on a free port, its output in
    ``folder/server.log``: the base URL and the process. A subprocess because NiceGUI is one app per process."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    variables = {**os.environ, "FANBASE_DATABASE_URL": database_url, "FANBASE_DATA_DIR": str(folder), **environment}
    command = [sys.executable, "-m", "uvicorn", "fanbase.api.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen(command, env=variables, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(base, process)
            yield base, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def deliver_mail(database: Database, workspace_id: int, now: datetime) -> None:
    """One round of the mail sender for one workspace, into the local outbox (no SMTP relay configured)."""
    sender = MailSender(database, clock=lambda: now, base_url="https://fans.example.com", only_workspace=workspace_id)
    try:
        sender.round()
    finally:
        sender.close()


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def seed_message(client: TestClient, headers: dict[str, str], *, fans: int = 3) -> dict[str, Any]:
    """Fans in a static segment, subscribed to a list, and a draft message to them."""
    fan_ids = [
        _created(
            client.post("/api/v1/fans", json={"email": f"fan{i}@example.com", "first_name": f"F{i}"}, headers=headers)
        )["id"]
        for i in range(fans)
    ]
    segment = _created(client.post("/api/v1/segments", json={"name": "Crew", "kind": "static"}, headers=headers))
    client.post(f"/api/v1/segments/{segment['id']}/members", json={"fan_ids": fan_ids}, headers=headers)
    newsletter = _created(client.post("/api/v1/lists", json={"name": "Newsletter"}, headers=headers))
    client.post(f"/api/v1/lists/{newsletter['id']}/subscriptions", json={"fan_ids": fan_ids}, headers=headers)
    message = _created(
        client.post(
            "/api/v1/messages",
            json={
                "name": "Tour",
                "subject": "Hi {{ first_name | default('friend') }}",
                "body": "The tour: [tickets](https://tickets.example.com/tour)",
                "segment_ids": [segment["id"]],
                "list_id": newsletter["id"],
            },
            headers=headers,
        )
    )
    return {"fan_ids": fan_ids, "segment_id": segment["id"], "list_id": newsletter["id"], "message": message}


def workspace_environment(
    request: pytest.FixtureRequest, tmp_path: Path, *, create: tuple[str, ...] = ()
) -> dict[str, str]:
    """The environment a user would set: a migrated database (a fresh SQLite file, or the test PostgreSQL one) and a
    new workspace (``workspace create`` with ``create`` added to its arguments), selected through FANBASE_WORKSPACE."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    runner = CliRunner()
    environment = {"FANBASE_DATABASE_URL": url, "FANBASE_WORKSPACE": ""}
    assert runner.invoke(command_line, ["db", "upgrade"], env=environment).exit_code == 0
    created = runner.invoke(
        command_line, ["workspace", "create", f"CLI {uuid.uuid4().hex[:6]}", *create], env=environment
    )
    match = re.search(r"Created workspace (\d+)", created.stdout)
    assert match, created.output
    return {**environment, "FANBASE_WORKSPACE": match.group(1)}
