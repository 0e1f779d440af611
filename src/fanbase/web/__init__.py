"""The dashboard: NiceGUI pages mounted on the API's FastAPI app (one process, one port).

``mount(app, database=…, clock=…)`` is called by ``fanbase.api.app.create_app``. Pages call services only.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from fanbase.services.unit_of_work import Database
from fanbase.web.state import WebState
from fanbase.web.state import configure

_mounted_on: list[FastAPI] = []


def mount(app: FastAPI, *, database: Database, clock: Callable[[], datetime]) -> None:
    """Serve the dashboard at ``/`` of ``app``: the sign-in routes, the session guard and the NiceGUI pages."""
    from nicegui import app as nicegui_app
    from nicegui import ui

    from fanbase.web import pages  # registers the @ui.page routes
    from fanbase.web.auth import SessionGuard
    from fanbase.web.auth import install_auth_routes
    from fanbase.web.stable_slots import STABLE_SLOTS_SCRIPT

    configure(WebState(database=database, clock=clock))
    install_auth_routes(app)
    app.add_middleware(SessionGuard)
    pages.register()
    if _mounted_on:
        # NiceGUI is one app per process: a second FastAPI app (tests build many) shares it; its lifecycle
        # belongs to the first app, so only the first is a fully working dashboard.
        app.mount("/", nicegui_app)
        _mounted_on.append(app)
        return
    _mounted_on.append(app)
    ui.run_with(
        app,
        title="fanbase",
        favicon="🎸",
        # The dashboard's own session is the argon2/cookie pair above; NiceGUI's storage only needs a secret to exist.
        storage_secret=secrets.token_urlsafe(32),
        show_welcome_message=False,
        reconnect_timeout=10.0,
    )
    ui.add_body_html(STABLE_SLOTS_SCRIPT, shared=True)
