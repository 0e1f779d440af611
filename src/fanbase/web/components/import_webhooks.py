"""The Import page's sales webhooks: set up Shopify, Stripe or a generic signed endpoint (the URL to paste into the
vendor, the secret), remove one, and every delivery received with what fanbase did with it."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from fanbase.errors import FanbaseError
from fanbase.schemas.common import Page
from fanbase.schemas.sales import SalesDelivery
from fanbase.schemas.sales import SalesSource
from fanbase.schemas.sales import SalesSourceIn
from fanbase.schemas.sales import Vendor
from fanbase.schemas.users import SignedInUser
from fanbase.services import sales_sources
from fanbase.web.components.common import PagedTable
from fanbase.web.components.common import action_button
from fanbase.web.components.common import column
from fanbase.web.components.common import make_change
from fanbase.web.components.import_words import OUTCOME_COLORS
from fanbase.web.components.import_words import OUTCOME_HINTS
from fanbase.web.components.import_words import OUTCOMES
from fanbase.web.components.import_words import SECRET_LABELS
from fanbase.web.components.import_words import VENDOR_HELP
from fanbase.web.components.import_words import VENDOR_SHORT
from fanbase.web.components.import_words import VENDORS
from fanbase.web.components.import_words import plural
from fanbase.web.components.message_form import problems_of
from fanbase.web.layout import day_text
from fanbase.web.layout import time_text
from fanbase.web.state import actor_of
from fanbase.web.state import current
from fanbase.web.state import in_thread
from fanbase.web.state import in_workspace

DIALOG_WIDTH = "width: min(460px, 94vw)"
DELIVERIES_PAGE_SIZE = 10
POLL_SECONDS = 5.0  # the deliveries table looks for new ones this often: deliveries arrive on their own
DELIVERY_COLUMNS: list[dict[str, Any]] = [
    column("at", "Received"),
    column("source", "Source", is_hidden_when_narrow=True),
    column("topic", "Topic", is_hidden_when_narrow=True),
    column("outcome", "Outcome"),
    column("status", "Status", align="right", is_hidden_when_narrow=True),
    column("written", "Written", is_hidden_when_narrow=True),
    column("detail", "Detail", is_hidden_when_narrow=True),
]
# On a phone only Received and Outcome are shown: the source goes under the time, the rest under the outcome.
RECEIVED_SLOT = (
    '<q-td :props="props">{{ props.value }}<div class="fb-muted text-caption lt-sm">{{ props.row.source }}</div></q-td>'
)
OUTCOME_SLOT = (
    '<q-td :props="props"><q-badge :color="props.row.color" :label="props.value" data-testid="delivery-outcome" />'
    '<div class="fb-muted text-caption lt-sm fb-caption-wrap">{{ props.row.topic }}'
    "<span v-if=\"props.row.written !== '—'\"> · {{ props.row.written }}</span>"
    "<span v-if=\"props.row.detail !== '—'\"> · {{ props.row.detail }}</span></div></q-td>"
)
DETAIL_SLOT = '<q-td :props="props" class="fb-detail">{{ props.value }}</q-td>'

Changed = Callable[[], Awaitable[object]]


def copyable(label: str, value: str, *, testid: str, is_secret: bool = False) -> ui.input:
    """A value to paste elsewhere: read-only, selectable, with a copy button."""
    field = (
        ui.input(label, value=value)
        .props(f'readonly dense outlined stack-label input-class="fb-mono" data-testid="{testid}"')
        .classes("w-full")
    )
    if is_secret:
        field.props("bg-color=amber-1")
    with field.add_slot("append"):
        ui.button(icon="content_copy", on_click=lambda: _copy(value, label)).props(
            f'flat dense round size="sm" color="indigo-8" aria-label="Copy {label.lower()}" data-testid="{testid}-copy"'
        ).tooltip("Copy")
    return field


def _copy(value: str, label: str) -> None:
    ui.clipboard.write(value)
    ui.notify(f"{label} copied.")


def delivery_row(delivery: SalesDelivery) -> dict[str, Any]:
    written = [plural(count, word) for count, word in ((delivery.orders, "order"), (delivery.events, "event")) if count]
    return {
        "id": delivery.id,
        "at": time_text(delivery.received_at),
        "source": VENDOR_SHORT.get(delivery.vendor, delivery.vendor),
        "topic": delivery.topic,
        "outcome": OUTCOMES.get(delivery.outcome, delivery.outcome),
        "color": OUTCOME_COLORS.get(delivery.outcome, "grey-7"),
        "status": delivery.status_code,
        "written": ", ".join(written) or "—",
        "detail": delivery.detail or "—",
    }


class SourcesCard:
    """The three endpoints, each set up or not. ``on_change`` is called after a change (the deliveries table)."""

    def __init__(self, user: SignedInUser, *, base_url: str, on_change: Changed) -> None:
        self.user = user
        self.base_url = base_url
        self.on_change = on_change
        self.new_secret: tuple[str, str] | None = None  # (vendor, secret) fanbase just made: shown once
        with ui.card().classes("w-full gap-2").props('data-testid="sources-card"') as self.card:
            ui.label("Sales webhooks").classes("text-subtitle1 text-weight-medium")
            ui.label(
                "Let Shopify, Stripe or your own shop tell fanbase of each sale as it happens. Every delivery is "
                "checked against its signature before anything is read, and listed below with its outcome."
            ).classes("fb-muted")
            self.body = ui.column().classes("w-full gap-3")
        ui.timer(0.01, self.refresh, once=True)

    async def refresh(self) -> None:
        found = await in_workspace(self.user, sales_sources.list_sources, base_url=self.base_url)
        by_vendor = {source.vendor: source for source in found}
        self.body.clear()
        with self.body:
            for index, vendor in enumerate(sales_sources.VENDORS):
                if index:
                    ui.separator()
                self._vendor(vendor, by_vendor.get(vendor))

    def _vendor(self, vendor: Vendor, source: SalesSource | None) -> None:
        with ui.column().classes("w-full gap-1").props(f'data-testid="source-{vendor}"'):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(VENDORS[vendor]).classes("text-weight-medium")
                if source is not None:
                    ui.badge("Set up", color="green-7").props(f'data-testid="source-{vendor}-state"')
                    ui.label(f"since {day_text(source.created_at)}").classes("fb-muted text-caption")
                else:
                    ui.badge("Not set up", color="grey-6").props(f'data-testid="source-{vendor}-state"')
                ui.space()
                if source is not None:
                    action_button(
                        "Remove",
                        icon="link_off",
                        on_click=lambda: self.confirm_remove(vendor),
                        testid=f"remove-source-{vendor}",
                        is_danger=True,
                        is_dense=True,
                    )
            ui.label(VENDOR_HELP[vendor]).classes("fb-muted text-caption")
            url = source.url if source else self.base_url + sales_sources.endpoint_path(self.user.workspace_id, vendor)
            copyable(
                "Endpoint URL" if source else "Endpoint URL (answers once set up)", url, testid=f"source-{vendor}-url"
            )
            if self.new_secret is not None and self.new_secret[0] == vendor:
                copyable("Signing secret", self.new_secret[1], testid=f"source-{vendor}-secret", is_secret=True)
                ui.label("Copy it now: it is shown only this once. Sign each delivery with it.").classes(
                    "text-caption text-amber-10"
                )
            if vendor == "generic":
                label = "Make a new secret" if source else "Set up"
                action_button(
                    label,
                    icon="key",
                    on_click=lambda: self.generic(is_set=source is not None),
                    testid=f"set-up-{vendor}",
                    is_main=not source,
                )
                return
            with ui.row().classes("w-full items-start gap-2 no-wrap"):
                secret = (
                    ui.input(SECRET_LABELS[vendor], password=True, password_toggle_button=True)
                    .props(f'dense outlined autocomplete=off maxlength=200 data-testid="source-{vendor}-secret-input"')
                    .style("flex: 1 1 auto; min-width: 0")
                )
                action_button(
                    "Change secret" if source else "Set up",
                    on_click=lambda: self.set_up(vendor, secret),
                    testid=f"set-up-{vendor}",
                    is_main=True,
                ).classes("q-mt-xs")

    async def set_up(self, vendor: Vendor, field: ui.input) -> None:
        field.error = None
        try:
            given = SalesSourceIn(secret=(field.value or "").strip() or None)
        except ValidationError as error:
            field.error = problems_of(error)[0][1]
            return
        if given.secret is None:
            field.error = f"Paste the secret {VENDOR_SHORT[vendor]} signs its webhooks with"
            return
        if await self._set(vendor, given.secret, on_refused=lambda text: setattr(field, "error", text)):
            with self.card:  # the button clicked was rebuilt with the card's body
                ui.notify(f"{VENDOR_SHORT[vendor]} endpoint set up: paste its URL into {VENDOR_SHORT[vendor]}.")

    async def generic(self, *, is_set: bool) -> None:
        if is_set and not await self._confirm(
            "Make a new secret?",
            "The current secret stops working at once: deliveries signed with it are rejected.",
            "Make a new secret",
        ):
            return
        if await self._set("generic", None, on_refused=lambda text: ui.notify(text, type="negative")):
            with self.card:  # the button clicked was rebuilt with the card's body
                ui.notify("Generic endpoint set up: copy its secret now.", type="positive")

    async def _set(self, vendor: Vendor, secret: str | None, *, on_refused: Callable[[str], Any]) -> bool:
        state = current()
        try:
            made = await in_workspace(
                self.user,
                sales_sources.set_source,
                vendor,
                secret,
                base_url=self.base_url,
                now=state.now(),
                actor=actor_of(self.user),
            )
        except FanbaseError as error:
            on_refused(problems_of(error)[0][1])
            return False
        self.new_secret = (vendor, made.secret) if made.secret else None
        await self.refresh()
        await self.on_change()
        return True

    async def confirm_remove(self, vendor: Vendor) -> None:
        name = VENDOR_SHORT[vendor]
        if not await self._confirm(
            f"Remove the {name} endpoint?",
            f"Deliveries to it are refused from now on; what they wrote stays. Remove the webhook in {name} too."
            if vendor != "generic"
            else "Deliveries to it are refused from now on; what they wrote stays.",
            "Remove",
        ):
            return
        state = current()
        actor = actor_of(self.user)
        await make_change(
            lambda: sales_sources.delete_source(
                state.database, self.user.workspace_id, vendor, now=state.now(), actor=actor
            ),
            done=f"{name} endpoint removed.",
        )
        if self.new_secret is not None and self.new_secret[0] == vendor:
            self.new_secret = None
        await self.refresh()
        await self.on_change()

    async def _confirm(self, title: str, text: str, action: str) -> bool:
        with ui.dialog() as dialog, ui.card().style(DIALOG_WIDTH).props('data-testid="source-dialog"'):
            ui.label(title).classes("text-h6")
            ui.label(text)
            with ui.row().classes("w-full justify-end"):
                ui.button("Keep it", on_click=lambda: dialog.submit(False)).props("flat no-caps")
                action_button(
                    action, on_click=lambda: dialog.submit(True), testid="confirm-source", is_main=True, is_danger=True
                )
        answer = await dialog
        dialog.delete()
        return bool(answer)


class DeliveriesCard:
    """Every delivery to the workspace's sales endpoints, newest first, paged; read again every few seconds."""

    table: PagedTable[SalesDelivery]

    def __init__(self, user: SignedInUser) -> None:
        state = current()
        self.workspace_id = user.workspace_id

        def load(page: int, size: int) -> Page[SalesDelivery]:
            return sales_sources.list_deliveries(state.database, user.workspace_id, page=page, page_size=size)

        with ui.card().classes("w-full gap-2").props('data-testid="deliveries-card"'):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label("Deliveries").classes("text-subtitle1 text-weight-medium")
                ui.space()
                action_button(
                    "Refresh",
                    icon="refresh",
                    on_click=lambda: self.table.refresh(),
                    testid="refresh-deliveries",
                    is_dense=True,
                )
            ui.label(
                "Everything posted to your sales webhooks, newest first, kept 90 days. A failed delivery wrote "
                "nothing: the vendor sends it again, and it goes in once the cause (say, a missing exchange rate) "
                "is fixed."
            ).classes("fb-muted")
            with ui.row().classes("w-full items-center gap-x-3 gap-y-1"):
                for outcome, word in OUTCOMES.items():
                    with ui.row().classes("items-center gap-1 no-wrap"):
                        ui.badge(word, color=OUTCOME_COLORS[outcome])
                        ui.label(OUTCOME_HINTS[outcome]).classes("fb-muted text-caption")
            self.table = PagedTable(
                load,
                row=delivery_row,
                columns=DELIVERY_COLUMNS,
                page_size=DELIVERIES_PAGE_SIZE,
                testid="deliveries-table",
                empty="No deliveries yet: they show here as soon as a vendor posts to an endpoint.",
            )
            self.table.table.classes("fb-scroll-table")
            self.table.table.add_slot("body-cell-at", RECEIVED_SLOT)
            self.table.table.add_slot("body-cell-outcome", OUTCOME_SLOT)
            self.table.table.add_slot("body-cell-detail", DETAIL_SLOT)
        ui.timer(0.01, self.table.refresh, once=True)
        ui.timer(POLL_SECONDS, self.poll)

    async def poll(self) -> None:
        """Show the deliveries again when there are more: counted, so a page that changes nothing does not blink."""
        state = current()
        newest = await in_thread(sales_sources.list_deliveries, state.database, self.workspace_id, page=1, page_size=1)
        if newest.total != self.table.total:
            await self.table.refresh()
