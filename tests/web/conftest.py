"""Browser tests: a real uvicorn server (the whole app: API + dashboard) on SQLite, driven by Debian's chromium.

One server and one browser for the session keep the suite fast. The server runs in a subprocess because NiceGUI is
one app per process (the API tests build many apps in this one). The data is seeded here, through the services, into
the same SQLite file before the server starts.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_support import PASSWORD
from web_support import Site

from fanbase.clock import utc_now
from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.schemas.fans import FanIn
from fanbase.schemas.lists import ListIn
from fanbase.schemas.tags import TagIn
from fanbase.services import demo
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import tags
from fanbase.services import users
from fanbase.services import workspaces
from tests_support import served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# The server's log (set by the ``site`` fixture): a failing browser test shows what the server wrote during it.
_server_log: list[Path] = []


def _missing(what: str, reason: str) -> None:
    message = f"{what} is not available ({reason})"
    if IN_CI:
        pytest.fail(f"{message}: CI=true requires it", pytrace=False)
    warnings.warn(f"SKIPPING {what} TESTS: {message}", stacklevel=2)
    pytest.skip(f"SKIPPED LOUDLY: {message}")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{folder / 'fanbase.sqlite3'}"
    database = Database.from_url(url)
    upgrade(database.engine)
    now = utc_now()
    workspace = demo.create_demo_workspace(database, now=now, fans=300).workspace
    tags.create_tag(database, workspace.id, TagIn(name="Browser VIP", color="#7c3aed"), now=now)
    lists.create_list(database, workspace.id, ListIn(name="Browser Club"), now=now)
    fans.create_fan(
        database, workspace.id, FanIn(email="static.pick@example.com", first_name="Stacy", last_name="Pick"), now=now
    )
    users.create_user(database, workspace.id, email="artist@example.com", password=PASSWORD, name="Aurora", now=now)
    other = workspaces.create_workspace(database, name="Other Label", now=now).workspace
    fans.create_fan(database, other.id, FanIn(email="other.fan@example.com"), now=now)
    users.create_user(database, other.id, email="other@example.com", password=PASSWORD, now=now)

    _server_log[:] = [folder / "server.log"]
    with served(url, folder) as (base, process):
        try:
            yield Site(
                url=base,
                database=database,
                workspace_id=workspace.id,
                user_email="artist@example.com",
                other_email="other@example.com",
                other_workspace_id=other.id,
            )
        finally:
            database.dispose()
    if process.returncode not in (0, -15, None):
        sys.stderr.write((folder / "server.log").read_text())


def _log_size() -> int:
    return _server_log[0].stat().st_size if _server_log and _server_log[0].exists() else 0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_LOG_START] = _log_size()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and _log_size():
        with _server_log[0].open("rb") as log:
            log.seek(item.stash.get(_LOG_START, 0))
            written = log.read().decode(errors="replace")
        report.sections.append(("server log during the test", written or "(nothing)"))


_LOG_START = pytest.StashKey[int]()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        _missing("chromium", f"{CHROMIUM} not found; apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - a dev dependency
        _missing("playwright", str(error))
    with sync_playwright() as playwright:
        try:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as error:
            _missing("chromium", str(error).splitlines()[0])
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
