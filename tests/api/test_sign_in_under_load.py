"""40 parallel wrong sign-ins against a real server process keep it under +300 MB (issue 15's bounded load test).

argon2id takes 64 MiB per verification; unbounded, the 40 took a server from 119 MB to 2,536 MB. Now at most two
hash at once (the rest queue) and the client address backs off after 20 failures. The peak resident size
(``VmHWM``) of the server process is read from /proc before and after."""

from __future__ import annotations

import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from fanbase.clock import utc_now
from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.services import users
from fanbase.services import workspaces
from tests_support import served

ATTEMPTS = 40
BUDGET_MB = 300

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _megabytes(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def test_forty_parallel_wrong_sign_ins_keep_the_server_under_300_mb_more(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fanbase.sqlite3'}"
    database = Database.from_url(url)
    upgrade(database.engine)
    now = utc_now()
    workspace = workspaces.create_workspace(database, name="load", now=now).workspace
    users.create_user(database, workspace.id, email="artist@example.com", password="a long enough password", now=now)
    database.dispose()
    with served(url, tmp_path) as (base, process), httpx.Client(base_url=base, timeout=60) as client:
        # Warm up: one right sign-in (the first hash allocates argon2's memory once).
        assert client.post("/auth/login", data={"email": "artist@example.com", "password": "a long enough password"})
        before = _megabytes(process.pid, "VmRSS")

        def attempt(index: int) -> int:
            email = "artist@example.com" if index % 2 else f"nobody-{uuid.uuid4().hex[:6]}@example.com"
            with httpx.Client(base_url=base, timeout=60) as own:
                return own.post("/auth/login", data={"email": email, "password": f"wrong {index}"}).status_code

        with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
            statuses = list(pool.map(attempt, range(ATTEMPTS)))
        peak = _megabytes(process.pid, "VmHWM")
        assert set(statuses) == {303}, statuses  # every one answered (refused, or told to wait), none failed
        assert client.get("/api/v1/health").status_code == 200
    grown = peak - before
    print(f"server RSS before {before:.0f} MB, peak during {ATTEMPTS} parallel wrong sign-ins {peak:.0f} MB")
    assert grown < BUDGET_MB, f"the server grew by {grown:.0f} MB"
