"""The Create Segment dialog in the user's words (issue 14, points 5-6): the guide's field names and the workspace's
labels for custom fields, no red before the user typed, errors at their field, "did you mean" for unknown names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect
from web_support import Site
from web_support import field_of
from web_support import signed_in_page
from web_support import wait_until_live

from fanbase.clock import utc_now
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import SegmentIn
from fanbase.services import previews
from fanbase.services import segments

pytestmark = pytest.mark.browser

TAKEN = "Taken name (browser words)"


@pytest.fixture(scope="module")
def page(browser: Any, site: Site) -> Iterator[Page]:
    segments.create_segment(site.database, site.workspace_id, SegmentIn(name=TAKEN, kind="static"), now=utc_now())
    with signed_in_page(browser, site) as page:
        yield page


def _open_dialog(page: Page, site: Site) -> Locator:
    page.goto(f"{site.url}/segments")
    wait_until_live(page)
    page.get_by_test_id("create-segment").click()
    dialog = page.get_by_test_id("segment-dialog")
    expect(dialog).to_be_visible()
    return dialog


def test_fields_carry_the_guides_names_and_custom_fields_their_labels(page: Page, site: Site) -> None:
    dialog = _open_dialog(page, site)
    dialog.get_by_test_id("add-field").first.click()
    dialog.get_by_test_id("field-select").click()
    for title in ("Lifecycle Stage", "Total Spent", "Purchase Count", "Source", "Last Active Date"):
        expect(page.get_by_role("option", name=title, exact=True)).to_be_visible()
    # The demo's custom field tshirt_size is labelled "T-shirt size": the label, never the key.
    expect(page.get_by_role("option", name="T-shirt size (custom)")).to_be_visible()
    expect(page.get_by_role("option", name="tshirt_size")).to_have_count(0)
    page.keyboard.press("Escape")


def test_a_new_condition_is_not_red_before_the_user_typed(page: Page, site: Site) -> None:
    dialog = _open_dialog(page, site)
    expect(field_of(dialog.get_by_test_id("segment-name"))).not_to_have_class(_contains("q-field--error"))
    dialog.get_by_test_id("add-field").first.click()
    page.wait_for_timeout(1_000)  # past the preview's debounce
    expect(dialog.get_by_text("Give the new condition a value to see who matches.")).to_be_visible()
    expect(dialog.get_by_test_id("condition-error").filter(has_text=re.compile(r"\S"))).to_have_count(0)
    expect(dialog.get_by_text("needs a value")).to_have_count(0)
    dialog.get_by_role("button", name="Cancel").click()


def test_a_duplicate_name_is_shown_at_the_name_input(page: Page, site: Site) -> None:
    dialog = _open_dialog(page, site)
    dialog.get_by_label("Name").fill(TAKEN)
    dialog.get_by_test_id("segment-type").get_by_text("Static").click()
    dialog.get_by_test_id("save-segment").click()
    field = field_of(dialog.get_by_test_id("segment-name"))  # the input's whole field: box, label and message
    expect(field).to_have_class(_contains("q-field--error"))
    expect(field).to_contain_text("already exists")
    dialog.get_by_role("button", name="Cancel").click()


def test_an_unknown_name_in_the_text_form_suggests_the_closest(page: Page, site: Site) -> None:
    dialog = _open_dialog(page, site)
    dialog.get_by_test_id("text-toggle").click()
    dialog.get_by_test_id("rule-text").fill('tag "Browser VIPs"')
    expect(dialog.get_by_test_id("text-error")).to_contain_text("did you mean 'Browser VIP'?")
    dialog.get_by_role("button", name="Cancel").click()


def test_an_event_type_not_seen_suggests_the_closest_in_both_forms(page: Page, site: Site) -> None:
    dialog = _open_dialog(page, site)
    dialog.get_by_test_id("text-toggle").click()
    dialog.get_by_test_id("rule-text").fill('count(events where type = "gig_atended") >= 1')
    hints = dialog.get_by_test_id("preview-hints")
    # Valid (an event type can be named before it first happens), so a hint beside the count, not an error.
    expect(hints).to_have_text("No event type 'gig_atended' has been recorded yet (did you mean 'gig_attended'?).")
    expect(dialog.get_by_test_id("preview-count")).to_have_text("0")
    expect(dialog.get_by_test_id("text-error")).to_have_text("")
    # The same hint in the builder, and gone once the name is one the workspace holds.
    dialog.get_by_test_id("text-toggle").click()
    expect(dialog.get_by_test_id("condition")).to_have_count(1)
    expect(hints).to_contain_text("did you mean 'gig_attended'?")
    dialog.get_by_test_id("text-toggle").click()
    dialog.get_by_test_id("rule-text").fill('count(events where type = "gig_attended") >= 1')
    expect(hints).to_have_text("")
    dialog.get_by_role("button", name="Cancel").click()


def _contains(name: str) -> re.Pattern[str]:
    """A class attribute holding this class among others."""
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def test_a_behaviour_condition_reads_like_the_guide(page: Page, site: Site, screenshots: Path) -> None:
    dialog = _open_dialog(page, site)
    dialog.get_by_test_id("add-behaviour").click()
    what = dialog.get_by_test_id("behaviour-what")
    expect(what).to_contain_text("placed orders")
    what.click()
    page.get_by_role("option", name="done an activity", exact=True).click()
    expect(what).to_contain_text("done an activity")
    # No silent window: all time until the user picks one.
    expect(dialog.get_by_test_id("behaviour-window")).to_contain_text("all time")
    # The activity's type, picked from what the workspace has seen, with how many fans did it.
    dialog.get_by_test_id("type-picker").click()
    option = page.get_by_role("option", name=re.compile(r"^Gig attended \([\d,]+ fans\)$"))
    expect(option).to_be_visible()
    option.click()
    dialog.get_by_test_id("op-select").click()
    page.get_by_role("option", name="at least", exact=True).click()
    dialog.get_by_test_id("value-input").fill("2")
    dialog.get_by_test_id("value-input").press("Tab")
    expect(dialog.get_by_text("times", exact=True)).to_be_visible()
    for schema_word in ("placed_at", "occurred_at", "result", "number of"):
        expect(dialog.get_by_text(schema_word, exact=True)).to_have_count(0)

    expected = previews.preview(
        site.database,
        site.workspace_id,
        RuleIn(rule_text='count(events where type = "gig_attended") >= 2'),
        now=utc_now(),
    ).count
    expect(dialog.get_by_test_id("preview-count")).to_have_text(f"{expected:,}")
    page.screenshot(path=str(screenshots / "create-segment-behaviour.png"))
    dialog.get_by_test_id("text-toggle").click()
    expect(dialog.get_by_test_id("rule-text")).to_have_value('count(events where type = "gig_attended") >= 2')
    dialog.get_by_role("button", name="Cancel").click()


def test_the_create_segment_dialog_fills_a_phone(browser: Any, site: Site, screenshots: Path) -> None:
    with signed_in_page(browser, site, width=390, height=844) as phone:
        phone.get_by_test_id("create-segment").click()
        dialog = phone.get_by_test_id("segment-dialog")
        expect(dialog).to_be_visible()
        # The whole width once its opening animation is over.
        phone.wait_for_function(
            "() => document.querySelector('[data-testid=\"segment-dialog\"]').getBoundingClientRect().width >= 380"
        )
        # Nothing wider than the screen: no sideways scrolling.
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(screenshots / "create-segment-phone.png"))
        # A behaviour condition in the guide's words, on a phone.
        dialog.get_by_test_id("add-behaviour").click()
        dialog.get_by_test_id("behaviour-what").click()
        phone.get_by_role("option", name="done an activity", exact=True).click()
        dialog.get_by_test_id("type-picker").click()
        phone.get_by_role("option", name=re.compile(r"^Gig attended \([\d,]+ fans\)$")).click()
        dialog.get_by_test_id("value-input").fill("2")
        dialog.get_by_test_id("value-input").press("Tab")
        expect(dialog.get_by_test_id("preview-count")).to_have_text(re.compile(r"^\d[\d,]*$"))
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(screenshots / "create-segment-behaviour-phone.png"))
