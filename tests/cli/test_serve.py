"""``fanbase serve`` (what ``make run`` calls): a busy port is refused before anything is written, and each start of
the demo leaves only its own key valid."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fanbase.cli.main import DEMO_KEY_NAME
from fanbase.cli.main import app
from fanbase.clock import utc_now
from fanbase.db.engine import Database
from fanbase.db.migrate import upgrade
from fanbase.errors import Unauthorized
from fanbase.services import workspaces


def test_a_busy_port_is_refused_before_a_key_is_issued_or_the_demo_password_reset(tmp_path: Path) -> None:
    database_file = tmp_path / "serve.sqlite3"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            app,
            ["serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
            env={"FANBASE_DATABASE_URL": f"sqlite:///{database_file}", "FANBASE_WORKSPACE": ""},
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert f"FANBASE_PORT={port + 1} make run" in result.stderr
    assert "fb_" not in result.stdout  # no key printed
    assert not database_file.exists()  # nothing at all was written: no database, no key, no password


def test_each_demo_start_revokes_the_key_the_previous_one_printed(tmp_path: Path) -> None:
    database = Database.from_url(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    upgrade(database.engine)
    now = utc_now()
    created = workspaces.create_workspace(database, name="Demo", now=now)
    workspace_id = created.workspace.id
    first = workspaces.replace_api_key(database, workspace_id, name=DEMO_KEY_NAME, now=now)
    second = workspaces.replace_api_key(database, workspace_id, name=DEMO_KEY_NAME, now=now)

    with pytest.raises(Unauthorized, match="revoked"):
        workspaces.authenticate(database, first.key, now=now)
    assert workspaces.authenticate(database, second.key, now=now) == workspace_id
    # Keys of other names (the workspace's own, made with `keys create`) are left alone.
    assert workspaces.authenticate(database, created.api_key.key, now=now) == workspace_id
    live = [key.name for key in workspaces.list_api_keys(database, workspace_id) if key.revoked_at is None]
    assert sorted(live) == sorted([DEMO_KEY_NAME, created.api_key.name])
    database.dispose()
