"""The Import page in the browser (issue 17, "Data in from where artists sell"): a Shopify export read as a dry run
(recognised, its USD row refused for want of a rate, said in words), the rate added in the rates card and the
preview converting at once, the import with its report (and a second import changing nothing), an Eventbrite
attendee summary with the event's venue, city and time, the generic webhook set up and a signed delivery listed
with its outcome. Every part at 1280 x 800 and at 390 px.

The page is a workspace of its own (in euros, so the export's USD order needs a rate), signed in as its user: the
shared demo workspace's figures stay as the other browser tests expect them."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect
from web_support import PASSWORD
from web_support import TIMEOUT
from web_support import Site
from web_support import field_of
from web_support import sign_in

from fanbase.clock import utc_now
from fanbase.services import currencies
from fanbase.services import sales_sources
from fanbase.services import signatures
from fanbase.services import users
from fanbase.services import workspaces

pytestmark = pytest.mark.browser

DATA = Path(__file__).resolve().parents[1] / "data" / "imports"
SHOPIFY = DATA / "shopify_orders.csv"
EVENTBRITE = DATA / "eventbrite_attendees.csv"
EMAIL = "imports@example.com"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def workspace_id(site: Site) -> int:
    """A workspace in euros with its own user."""
    now = utc_now()
    created = workspaces.create_workspace(site.database, name="Marrow Lanes (imports)", currency="EUR", now=now)
    users.create_user(site.database, created.workspace.id, email=EMAIL, password=PASSWORD, name="Marrow", now=now)
    return created.workspace.id


def _signed_in(browser: Any, site: Site, **options: Any) -> Iterator[Page]:
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    try:
        sign_in(page, site, EMAIL)
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def page(browser: Any, site: Site, workspace_id: int) -> Iterator[Page]:
    # The browser is in Berlin: the Eventbrite event's time is typed in local time and stored in UTC.
    yield from _signed_in(browser, site, timezone_id="Europe/Berlin", accept_downloads=True)


def _open(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/imports")
    page.wait_for_function("window.did_handshake === true", timeout=TIMEOUT)
    expect(page.get_by_role("tab", name="Import")).to_have_attribute("aria-selected", "true")
    # The cards are filled in after the page loads.
    expect(page.get_by_test_id("source-generic-state")).to_be_visible()


def _upload(page: Page, path: Path) -> None:
    page.get_by_test_id("import-file").locator("input[type=file]").set_input_files(str(path))
    expect(page.get_by_test_id("import-file-name")).to_contain_text(path.name)


def _figure(page: Page, name: str) -> Locator:
    return page.get_by_test_id(f"report-{name}-value")


def _no_sideways_scroll(page: Page) -> None:
    scroll = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert scroll <= 0, f"{scroll} px of sideways scrolling at {page.viewport_size}"


def _overflowing(page: Page) -> list[str]:
    """Elements whose right edge passes the window's (a table's own scroll box aside): what a phone would cut."""
    found: list[str] = page.evaluate(
        """() => {
          const width = window.innerWidth;
          const out = [];
          for (const element of document.querySelectorAll('.q-card *')) {
            if (element.closest('.q-table__middle') || element.closest('.q-field__native')) continue;
            const box = element.getBoundingClientRect();
            if (box.width && box.right > width + 1) {
              out.push(element.tagName + '.' + element.className + ' ' + (element.textContent || '').slice(0, 40));
            }
          }
          return out.slice(0, 10);
        }"""
    )
    return found


def _shoot(page: Page, path: Path) -> None:
    """The whole page, taken with a window as tall as the page (toasts gone first)."""
    expect(page.locator(".q-notification")).to_have_count(0, timeout=15_000)
    viewport = page.viewport_size
    assert viewport is not None
    page.evaluate("() => window.scrollTo(0, 0)")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": max(height, viewport["height"])})
    try:
        page.wait_for_timeout(400)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(viewport)


def test_a_shopify_export_is_recognised_and_its_usd_row_needs_a_rate(page: Page, site: Site, screenshots: Path) -> None:
    _open(page, site)
    expect(page.get_by_test_id("workspace-currency")).to_contain_text("Your workspace counts money in EUR")
    expect(page.get_by_test_id("rates-table")).to_contain_text("No rates yet")
    expect(field_of(page.get_by_test_id("import-format"))).to_contain_text("Detect automatically")
    _upload(page, SHOPIFY)
    expect(page.get_by_test_id("preview-format")).to_have_text("Recognised as: Shopify orders export")
    columns = page.get_by_test_id("preview-columns")
    expect(columns).to_contain_text("Financial Status")
    expect(columns).to_contain_text("Lineitem price")
    table = page.get_by_test_id("preview-table")
    expect(table.locator("tbody tr").first).to_contain_text("lena.fischer@example.com")
    expect(table).to_contain_text("Night Tram - Vinyl LP")
    expect(table).to_contain_text("€28.00")
    # Jonas's order: its poster was refunded, said on the poster's row.
    poster = table.locator("tbody tr").filter(has_text="Night Tram - Signed Poster")
    expect(poster).to_contain_text("Refunded")
    # Sam paid in dollars: the row is marked, with the problem in words, and nothing converted.
    problem = page.get_by_test_id("preview-problem")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("Line 4: No exchange rate from USD to EUR valid on 2026-03-04")
    expect(problem).not_to_contain_text("PUT /api")
    expect(table.locator("tr.fb-problem").first).to_contain_text("sam.okafor@example.org")
    expect(table.locator("tr.fb-problem").first).to_contain_text("$32.00")
    expect(page.get_by_test_id("preview-summary")).to_contain_text("1 row with a problem")
    expect(page.get_by_test_id("run-import")).to_have_text(re.compile("Import shopify_orders.csv"))
    _no_sideways_scroll(page)
    _shoot(page, screenshots / "import-preview.png")


def test_the_rate_added_in_the_rates_card_converts_the_preview(page: Page, site: Site, workspace_id: int) -> None:
    # The preview's own button starts the rate: currency and first day filled in.
    page.get_by_test_id("preview-add-rate").click()
    expect(page.get_by_test_id("rate-currency")).to_have_value("USD")
    expect(page.get_by_test_id("rate-valid-from")).to_have_value("2026-03-04")
    # A refusal is shown at its field.
    page.get_by_test_id("rate-value").fill("-1")
    page.get_by_test_id("add-rate").click()
    expect(field_of(page.get_by_test_id("rate-value"))).to_contain_text("positive number")
    page.get_by_test_id("rate-currency").fill("EUR")
    page.get_by_test_id("rate-value").fill("0.92")
    page.get_by_test_id("add-rate").click()
    expect(field_of(page.get_by_test_id("rate-currency"))).to_contain_text("EUR is this workspace's own currency")
    assert currencies.list_rates(site.database, workspace_id) == []

    page.get_by_test_id("rate-currency").fill("usd")
    page.get_by_test_id("rate-valid-from").fill("2026-01-01")
    page.get_by_test_id("add-rate").click()
    expect(page.get_by_test_id("rates-table")).to_contain_text("1 USD = 0.92 EUR")
    expect(page.get_by_test_id("rates-table")).to_contain_text("1 Jan 2026")
    # The preview is read again at once: converted, no problem left.
    expect(page.get_by_test_id("preview-problem")).to_have_count(0)
    sam = page.get_by_test_id("preview-table").locator("tbody tr").filter(has_text="sam.okafor@example.org")
    expect(sam).to_contain_text("€29.44")
    expect(sam).to_contain_text("1 USD = 0.92 EUR")
    [rate] = currencies.list_rates(site.database, workspace_id)
    assert (rate.currency, str(rate.rate)) == ("USD", "0.92")

    # Rates from a CSV: a bad line refuses the file, said under it; a good file adds them all.
    rates_file = page.get_by_test_id("rates-file").locator("input[type=file]")
    bad = b"currency,valid_from,rate\nGBP,2026-01-01,1.17\nGBP,2026-02-30,1.18\n"
    rates_file.set_input_files({"name": "rates.csv", "mimeType": "text/csv", "buffer": bad})
    expect(page.get_by_test_id("rates-file-problem")).to_contain_text("Not imported: line 3: valid_from")
    good = b"currency,valid_from,rate\nGBP,2026-01-01,1.17\nGBP,2026-02-01,1.18\n"
    rates_file.set_input_files({"name": "rates.csv", "mimeType": "text/csv", "buffer": good})
    expect(page.get_by_test_id("rates-table").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("rates-file-problem")).to_be_hidden()
    # A rate deleted from the table.
    gbp = page.get_by_test_id("rates-table").locator("tbody tr").filter(has_text="1 GBP = 1.18 EUR")
    gbp.get_by_test_id("delete-rate").click()
    expect(page.get_by_test_id("rates-table").locator("tbody tr")).to_have_count(2)
    assert sorted(str(rate.rate) for rate in currencies.list_rates(site.database, workspace_id)) == ["0.92", "1.17"]


def test_import_shows_the_report_and_a_second_import_changes_nothing(page: Page, screenshots: Path) -> None:
    page.get_by_test_id("run-import").click()
    expect(_figure(page, "orders-created")).to_have_text("9")
    expect(_figure(page, "skipped")).to_have_text("1")
    expect(_figure(page, "fans-created")).to_have_text("5")
    expect(_figure(page, "unchanged")).to_have_text("0")
    expect(_figure(page, "error-count")).to_have_text("0")
    expect(page.get_by_test_id("report")).to_contain_text("Orders created")
    expect(page.get_by_test_id("report")).not_to_contain_text("orders_created")
    expect(page.get_by_test_id("report-title")).to_have_text("Imported shopify_orders.csv: 10 rows read")
    expect(page.get_by_test_id("import-progress-text")).to_have_text("Done.")
    _no_sideways_scroll(page)
    _shoot(page, screenshots / "import-report.png")

    page.get_by_test_id("run-import").click()
    expect(_figure(page, "unchanged")).to_have_text("9")
    expect(_figure(page, "orders-created")).to_have_text("0")
    expect(page.get_by_test_id("report-all-unchanged")).to_be_visible()


def test_an_eventbrite_summary_with_the_events_venue_city_and_time(page: Page, site: Site, screenshots: Path) -> None:
    _upload(page, EVENTBRITE)
    expect(page.get_by_test_id("preview-format")).to_have_text("Recognised as: Eventbrite attendee summary")
    fields = page.get_by_test_id("eventbrite-fields")
    expect(fields).to_be_visible()
    # Without the event's time, the check-ins cannot be recorded (the tickets can): said before importing.
    expect(page.get_by_test_id("preview-errors")).to_contain_text("no check-in time")
    expect(page.get_by_test_id("preview-errors").locator("tbody tr")).to_have_count(2)
    page.get_by_test_id("run-import").click()
    expect(_figure(page, "orders-created")).to_have_text("6")
    expect(_figure(page, "error-count")).to_have_text("2")
    rejected = page.get_by_test_id("rejected-table")
    expect(rejected).to_contain_text("lena.fischer@example.com")
    with page.expect_download() as download_info:
        page.get_by_test_id("download-rejected").click()
    download = download_info.value
    assert download.suggested_filename == "eventbrite_attendees rejected rows.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [(row["line"], row["email"]) for row in rows] == [
        ("2", "lena.fischer@example.com"),
        ("3", "jonas.weber@example.com"),
    ]
    assert "no check-in time" in rows[0]["reason"]

    page.get_by_test_id("event-venue").fill("Lido")
    page.get_by_test_id("event-city").fill("Berlin")
    page.get_by_test_id("event-at").fill("2026-02-20T20:00")
    # Typed in Berlin's time, recorded in UTC.
    expect(page.get_by_test_id("event-at-utc")).to_contain_text("that is 20 Feb 2026, 19:00 UTC")
    expect(page.get_by_test_id("preview-errors")).to_have_count(0)
    # The report of the import without them is gone: it is not what importing now would do.
    expect(page.get_by_test_id("report")).to_have_count(0)
    gig = page.get_by_test_id("preview-table").locator("tbody tr").filter(has_text="Gig attended").first
    expect(gig).to_contain_text("Lido · Berlin")
    expect(gig).to_contain_text("20 Feb 2026, 19:00")
    _shoot(page, screenshots / "import-eventbrite.png")
    page.get_by_test_id("run-import").click()
    expect(_figure(page, "events-created")).to_have_text("2")
    expect(_figure(page, "unchanged")).to_have_text("6")
    expect(_figure(page, "error-count")).to_have_text("0")


def test_the_generic_webhook_and_its_deliveries(page: Page, site: Site, workspace_id: int, screenshots: Path) -> None:
    _open(page, site)
    expect(page.get_by_test_id("deliveries-table")).to_contain_text("No deliveries yet")
    # Shopify needs its secret: refused at the field.
    page.get_by_test_id("source-shopify-secret-input").fill("short")
    page.get_by_test_id("set-up-shopify").click()
    expect(field_of(page.get_by_test_id("source-shopify-secret-input"))).to_contain_text("at least 8 characters")

    # Set up with its secret, then removed again.
    page.get_by_test_id("source-shopify-secret-input").fill("shpss_4f1c2b9a7e6d5c3b")
    page.get_by_test_id("set-up-shopify").click()
    expect(page.get_by_test_id("source-shopify-state")).to_have_text("Set up")
    page.get_by_test_id("remove-source-shopify").click()
    expect(page.get_by_test_id("source-dialog")).to_contain_text("Remove the Shopify endpoint?")
    page.get_by_test_id("confirm-source").click()
    expect(page.get_by_test_id("source-shopify-state")).to_have_text("Not set up")

    page.get_by_test_id("set-up-generic").click()
    expect(page.get_by_test_id("source-generic-state")).to_have_text("Set up")
    url = page.get_by_test_id("source-generic-url").input_value()
    assert url == f"{site.url}/inbound/{workspace_id}/sales/generic"
    secret = page.get_by_test_id("source-generic-secret").input_value()
    assert secret.startswith("whsec_")
    expect(page.get_by_test_id("source-generic-secret-copy")).to_be_visible()
    assert [source.vendor for source in sales_sources.list_sources(site.database, workspace_id)] == ["generic"]

    order = {
        "email": "priya.raman@example.net",
        "amount": "35.00",
        "currency": "EUR",
        "category": "merch",
        "product": "Tour Tee 2026 - Black / M",
        "placed_at": "2026-03-15T12:00:00+00:00",
        "external_id": "web-1001",
    }
    body = json.dumps({"topic": "sales", "id": "delivery-1", "orders": [order]}).encode()
    signed = signatures.sign_timestamped(secret, body, now=utc_now())
    # Posted from the browser's context (its cookie changes nothing: the endpoint is public, signed).
    headers = {"Fanbase-Signature": signed, "Content-Type": "application/json"}
    answer = page.request.post(url, data=body, headers=headers)
    assert answer.status == 200, answer.text()
    assert answer.json()["outcome"] == "processed"
    forged = page.request.post(url, data=body, headers={"Fanbase-Signature": signed.replace("v1=", "v1=0")})
    assert forged.status == 401
    assert "does not match" in forged.text()

    page.get_by_test_id("refresh-deliveries").click()
    rows = page.get_by_test_id("deliveries-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Rejected")
    expect(rows.nth(0)).to_contain_text("does not match the body")
    expect(rows.nth(1)).to_contain_text("Processed")
    expect(rows.nth(1)).to_contain_text("Generic")
    expect(rows.nth(1)).to_contain_text("sales")
    expect(rows.nth(1)).to_contain_text("1 order")
    expect(rows.nth(1).get_by_test_id("delivery-outcome")).to_have_class(re.compile("bg-green-7"))
    _no_sideways_scroll(page)
    _shoot(page, screenshots / "import-webhooks.png")

    # A reloaded page shows the endpoint, never the secret again.
    _open(page, site)
    expect(page.get_by_test_id("source-generic-url")).to_have_value(url)
    expect(page.get_by_test_id("source-generic-secret")).to_have_count(0)
    expect(page.get_by_test_id("set-up-generic")).to_have_text(re.compile("Make a new secret"))


def test_a_vendor_and_a_mail_recipient_without_a_session_reach_their_endpoints(site: Site, workspace_id: int) -> None:
    """What Shopify or Stripe does: post a signed delivery with no cookie at all; and what a mail client does: open
    the pixel, follow an unsubscribe link. The dashboard's sign-in guard must let them through to the endpoints
    (it once answered 401 'sign in first' and redirected the links to /login)."""
    url = f"{site.url}{sales_sources.endpoint_path(workspace_id, 'generic')}"
    answer = httpx.post(url, content=b"{}", headers={"Fanbase-Signature": "t=0,v1=00"})
    # The endpoint itself answers: a stale signature, refused by the signature check (and logged as rejected).
    assert answer.status_code == 401
    assert answer.json()["field"] == "Fanbase-Signature"
    pixel = httpx.get(f"{site.url}/t/o/not-a-token.gif", follow_redirects=False)
    assert (pixel.status_code, pixel.headers["content-type"]) == (200, "image/gif")
    unsubscribe = httpx.get(f"{site.url}/u/not-a-token", follow_redirects=False)
    assert unsubscribe.status_code != 307 and "/login" not in unsubscribe.headers.get("location", "")


def test_the_import_page_on_a_phone(browser: Any, site: Site, workspace_id: int, screenshots: Path) -> None:
    for phone in _signed_in(browser, site, viewport=PHONE):
        _open(phone, site)
        expect(phone.get_by_test_id("deliveries-table").locator("tbody tr").first).to_contain_text("Rejected")
        _upload(phone, SHOPIFY)
        expect(phone.get_by_test_id("preview-format")).to_have_text("Recognised as: Shopify orders export")
        expect(phone.get_by_test_id("preview-problem")).to_have_count(0)
        _no_sideways_scroll(phone)
        assert _overflowing(phone) == []
        # The preview's table keeps its columns and scrolls sideways inside its card.
        middle = phone.get_by_test_id("preview-table").locator(".q-table__middle")
        assert middle.evaluate("element => element.scrollWidth > element.clientWidth")
        _shoot(phone, screenshots / "import-preview-phone.png")
        phone.get_by_test_id("run-import").click()
        expect(_figure(phone, "unchanged")).to_have_text("9")
        _no_sideways_scroll(phone)
        assert _overflowing(phone) == []
        _shoot(phone, screenshots / "import-report-phone.png")
