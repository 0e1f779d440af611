"""The Fans list for daily use (issue 14, point 10): the filters live in the address (a view can be bookmarked),
ticked rows or "all N matching" are tagged, subscribed, or put in a static segment, and taken out again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect
from web_support import Site
from web_support import signed_in_page
from web_support import wait_until_live

from fanbase.clock import utc_now
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.tags import TagIn
from fanbase.services import fans
from fanbase.services import segments
from fanbase.services import tags

pytestmark = pytest.mark.browser

TAG = "Bulk tagged (browser)"
STATIC = "Bulk picked (browser)"


@pytest.fixture(scope="module")
def page(browser: Any, site: Site) -> Iterator[Page]:
    tags.create_tag(site.database, site.workspace_id, TagIn(name=TAG), now=utc_now())
    segments.create_segment(site.database, site.workspace_id, SegmentIn(name=STATIC, kind="static"), now=utc_now())
    with signed_in_page(browser, site) as page:
        yield page


def _tagged(site: Site) -> int:
    return fans.list_fans(site.database, site.workspace_id, FanFilter(tag=TAG), page=1, page_size=1).total


def _choose(page: Page, test_id: str, option: str) -> None:
    page.get_by_test_id(test_id).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_the_filters_live_in_the_address(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/fans")
    wait_until_live(page)
    page.get_by_test_id("rule-filter").fill("total_spent > 100")
    page.get_by_test_id("apply-filters").click()
    expect(page).to_have_url(re.compile(r"/fans\?rule=total_spent"))
    count = page.get_by_test_id("fan-total").inner_text()
    query = parse_qs(urlparse(page.url).query)
    assert query == {"rule": ["total_spent > 100"]}

    # The address, opened again (bookmarked, shared): the same view.
    page.goto(page.url)
    wait_until_live(page)
    expect(page.get_by_test_id("rule-filter")).to_have_value("total_spent > 100")
    expect(page.get_by_test_id("fan-total")).to_have_text(count)


def test_ticked_rows_and_all_matching_fans_are_acted_on(page: Page, site: Site, screenshots: Path) -> None:
    page.goto(f"{site.url}/fans?rule=total_spent+%3E+100")
    wait_until_live(page)
    expect(page.get_by_test_id("fan-total")).not_to_have_text("")
    matching = fans.list_fans(
        site.database, site.workspace_id, FanFilter(rule_text="total_spent > 100"), page=1, page_size=1, now=utc_now()
    ).total
    assert matching > 25  # more than a page: "all N matching" means more than the ticked rows

    rows = page.get_by_test_id("fans-table").locator("tbody tr")
    for index in range(3):
        rows.nth(index).locator(".q-checkbox").click()
    expect(page.get_by_test_id("bulk-count")).to_have_text("3 selected")
    _choose(page, "bulk-action", "Add tag")
    _choose(page, "bulk-target", TAG)
    expect(page.locator(".q-menu")).to_have_count(0)  # the picker's menu has faded out
    page.screenshot(path=str(screenshots / "fans-selection.png"))
    page.get_by_test_id("bulk-apply").click()
    expect(page.get_by_text(f"Add tag “{TAG}”: 3 of 3 fans changed.")).to_be_visible()
    assert _tagged(site) == 3

    rows.first.locator(".q-checkbox").click()
    page.get_by_test_id("select-all-matching").click()
    expect(page.get_by_test_id("bulk-count")).to_have_text(f"All {matching:,} matching fans selected")
    _choose(page, "bulk-action", "Add tag")
    _choose(page, "bulk-target", TAG)
    page.get_by_test_id("bulk-apply").click()
    expect(page.get_by_text(f"Add tag “{TAG}”: {matching - 3:,} of {matching:,} fans changed.")).to_be_visible()
    assert _tagged(site) == matching

    rows.first.locator(".q-checkbox").click()
    page.get_by_test_id("select-all-matching").click()
    _choose(page, "bulk-action", "Add to static segment")
    _choose(page, "bulk-target", STATIC)
    page.get_by_test_id("bulk-apply").click()
    expect(page.get_by_text(f"Add to static segment “{STATIC}”: {matching:,} of {matching:,}")).to_be_visible()
    static = next(s for s in segments.list_segments(site.database, site.workspace_id) if s.name == STATIC)
    assert static.size == matching

    rows.first.locator(".q-checkbox").click()
    _choose(page, "bulk-action", "Remove tag")
    _choose(page, "bulk-target", TAG)
    page.get_by_test_id("bulk-apply").click()
    expect(page.get_by_text(f"Remove tag “{TAG}”: 1 of 1 fans changed.")).to_be_visible()
    assert _tagged(site) == matching - 1
