"""The dashboard in a real browser: sign in, build a segment with a live preview, use it, isolation, sign out.

The tests run in order and share one signed-in page (creating the segment once is what the later steps use).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect
from web_support import TIMEOUT
from web_support import Site
from web_support import sign_in
from web_support import wait_until_live

from fanbase.services import segments

pytestmark = pytest.mark.browser

DYNAMIC_NAME = "Big spenders (browser)"
STATIC_NAME = "Hand picked (browser)"


@pytest.fixture(scope="module")
def page(browser: Any, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    yield page
    context.close()


def test_nothing_but_the_sign_in_page_without_a_session(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/segments")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)segments$"))
    page.goto(f"{site.url}/fans/1")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(site.user_email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")


def test_sign_in_opens_segment_manage(page: Page, site: Site) -> None:
    sign_in(page, site, site.user_email)
    expect(page.get_by_test_id("workspace-name")).to_contain_text("Aurora Lane")
    expect(page.get_by_role("tab", name="Segment Manage")).to_be_visible()
    for tab in ("Fans", "Tags", "Lists", "Analytics"):
        expect(page.get_by_role("tab", name=tab)).to_be_visible()


def preview_count(page: Page) -> str:
    return page.get_by_test_id("preview-count").inner_text()


def test_create_a_dynamic_segment_and_watch_the_preview(page: Page, site: Site, screenshots: Path) -> None:
    page.get_by_test_id("create-segment").click()
    dialog = page.get_by_test_id("segment-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill(DYNAMIC_NAME)
    dialog.get_by_label("Description (optional)").fill("Spent something, and either a lot or tagged.")

    # One condition: total spent > 0.
    dialog.get_by_test_id("add-field").first.click()
    dialog.get_by_test_id("value-input").fill("0")
    dialog.get_by_test_id("value-input").press("Tab")
    count = dialog.get_by_test_id("preview-count")
    expect(count).to_have_text(re.compile(r"^\d[\d,]*$"))
    first = preview_count(page)
    assert int(first.replace(",", "")) > 0

    # A nested ANY group: (total spent > 100 or has tag …) — the count changes as it is added.
    dialog.get_by_test_id("add-group").first.click()
    group = dialog.get_by_test_id("group-any")
    group.get_by_test_id("value-input").fill("100")
    group.get_by_test_id("value-input").press("Tab")
    expect(count).not_to_have_text(first)
    group.get_by_test_id("add-tag").click()
    expect(group.get_by_test_id("tag-select")).to_be_visible()
    expect(count).to_have_text(re.compile(r"^\d[\d,]*$"))
    second = int(preview_count(page).replace(",", ""))
    assert 0 < second < int(first.replace(",", ""))
    # Each top-level condition shows its own count.
    expect(dialog.get_by_test_id("condition-count").first).to_have_text(first)
    page.screenshot(path=str(screenshots / "create-segment-dialog.png"))

    # The text form is kept in sync with the builder.
    dialog.get_by_test_id("text-toggle").click()
    expect(dialog.get_by_test_id("rule-text")).to_have_value(
        re.compile(r"total_spent > 0 and \(total_spent > 100 or tag ")
    )
    dialog.get_by_test_id("text-toggle").click()
    # Back in the builder, the preview runs again; let it settle before saving. In 1 of 3 fresh-clone runs on
    # 2026-12-06 a click on Save made at that moment was lost (no request, nothing logged). The tables' lost clicks
    # were remounted cells (web/stable_slots.py), but Save is no template cell: this one is not yet explained.
    expect(count).to_have_text(f"{second:,}")
    page.wait_for_timeout(1_000)

    dialog.get_by_test_id("save-segment").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id("segments-table").get_by_role("row", name=re.compile(re.escape(DYNAMIC_NAME)))
    expect(row).to_contain_text(f"{second:,}")
    page.screenshot(path=str(screenshots / "segment-manage.png"))


def test_text_form_errors_show_where_they_are(page: Page) -> None:
    page.get_by_test_id("create-segment").click()
    dialog = page.get_by_test_id("segment-dialog")
    dialog.get_by_test_id("text-toggle").click()
    dialog.get_by_test_id("rule-text").fill("total_spent > 100 and and tag")
    expect(dialog.get_by_test_id("text-error")).to_contain_text("line 1, column")
    expect(dialog.get_by_test_id("text-error")).to_contain_text("^")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()


def test_open_the_segment_see_members_and_filter_the_fans(page: Page, site: Site, screenshots: Path) -> None:
    page.get_by_role("link", name=DYNAMIC_NAME).click()
    expect(page.get_by_test_id("segment-title")).to_have_text(DYNAMIC_NAME)
    size = page.get_by_test_id("segment-size").inner_text()
    expect(page.get_by_test_id("rule-english")).to_contain_text("total spent")
    members = page.get_by_test_id("members-table")
    expect(members.locator("tbody tr").first).to_contain_text("@")
    page.screenshot(path=str(screenshots / "segment-page.png"), full_page=True)

    page.get_by_test_id("filter-fans").click()
    expect(page).to_have_url(re.compile(r"/fans\?segment=\d+$"))
    expect(page.get_by_test_id("fan-total")).to_have_text(f"{size} fans")
    page.screenshot(path=str(screenshots / "fan-list.png"))


def test_create_a_static_segment_and_add_a_fan(page: Page, site: Site) -> None:
    page.get_by_role("tab", name="Segment Manage").click()
    expect(page).to_have_url(re.compile(r"/segments$"))
    wait_until_live(page)
    page.get_by_test_id("create-segment").click()
    dialog = page.get_by_test_id("segment-dialog")
    dialog.get_by_label("Name").fill(STATIC_NAME)
    dialog.get_by_test_id("segment-type").get_by_text("Static").click()
    dialog.get_by_test_id("save-segment").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("link", name=STATIC_NAME).click()
    expect(page.get_by_test_id("segment-size")).to_have_text("0")
    wait_until_live(page)
    page.get_by_test_id("add-fan-email").fill("static.pick@example.com")
    page.get_by_test_id("add-fan").click()
    expect(page.get_by_test_id("members-table")).to_contain_text("static.pick@example.com")


def test_another_workspace_sees_none_of_it(browser: Any, site: Site, screenshots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(TIMEOUT)
    other = context.new_page()
    try:
        sign_in(other, site, site.other_email)
        expect(other.get_by_test_id("workspace-name")).to_have_text("Other Label")
        expect(other.get_by_test_id("segments-table")).not_to_contain_text(DYNAMIC_NAME)
        expect(other.get_by_test_id("segments-table")).not_to_contain_text(STATIC_NAME)
        other.goto(f"{site.url}/fans")
        expect(other.get_by_test_id("fan-total")).to_have_text("1 fan")
        expect(other.get_by_test_id("fans-table")).not_to_contain_text("static.pick@example.com")
        theirs = {segment.name: segment.id for segment in segments.list_segments(site.database, site.workspace_id)}
        other.goto(f"{site.url}/segments/{theirs[DYNAMIC_NAME]}")
        expect(other.get_by_text("This segment does not exist in your workspace.")).to_be_visible()
        other.goto(f"{site.url}/fans?segment={theirs[STATIC_NAME]}")
        expect(other.get_by_test_id("fan-total")).to_have_text("1 fan")  # the filter is not theirs to use
        expect(other.get_by_test_id("fans-table")).to_contain_text("other.fan@example.com")
        other.screenshot(path=str(screenshots / "other-workspace-fans-phone.png"))
    finally:
        context.close()


def test_tags_lists_analytics_and_a_fan_page_render(page: Page, site: Site, screenshots: Path) -> None:
    page.get_by_role("tab", name="Tags").click()
    expect(page).to_have_url(re.compile(r"/tags$"))
    wait_until_live(page)
    tags = page.get_by_test_id("tags-table")
    expect(tags).to_contain_text("Browser VIP")
    rows = tags.locator("tbody tr")
    vip_members = rows.filter(has_text="Browser VIP").get_by_role("button", name="Members").element_handle()
    rows.filter(has_not_text="Browser VIP").first.get_by_role("button", name="Members").click()
    expect(page.get_by_test_id("tag-members").locator("tbody tr").first).to_be_visible()
    # The card's arrival re-rendered the page; a cell's button must be patched, not replaced: a button replaced
    # while it is pressed loses its click (the lost-click defect, zauberzeug/nicegui#6284; see web/stable_slots.py).
    assert vip_members.evaluate("button => button.isConnected"), "the tags table's buttons were remounted"
    page.screenshot(path=str(screenshots / "tags.png"))

    page.get_by_role("tab", name="Lists").click()
    expect(page).to_have_url(re.compile(r"/lists$"))
    wait_until_live(page)
    expect(page.get_by_test_id("lists-table")).to_contain_text("Browser Club")
    page.get_by_test_id("lists-table").get_by_role("button", name="Members").first.click()
    expect(page.get_by_test_id("list-members")).to_be_visible()

    page.get_by_role("tab", name="Analytics").click()
    expect(page).to_have_url(re.compile(r"/analytics$"))
    expect(page.locator(".nicegui-echart").first).to_be_visible()
    page.wait_for_timeout(500)  # let the charts animate in before the screenshot
    page.screenshot(path=str(screenshots / "analytics.png"), full_page=True)

    page.get_by_role("tab", name="Fans").click()
    page.get_by_test_id("fans-table").locator("tbody tr a").first.click()
    expect(page).to_have_url(re.compile(r"/fans/\d+$"))
    expect(page.get_by_text("Profile")).to_be_visible()
    page.screenshot(path=str(screenshots / "fan-page.png"), full_page=True)
    # One date style ("6 Dec 2026", "6 Dec 2026, 14:05"), the time zone said once, at the page's foot.
    body = page.locator("body").inner_text()
    assert re.search(r"Sign-up Date\s+\d{1,2} [A-Z][a-z]{2} \d{4}\b", body), body
    assert not re.search(r"\d{4}-\d{2}-\d{2}", body), "an ISO date on the fan page"
    assert body.count("UTC") == 1, body
    assert not re.search(r"\b(True|False)\b", body), "a yes/no custom field shown as True/False"
    expect(page.get_by_test_id("time-zone-note")).to_have_text("Dates and times are in UTC.")


def test_sign_out(page: Page, site: Site) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{site.url}/segments")
    expect(page).to_have_url(re.compile(r"/login"))
