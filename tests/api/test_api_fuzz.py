"""Schemathesis fuzzes every operation in the OpenAPI document (SQLite only, bounded): no input may cause a 5xx.

Generated cases are positive and negative (schema-violating); all are sent with a real key, so they reach the
handlers rather than stopping at authentication.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings
from schemathesis.checks import not_a_server_error

from fanbase.api.app import create_app
from fanbase.api.deps import AppState
from fanbase.db.engine import Database
from fanbase.services import workspaces
from fanbase.settings import Settings
from tests_support import api_client

API = "/api/v1"
# Examples per operation (about 40 operations, positive and negative): keeps the whole fuzz run near 20 s.
MAX_EXAMPLES = 15

# schemathesis parametrizes at collection time, so it needs the app (for its OpenAPI document) at import time. The
# app reads its database from app.state on every request: the fixture below points it at the migrated test
# database. (schemathesis.pytest.from_fixture would avoid this, but fails under pytest 9: it sets
# `request.node._nodeid`, which pytest no longer has.)
fuzz_app = create_app(database=Database.from_url("sqlite://"), settings=Settings(), dashboard=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
# No "coverage" phase: it enumerates cases from the schema at collection time, and the rule language's recursive
# schema (the `Rule` component) makes that enumeration explode (gigabytes, tens of minutes). Examples and bounded
# fuzzing still reach every operation, rule-bearing ones included.
schema.config.phases.update(phases=["examples", "fuzzing"])


@pytest.fixture
def fuzz_headers(sqlite_database: Database, tmp_path: Path, now: datetime) -> dict[str, str]:
    fuzz_app.state.fanbase = AppState(
        database=sqlite_database,
        settings=Settings(data_dir=tmp_path, max_batch_size=20, max_csv_bytes=4096),
        clock=lambda: now,
    )
    created = workspaces.create_workspace(sqlite_database, name="fuzz", now=now)
    headers = {"Authorization": f"Bearer {created.api_key.key}"}
    # Some real objects, so that generated ids and names sometimes hit something.
    with api_client(fuzz_app) as client:
        fan = client.post(f"{API}/fans", json={"email": "fuzz@example.com"}, headers=headers).json()
        client.post(f"{API}/orders", json={"fan_id": fan["id"], "amount": "1", "category": "merch"}, headers=headers)
        client.post(f"{API}/events", json={"fan_id": fan["id"], "type": "page_viewed"}, headers=headers)
        client.post(f"{API}/tags", json={"name": "VIP"}, headers=headers)
        client.post(f"{API}/lists", json={"name": "Club"}, headers=headers)
        client.post(f"{API}/custom-fields", json={"name": "tier", "type": "text"}, headers=headers)
    return headers


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_no_input_causes_a_server_error(case: Any, fuzz_headers: dict[str, str]) -> None:
    response = case.call(headers=fuzz_headers)
    case.validate_response(response, checks=[not_a_server_error])
    assert "Traceback" not in response.text
