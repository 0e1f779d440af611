"""The dashboard: NiceGUI pages mounted on the API's FastAPI app (one process, one port).

``mount(app, database=…, clock=…)`` is called by ``fanbase.api.app.create_app``. Pages call services only.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from fanbase.services.unit_of_work import Database
from fanbase.settings import Settings
from fanbase.web.state import WebState
from fanbase.web.state import configure

_mounted_on: list[FastAPI] = []


def mount(app: FastAPI, *, database: Database, clock: Callable[[], datetime], settings: Settings | None = None) -> None:
    """Serve the dashboard at ``/`` of ``app``: the sign-in routes, the session guard and the NiceGUI pages.

    Without ``settings``, the app's own (``app.state.fanbase.settings``, set by the app factory before it mounts
    the dashboard) or else the environment's."""
    from nicegui import app as nicegui_app
    from nicegui import core
    from nicegui import ui

    from fanbase.web import pages  # registers the @ui.page routes
    from fanbase.web.auth import SessionGuard
    from fanbase.web.auth import install_auth_routes
    from fanbase.web.downloads import install_download_routes
    from fanbase.web.security import SecurityHeaders
    from fanbase.web.stable_slots import STABLE_SLOTS_SCRIPT

    if settings is None:
        settings = getattr(getattr(app.state, "fanbase", None), "settings", None) or Settings()
    configure(WebState(database=database, clock=clock, settings=settings))
    install_auth_routes(app)
    install_download_routes(app)
    app.add_middleware(SessionGuard)
    app.add_middleware(SecurityHeaders)
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
    # The dashboard's socket answers only its own pages (NiceGUI accepts any origin). The host is compared, not the
    # scheme: behind TLS without forwarded headers engine.io takes every request for plain http.
    core.sio.eio.cors_allowed_origins = _same_host


def _same_host(origin: str, environ: dict[str, str]) -> bool:
    return origin.partition("://")[2] == environ.get("HTTP_HOST")
