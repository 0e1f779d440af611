"""API fixtures: the real ASGI app over the ``database`` fixture (SQLite and PostgreSQL), a client, a key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.schemas.workspaces import WorkspaceCreated
from fanbase.services import workspaces
from fanbase.settings import Settings
from tests_support import api_client

# Small bounds so the "too large" refusals are cheap to provoke.
MAX_BATCH_SIZE = 20
MAX_CSV_BYTES = 4096


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_workspace(database: Database, now: datetime) -> WorkspaceCreated:
    return workspaces.create_workspace(database, name=f"api {uuid.uuid4().hex[:6]}", now=now)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, max_batch_size=MAX_BATCH_SIZE, max_csv_bytes=MAX_CSV_BYTES)


@pytest.fixture
def app(database: Database, settings: Settings, now: datetime) -> FastAPI:
    return create_app(database=database, settings=settings, clock=lambda: now, dashboard=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with api_client(app) as test_client:
        yield test_client


@pytest.fixture
def headers(workspace: WorkspaceCreated) -> dict[str, str]:
    """A fresh workspace's key: each test works in a workspace of its own."""
    return bearer(workspace.api_key.key)


@pytest.fixture
def other_headers(database: Database, now: datetime) -> dict[str, str]:
    """A second, unrelated workspace's key."""
    return bearer(new_workspace(database, now).api_key.key)
