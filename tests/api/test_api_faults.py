"""Database faults (issue 15): an unreachable database or a lost connection answers 503 with Retry-After, in JSON,
and the client's connection stays usable (the error is handled by the app, not by the server's last-resort handler,
after which it closes the connection; the test client would raise it instead of answering)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import text

from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.services import workspaces
from fanbase.settings import Settings
from tests_support import api_client

API = "/api/v1"


def test_an_unreachable_database_answers_503_with_retry_after(tmp_path: Path) -> None:
    nowhere = Database.from_url("postgresql+psycopg://postgres@127.0.0.1:9/unreachable?connect_timeout=2")
    app = create_app(database=nowhere, settings=Settings(data_dir=tmp_path), dashboard=False)
    with api_client(app) as client:
        for _ in range(3):  # the same connection, again and again
            response = client.get(f"{API}/tags", headers={"Authorization": "Bearer fb_00000000_whatever"})
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "2"
            assert response.json() == {
                "detail": "the database is unavailable or busy just now; nothing was written, retry"
            }
        assert client.get(f"{API}/health").status_code == 503  # health asks the database too
    nowhere.dispose()


def test_connections_killed_under_the_app_never_answer_500(postgres_database: Database, now: datetime) -> None:
    created = workspaces.create_workspace(postgres_database, name="faults", now=now)
    headers = {"Authorization": f"Bearer {created.api_key.key}"}
    app = create_app(database=postgres_database, settings=Settings(), clock=lambda: now, dashboard=False)
    statuses: list[int] = []
    with api_client(app) as client:
        for round_ in range(5):
            statuses.append(client.post(f"{API}/tags", json={"name": f"fault {round_}"}, headers=headers).status_code)
            # Another session ends every connection the app holds to this database, as a restart or failover would.
            with postgres_database.engine.connect() as killer:
                killer.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                killer.commit()
            statuses.append(client.get(f"{API}/tags", headers=headers).status_code)
    assert 500 not in statuses, statuses
    assert set(statuses) <= {200, 201, 503}, statuses
