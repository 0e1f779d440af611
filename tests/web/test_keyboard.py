"""The dashboard by keyboard (issue 14, point 15): Create Segment completed with keys only, focus kept in the
builder as conditions come and go, a visible focus ring, and Escape closing the dialog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect
from web_support import Site
from web_support import signed_in_page
from web_support import wait_until_live

from fanbase.services import segments

pytestmark = pytest.mark.browser

NAME = "Typed by keys (browser)"


@pytest.fixture(scope="module")
def page(browser: Any, site: Site) -> Iterator[Page]:
    with signed_in_page(browser, site) as page:
        yield page


def _focused_test_id(page: Page) -> str | None:
    test_id: str | None = page.evaluate(
        "() => document.activeElement?.closest('[data-testid]')?.getAttribute('data-testid') ?? null"
    )
    return test_id


def _tab_to(page: Page, test_id: str, *, limit: int = 60) -> None:
    """Press Tab until the focus is inside the element with this test id."""
    for _ in range(limit):
        if _focused_test_id(page) == test_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {test_id!r} (focus on {_focused_test_id(page)!r})")


def _tab_until(page: Page, predicate: str, *, limit: int = 60) -> None:
    """Press Tab until the JavaScript ``predicate`` holds of the page."""
    for _ in range(limit):
        if page.evaluate(predicate):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached what {predicate!r} looks for")


def test_create_a_segment_with_the_keyboard_alone(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/segments")
    wait_until_live(page)
    _tab_to(page, "create-segment")
    # A visible ring around the focused button (Quasar's buttons otherwise declare `outline: 0 !important`).
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert ring == ["solid", "2px"], ring
    page.keyboard.press("Enter")
    dialog = page.get_by_test_id("segment-dialog")
    expect(dialog).to_be_visible()
    # The Name input takes the focus as the dialog opens.
    page.wait_for_function("() => document.activeElement?.getAttribute('data-testid') === 'segment-name'")
    page.keyboard.type(NAME)

    _tab_to(page, "add-field")
    page.keyboard.press("Enter")
    # The focus moved on to the new condition, not back to the top of the page.
    page.wait_for_function("() => document.activeElement?.closest('[data-testid=\"condition\"]') !== null")
    _tab_to(page, "value-input")
    page.keyboard.type("50")
    expect(dialog.get_by_test_id("preview-count")).not_to_have_text("—")

    # A condition removed by keyboard leaves the focus in the builder.
    _tab_to(page, "add-tag")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"condition\"]').length === 2")
    _tab_until(
        page,
        "() => { const button = document.activeElement?.closest('[data-testid=\"remove-condition\"]');"
        " return !!button && button.closest('[data-testid=\"condition\"]').textContent.includes('has tag'); }",
    )
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"condition\"]').length === 1")
    page.wait_for_function(
        "() => document.activeElement?.closest('[data-testid]')?.getAttribute('data-testid') === 'add-field'"
    )

    _tab_to(page, "save-segment")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    found = {s.name: s for s in segments.list_segments(site.database, site.workspace_id)}
    assert NAME in found, sorted(found)
    created = found[NAME]
    assert created.rule_text == "total_spent > 50"


def test_escape_closes_the_dialog(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/segments")
    wait_until_live(page)
    page.get_by_test_id("create-segment").click()
    dialog = page.get_by_test_id("segment-dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
