"""The sign-in page (the only page reachable without a session) and ``/``."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fanbase.web.auth import request_user
from fanbase.web.layout import _CSS


@ui.page("/login", title="Sign in · fanbase")
def login_page(
    request: Request, error: str | None = None, next: str = "/", wait: int | None = None
) -> RedirectResponse | None:
    if request_user(request) is not None:
        return RedirectResponse("/", status_code=303)
    ui.add_css(_CSS)
    with (
        ui.column().classes("w-full items-center justify-center").style("min-height: 90vh"),
        ui.card().classes("q-pa-lg").style("width: min(400px, 92vw)"),
    ):
        ui.label("fanbase").classes("text-h5 text-weight-bold text-indigo-8")
        ui.label("Sign in to your workspace").classes("fb-muted q-mb-sm")
        if error:
            ui.label(_error_text(error, wait)).classes("fb-error").props('role="alert" data-testid="sign-in-error"')
        with ui.element("form").props('method="post" action="/auth/login"').classes("column w-full gap-3"):
            ui.input("Email").props(
                'name="email" type="email" autocomplete="username" autofocus outlined data-testid="email"'
            ).classes("w-full")
            ui.input("Password", password=True, password_toggle_button=True).props(
                'name="password" autocomplete="current-password" outlined data-testid="password"'
            ).classes("w-full")
            hidden = ui.element("input")
            hidden._props.update({"type": "hidden", "name": "next", "value": next})
            ui.button("Sign in").props('type="submit" color="indigo-8" unelevated no-caps').classes("w-full")
    return None


@ui.page("/")
def home() -> RedirectResponse:
    return RedirectResponse("/segments", status_code=303)


def _error_text(error: str, wait: int | None) -> str:
    seconds = f"{wait} second{'s' if wait != 1 else ''}" if wait else "a moment"
    if error == "throttled":
        return f"Too many failed sign-ins. Try again in {seconds}."
    if error == "busy":
        return f"Many people are signing in right now. Try again in {seconds}."
    return "Wrong email or password."
