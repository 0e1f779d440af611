"""What the browser tests share with their fixtures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect

from fanbase.db.engine import Database

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Site:
    url: str
    database: Database
    workspace_id: int
    user_email: str
    other_email: str
    other_workspace_id: int


# Generous: the server shares 2 cores with the rest of the suite (and PostgreSQL). A page that works waits less.
TIMEOUT = 30_000
expect.set_options(timeout=TIMEOUT)


def wait_until_live(page: Page) -> None:
    """Wait for the page's websocket: NiceGUI sends clicks to the server over it, and a click made before its
    handshake is dropped (the HTML, and so the table's text, arrives first)."""
    page.wait_for_function("window.did_handshake === true", timeout=TIMEOUT)


def sign_in(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/segments$"), timeout=TIMEOUT)
    wait_until_live(page)


def field_of(control: Locator) -> Locator:
    """The Quasar field around a control found by its test id: Quasar puts a q-input's (or a typeable q-select's)
    attributes on its native input, so the test id can be on the input or on the field itself."""
    return control.locator("xpath=ancestor-or-self::*[contains(concat(' ', @class, ' '), ' q-field ')][1]")


@contextmanager
def signed_in_page(browser: Any, site: Site, *, width: int = 1280, height: int = 800, **options: Any) -> Iterator[Page]:
    """A new browser context of this size, signed in as the site's user; closed afterwards."""
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    try:
        sign_in(page, site, site.user_email)
        yield page
    finally:
        context.close()
