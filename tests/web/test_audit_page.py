"""The dashboard's audit log (issue 15): the sign-in just made is there, with who and from where; the filter by
action; readable on a phone; and every page carries the security headers while the dashboard still works under its
Content-Security-Policy (no violation reported by the browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from web_support import Site
from web_support import signed_in_page
from web_support import wait_until_live

pytestmark = pytest.mark.browser


def test_the_audit_log_shows_the_sign_in_and_filters_by_action(browser: Any, site: Site, screenshots: Path) -> None:
    for width, height, name in ((1280, 800, "audit-log.png"), (390, 844, "audit-log-phone.png")):
        with signed_in_page(browser, site, width=width, height=height) as page:
            violations: list[str] = []
            page.on("console", lambda message, found=violations: _note_violation(message.text, found))
            response = page.goto(f"{site.url}/audit")
            assert response is not None
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            wait_until_live(page)
            table = page.get_by_test_id("audit-table")
            signed_in = table.locator("tbody tr").filter(has_text="Signed in").first
            expect(signed_in).to_contain_text(f"user {site.user_email}")
            expect(signed_in).to_contain_text("127.0.0.1" if width > 600 else "Signed in")
            page.screenshot(path=str(screenshots / name))
            page.get_by_test_id("audit-action").click()
            page.get_by_role("option", name="Segment deleted", exact=True).click()
            expect(table).not_to_contain_text("Signed in")
            scroll = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert scroll <= 0, f"{scroll} px of sideways scrolling at {width} px"
            assert violations == [], violations


def _note_violation(text: str, found: list[str]) -> None:
    if "Content Security Policy" in text:
        found.append(text)
