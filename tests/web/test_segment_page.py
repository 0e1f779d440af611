"""A segment's page for daily use (issue 14): every count follows the action that changed it, history from the
segment's creation with a period to pick, a day's entries and exits with their reasons, the members CSV named after
the segment, the Messages entry, and Segment Manage's change this week."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect
from sqlalchemy import select
from web_support import Site
from web_support import signed_in_page
from web_support import wait_until_live

from fanbase.clock import utc_now
from fanbase.db.tables import fans
from fanbase.schemas.fans import Fan
from fanbase.schemas.segments import SegmentIn
from fanbase.services import segments
from fanbase.web.downloads import export_file_name

pytestmark = pytest.mark.browser

# A name as users write them (the guide's "High Value \u2013 Active"): the file keeps its dash.
NAME = "Street team \u2013 Berlin"


@pytest.fixture(scope="module")
def static_segment(site: Site) -> int:
    segment = segments.create_segment(
        site.database, site.workspace_id, SegmentIn(name=NAME, kind="static"), now=utc_now()
    )
    return segment.id


@pytest.fixture(scope="module")
def emails(site: Site) -> list[str]:
    with site.database.engine.connect() as connection:
        rows = connection.execute(
            select(fans.c.email).where(fans.c.workspace_id == site.workspace_id).order_by(fans.c.id).limit(3)
        ).all()
    return [row.email for row in rows]


@pytest.fixture(scope="module")
def page(browser: Any, site: Site) -> Iterator[Page]:
    with signed_in_page(browser, site, accept_downloads=True) as page:
        yield page


def _chart_series(page: Page, index: int) -> list[int]:
    """The data of one series of the size chart, as the browser's chart holds it."""
    values: list[int] = page.get_by_test_id("size-chart").evaluate(
        f"element => getElement(element).chart.getOption().series[{index}].data"
    )
    return values


def _wait_for_last(page: Page, index: int, value: int) -> None:
    """Wait until the chart's series ``index`` ends on ``value`` (the browser redraws it after the server's update)."""
    page.wait_for_function(
        "([element, index, value]) => {"
        " const data = getElement(element).chart.getOption().series[index].data;"
        " return data[data.length - 1] === value; }",
        arg=[page.get_by_test_id("size-chart").element_handle(), index, value],
    )


def _click_bar(page: Page, index: int) -> None:
    """Click the middle of the "Entered" bar of the day at ``index`` (a real mouse click on the canvas; the bar's
    rectangle is the chart's own layout of it)."""
    chart = page.get_by_test_id("size-chart")
    chart.scroll_into_view_if_needed()  # a mouse click lands in the window only
    page.wait_for_timeout(1_000)  # the bars grow in for a moment; a click on one still growing hits nothing
    x, y = chart.evaluate(
        "(element, index) => { const layout = getElement(element).chart.getModel().getSeriesByIndex(1)"
        ".getData().getItemLayout(index); return [layout.x + layout.width / 2, layout.y + layout.height / 2]; }",
        index,
    )
    box = chart.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_adding_fans_to_a_static_segment_updates_every_count_on_the_page(
    page: Page, site: Site, static_segment: int, emails: list[str], screenshots: Path
) -> None:
    page.goto(f"{site.url}/segments/{static_segment}")
    wait_until_live(page)
    expect(page.get_by_test_id("segment-size")).to_have_text("0")
    # The chart starts on the day the segment was created: one day, not a month of zeros.
    assert _chart_series(page, 0) == [0]

    page.get_by_test_id("add-fan-email").fill(", ".join(emails))
    page.get_by_test_id("add-fan").click()
    expect(page.get_by_text("Added 3 fan(s); the segment has 3.")).to_be_visible()
    # The toast, the card, the chart and the table all say 3, without a reload.
    expect(page.get_by_test_id("segment-size")).to_have_text("3")
    expect(page.get_by_test_id("members-table").locator("tbody tr")).to_have_count(3)
    _wait_for_last(page, 0, 3)
    _wait_for_last(page, 1, 3)

    # Removing one: every count follows again.
    page.get_by_test_id("members-table").locator("tbody tr").first.locator("td").first.click()
    page.get_by_test_id("remove-fans").click()
    expect(page.get_by_text("Removed 1 fan(s); the segment has 2.")).to_be_visible()
    expect(page.get_by_test_id("segment-size")).to_have_text("2")
    expect(page.get_by_test_id("members-table").locator("tbody tr")).to_have_count(2)
    _wait_for_last(page, 0, 2)
    _wait_for_last(page, 2, -1)


def test_a_day_of_history_lists_who_entered_and_left_and_why(
    page: Page, site: Site, static_segment: int, emails: list[str], screenshots: Path
) -> None:
    page.goto(f"{site.url}/segments/{static_segment}")
    wait_until_live(page)
    entered = _chart_series(page, 1)
    _click_bar(page, len(entered) - 1)
    day = page.get_by_test_id("history-day")
    expect(day.get_by_test_id("history-day-heading")).to_contain_text("4 changes (3 entered, 1 left)")
    rows = day.get_by_test_id("history-day-table").locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.filter(has_text="left")).to_have_count(1)
    expect(rows.filter(has_text="left").first).to_contain_text("added or removed by hand")
    expect(rows.filter(has_text="entered").first).to_contain_text("imported (a CSV or a list of emails)")
    for email in emails:
        expect(rows.filter(has_text=email).first).to_be_visible()
    # Each fan is a link to their page.
    href = rows.first.get_by_role("link").get_attribute("href")
    assert href is not None and re.fullmatch(r"/fans/\d+", href)
    page.screenshot(path=str(screenshots / "segment-history-day.png"), full_page=True)


def test_the_period_can_be_chosen_and_a_new_segment_has_no_run_of_zeros(
    page: Page, site: Site, static_segment: int
) -> None:
    page.goto(f"{site.url}/segments/{static_segment}")
    wait_until_live(page)
    for period in ("7 days", "90 days", "All time", "30 days"):
        page.get_by_test_id("history-period").get_by_text(period).click()
        # Created today: every period starts at the creation, so the chart holds that one day.
        page.wait_for_timeout(300)
        assert _chart_series(page, 0) == [2]
    # A segment created 40 days ago: 7 days shows the last 7 or 8 days, all time its 40-odd days, no more.
    old = segments.create_segment(
        site.database,
        site.workspace_id,
        SegmentIn(name="Forty days old (browser)", rule_text="total_spent > 0"),
        now=utc_now() - timedelta(days=40),
    )
    page.goto(f"{site.url}/segments/{old.id}")
    wait_until_live(page)
    for period, low, high in (("7 days", 7, 8), ("All time", 40, 41)):
        page.get_by_test_id("history-period").get_by_text(period).click()
        page.wait_for_function(
            f"element => {{ const n = getElement(element).chart.getOption().series[0].data.length;"
            f" return n >= {low} && n <= {high}; }}",
            arg=page.get_by_test_id("size-chart").element_handle(),
        )


def test_the_members_csv_is_named_after_the_segment(page: Page, site: Site, static_segment: int) -> None:
    page.goto(f"{site.url}/segments/{static_segment}")
    wait_until_live(page)
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    assert download.value.suggested_filename == f"{NAME} members {utc_now().date().isoformat()}.csv"
    # Streamed by the server (not built in the page's memory): the header, then the members.
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert {row["email"] for row in rows} == {fan.email for fan in _members(site, static_segment)}
    expect(page.get_by_test_id("messages-card")).to_contain_text("Send a message to this segment")
    # Another workspace's segment is not found, as everywhere.
    other = page.request.get(f"{site.url}/downloads/segments/999999/members.csv")
    assert other.status == 404


def test_segment_manage_shows_the_change_this_week(page: Page, site: Site, static_segment: int) -> None:
    page.goto(f"{site.url}/segments")
    wait_until_live(page)
    row = page.get_by_test_id("segments-table").locator("tbody tr").filter(has_text=NAME)
    expect(row.get_by_test_id("segment-week")).to_have_text("+3 / -1 this week")


def test_segment_manage_searches_duplicates_and_deletes(page: Page, site: Site, static_segment: int) -> None:
    base = segments.create_segment(
        site.database,
        site.workspace_id,
        SegmentIn(name="Base (manage)", rule_text="total_spent > 0"),
        now=utc_now(),
    )
    segments.create_segment(
        site.database,
        site.workspace_id,
        SegmentIn(name="Built on base (manage)", rule_text='segment "Base (manage)" and purchase_count >= 1'),
        now=utc_now(),
    )
    page.goto(f"{site.url}/segments")
    wait_until_live(page)
    table = page.get_by_test_id("segments-table")
    rows = table.locator("tbody tr")
    # Used by, in its own column.
    expect(rows.filter(has_text="Base (manage)").first).to_contain_text("Built on base (manage)")

    page.get_by_test_id("segment-search").fill("(manage)")
    expect(rows).to_have_count(2)
    page.get_by_test_id("segment-search").fill("no such segment anywhere")
    expect(table).to_contain_text("No segment matches the search.")
    page.get_by_test_id("segment-search").fill("Base (manage)")
    base_row = rows.filter(has=page.get_by_role("link", name="Base (manage)", exact=True))

    # A segment another's rule names: the refusal says which, and nothing is deleted.
    base_row.get_by_role("button", name="Delete Base (manage)").click()
    expect(page.get_by_test_id("delete-refusal")).to_contain_text("Built on base (manage)")
    expect(page.get_by_test_id("confirm-delete")).to_have_count(0)
    page.get_by_role("button", name="OK").click()

    base_row.get_by_role("button", name="Duplicate Base (manage)").click()
    expect(page.get_by_text(f"Created “Base (manage) (copy)”: {base.size:,} fans.")).to_be_visible()
    copy_row = rows.filter(has=page.get_by_role("link", name="Base (manage) (copy)"))
    expect(copy_row).to_have_count(1)
    copy_row.get_by_role("button", name="Delete Base (manage) (copy)").click()
    page.get_by_test_id("confirm-delete").click()
    expect(page.get_by_text("Deleted “Base (manage) (copy)”.")).to_be_visible()
    expect(copy_row).to_have_count(0)


def test_the_previews_sample_fans_are_links_to_their_pages(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/segments")
    wait_until_live(page)
    page.get_by_test_id("create-segment").click()
    dialog = page.get_by_test_id("segment-dialog")
    dialog.get_by_test_id("text-toggle").click()
    dialog.get_by_test_id("rule-text").fill("total_spent > 0")
    links = dialog.get_by_test_id("preview-sample").get_by_role("link")
    expect(links).to_have_count(3)
    href = links.first.get_attribute("href")
    assert href is not None and re.fullmatch(r"/fans/\d+", href)
    assert links.first.get_attribute("target") == "_blank"  # the dialog keeps the rule being written
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()


def test_the_segment_page_at_390_px(browser: Any, site: Site, static_segment: int, screenshots: Path) -> None:
    with signed_in_page(browser, site, width=390, height=844) as phone:
        phone.goto(f"{site.url}/segments/{static_segment}")
        wait_until_live(phone)
        expect(phone.get_by_test_id("segment-size")).to_have_text("2")
        expect(phone.get_by_test_id("messages-card")).to_be_visible()
        phone.screenshot(path=str(screenshots / "segment-page-phone.png"), full_page=True)
        # A day's entries and exits, on a phone too.
        _click_bar(phone, len(_chart_series(phone, 1)) - 1)
        expect(phone.get_by_test_id("history-day-table").locator("tbody tr").first).to_be_visible()
        phone.evaluate("window.scrollTo(0, 0)")  # a full-page picture draws the fixed header where the window is
        phone.screenshot(path=str(screenshots / "segment-history-day-phone.png"), full_page=True)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("High Value \u2013 Active", "High Value \u2013 Active members 2026-12-06.csv"),
        ('a/b\\c:d*e?f"g<h>i|j', "a-b-c-d-e-f-g-h-i-j members 2026-12-06.csv"),
        (" . ", "segment members 2026-12-06.csv"),
    ],
)
def test_export_file_names(name: str, expected: str) -> None:
    assert export_file_name(name, date(2026, 12, 6)) == expected


def _scrolls_sideways(page: Page, test_id: str) -> bool:
    """Whether the table (or the page) needs horizontal scrolling to be read."""
    scrolls: bool = page.get_by_test_id(test_id).evaluate(
        "element => { const middle = element.querySelector('.q-table__middle') || element;"
        " return middle.scrollWidth > middle.clientWidth + 1"
        " || document.documentElement.scrollWidth > window.innerWidth + 1; }"
    )
    return scrolls


def test_segment_manage_and_the_fans_list_fit_a_phone(browser: Any, site: Site, screenshots: Path) -> None:
    with signed_in_page(browser, site, width=390, height=844) as phone:
        phone.goto(f"{site.url}/segments")
        wait_until_live(phone)
        table = phone.get_by_test_id("segments-table")
        expect(table.locator("tbody tr").first).to_be_visible()
        # Name, size and the week's change, without scrolling sideways.
        expect(table.locator("thead")).to_contain_text("Segment")
        expect(table.locator("thead")).to_contain_text("Size")
        expect(table.locator("tbody tr").first.get_by_test_id("segment-week")).to_be_visible()
        assert not _scrolls_sideways(phone, "segments-table")
        phone.screenshot(path=str(screenshots / "segment-manage-phone.png"), full_page=True)

        phone.goto(f"{site.url}/fans")
        wait_until_live(phone)
        fans_table = phone.get_by_test_id("fans-table")
        expect(fans_table.locator("tbody tr").first).to_contain_text("@")
        header = fans_table.locator("thead")
        for title in ("Email", "Name", "Total Spent"):
            expect(header).to_contain_text(title)
        assert not _scrolls_sideways(phone, "fans-table")
        phone.screenshot(path=str(screenshots / "fans-phone.png"), full_page=True)
        # Filtered, with a selection.
        phone.goto(f"{site.url}/fans?rule=total_spent+%3E+100")
        wait_until_live(phone)
        rows = phone.get_by_test_id("fans-table").locator("tbody tr")
        expect(rows.first).to_contain_text("@")
        rows.first.locator(".q-checkbox").click()
        expect(phone.get_by_test_id("bulk-count")).to_have_text("1 selected")
        phone.screenshot(path=str(screenshots / "fans-selection-phone.png"), full_page=True)


def _members(site: Site, segment_id: int) -> list[Fan]:
    return segments.members(site.database, site.workspace_id, segment_id, page=1, page_size=500).items
