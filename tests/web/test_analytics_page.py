"""Analytics for daily use (issue 14, point 9): segments are added to the comparison without removing the defaults,
two or three segments' overlap, and every chart's data as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect
from web_support import Site
from web_support import field_of
from web_support import signed_in_page
from web_support import wait_until_live

from fanbase.clock import utc_now
from fanbase.schemas.segments import SegmentIn
from fanbase.services import analytics
from fanbase.services import segments

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(browser: Any, site: Site) -> Iterator[Page]:
    with signed_in_page(browser, site, accept_downloads=True) as page:
        yield page


def test_compare_more_segments_see_their_overlap_and_download_the_data(
    page: Page, site: Site, screenshots: Path
) -> None:
    for name, rule_text in (
        ("Analytics A", "total_spent > 0"),
        ("Analytics B", "purchase_count >= 2"),
        ("Analytics C", "total_spent > 100"),
    ):
        if name not in {segment.name for segment in segments.list_segments(site.database, site.workspace_id)}:
            segments.create_segment(
                site.database, site.workspace_id, SegmentIn(name=name, rule_text=rule_text), now=utc_now()
            )
    listed = segments.list_segments(site.database, site.workspace_id)
    page.goto(f"{site.url}/analytics")
    wait_until_live(page)
    chooser = field_of(page.get_by_test_id("compare-segments"))
    for segment in listed[:2]:
        expect(chooser).to_contain_text(segment.name)
    # A third segment, typed and picked: the defaults stay.
    third = listed[2].name
    chooser.locator("input").fill(third[:6])
    page.get_by_role("option", name=third, exact=True).click()
    page.keyboard.press("Escape")
    for segment in listed[:3]:
        expect(chooser).to_contain_text(segment.name)
    page.get_by_test_id("compare").click()
    expect(page.locator(".nicegui-echart").first).to_be_visible()
    # Compare rebuilds the charts and their CSV buttons: wait for the new ones (the page's first comparison, of
    # the two defaults, is replaced; a click on its button as it goes is lost).
    page.wait_for_function(
        "name => [...document.querySelectorAll('.nicegui-echart')].some(element => {"
        " const chart = getElement(element)?.chart;"
        " return !!chart && chart.getOption().series.some(series => series.name === name); })",
        arg=third,
    )

    with page.expect_download() as download:
        page.get_by_test_id("csv-size").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0] == ["day (UTC)", listed[0].name, listed[1].name, third]
    assert download.value.suggested_filename == f"Size {utc_now().date().isoformat()}.csv"

    expected = analytics.overlap(site.database, site.workspace_id, [listed[0].id, listed[1].id])
    summary = page.get_by_test_id("overlap-summary")
    expect(summary).to_have_text(f"{expected.in_any:,} fans in any; {expected.in_all:,} in all.")
    expect(page.get_by_test_id("overlap-pairs")).to_contain_text(f"{listed[0].name} / {listed[1].name}")
    page.wait_for_timeout(500)  # the charts animate in
    page.screenshot(path=str(screenshots / "analytics-overlap.png"), full_page=True)


def test_analytics_with_overlap_on_a_phone(browser: Any, site: Site, screenshots: Path) -> None:
    with signed_in_page(browser, site, width=390, height=844) as phone:
        phone.goto(f"{site.url}/analytics")
        wait_until_live(phone)
        phone.get_by_test_id("compare").click()
        expect(phone.get_by_test_id("overlap-summary")).to_contain_text("fans in any")
        phone.wait_for_timeout(500)  # the charts animate in
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(screenshots / "analytics-overlap-phone.png"), full_page=True)
