"""The fan tables' pager on every load: the total the server counted, and next and previous that work.

Quasar sends the pagination a table was first rendered with (total 0) back to the server when the page mounts; when
that message arrived after the first page's load, NiceGUI's table took it and the footer read "1-0 of 0" with no page
buttons on about a third of loads. Each table page is loaded repeatedly here because the defect was a race.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect
from web_support import Site
from web_support import signed_in_page
from web_support import wait_until_live

from fanbase.clock import utc_now
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.segments import Segment
from fanbase.schemas.segments import SegmentIn
from fanbase.services import fans
from fanbase.services import segments

pytestmark = pytest.mark.browser

LOADS = 20
PAGE_SIZE = 25


@pytest.fixture(scope="module")
def page(browser: Any, site: Site) -> Iterator[Page]:
    with signed_in_page(browser, site) as page:
        yield page


@pytest.fixture(scope="module")
def segment(site: Site) -> Segment:
    """A segment of more than two pages (made here: the demo's segments are not made for the browser's site)."""
    every_fan = SegmentIn(name="Pager: every fan", rule_text="total_spent >= 0")
    made = segments.create_segment(site.database, site.workspace_id, every_fan, now=utc_now())
    assert made.size > 2 * PAGE_SIZE
    return made


def _every_load_pages(page: Page, url: str, testid: str, total: int) -> None:
    for _ in range(LOADS):
        page.goto(url)
        wait_until_live(page)
        footer = page.get_by_test_id(testid).locator(".q-table__bottom")
        expect(footer).to_contain_text(f"1-{PAGE_SIZE} of {total}")
        footer.get_by_role("button").filter(has_text="chevron_right").click()
        expect(footer).to_contain_text(f"{PAGE_SIZE + 1}-{2 * PAGE_SIZE} of {total}")
        footer.get_by_role("button").filter(has_text="chevron_left").click()
        expect(footer).to_contain_text(f"1-{PAGE_SIZE} of {total}")


def test_the_fans_list_pages_on_every_load(page: Page, site: Site) -> None:
    total = fans.list_fans(site.database, site.workspace_id, FanFilter(), page=1, page_size=1).total
    _every_load_pages(page, f"{site.url}/fans", "fans-table", total)


def test_a_segment_page_pages_on_every_load(page: Page, site: Site, segment: Segment) -> None:
    _every_load_pages(page, f"{site.url}/segments/{segment.id}", "members-table", segment.size)


def test_the_fans_list_filtered_by_a_segment_pages_on_every_load(page: Page, site: Site, segment: Segment) -> None:
    _every_load_pages(page, f"{site.url}/fans?segment={segment.id}", "fans-table", segment.size)
