"""Import (issue 17, "Data in from where artists sell"): orders and events from a vendor's CSV export, read first as
a dry run and then imported in the background; the exchange rates that convert other currencies; the signed sales
webhooks and every delivery they received."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from nicegui import ui

from fanbase.errors import FanbaseError
from fanbase.schemas.users import SignedInUser
from fanbase.schemas.workspaces import WorkspaceSettingsIn
from fanbase.services import workspaces
from fanbase.web.components.common import dashboard_page
from fanbase.web.components.import_rates import RatesCard
from fanbase.web.components.import_upload import SalesImportCard
from fanbase.web.components.import_webhooks import DeliveriesCard
from fanbase.web.components.import_webhooks import SourcesCard
from fanbase.web.layout import frame
from fanbase.web.layout import page_title
from fanbase.web.state import actor_of
from fanbase.web.state import current
from fanbase.web.state import in_workspace

_CSS = """
.fb-problem { background: #fef2f2; }
.fb-problem-text { white-space: normal; color: #b91c1c; }
.fb-figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(8.5rem, 1fr)); gap: 8px; }
.fb-figure { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 10px; background: #fff; }
.q-table td.fb-wrap { white-space: normal; min-width: 14rem; }
.q-table td.fb-detail { white-space: normal; min-width: 12rem; max-width: 28rem; overflow-wrap: anywhere; }
.fb-caption-wrap { white-space: normal; overflow-wrap: anywhere; min-width: 9rem; max-width: 13rem; }
/* An upload box as light as a field: no dark bar, no "0.0B / 0.00%", no empty list under it. */
.fb-upload .q-uploader__subtitle { display: none; }
.fb-upload .q-uploader__list { min-height: 0; padding: 0; }
@media (max-width: 600px) {
  /* A wide table keeps its lines whole on a phone and scrolls sideways inside its card (Quasar's table body is its
     own scroll box), rather than breaking an email or a word ("Generi c") at every letter. */
  .fb-scroll-table .q-table td, .fb-scroll-table .q-table th { white-space: nowrap; overflow-wrap: normal; }
  .fb-scroll-table .q-table td.fb-wrap, .fb-scroll-table .q-table td.fb-detail { white-space: normal; }
  /* A row's problem stays in sight at the left of the scrolled table, wrapped to the screen's width. */
  .fb-problem-text { position: sticky; left: 8px; max-width: calc(100vw - 72px); }
}
"""


@dashboard_page("/imports", title="Import")
def imports_page(user: SignedInUser, request: Request) -> None:
    state = current()
    # Where vendors post: the public address when one is set (behind a proxy), else the address this page came from.
    base_url = str(state.settings.public_url or request.base_url).rstrip("/")
    with frame(user, active="imports", title="Import"):
        ui.add_css(_CSS)
        page_title(
            "Import",
            subtitle="Orders and events from where you sell: exports from your shops, exchange rates and webhooks.",
        )

        def add_rate(currency: str, day: str) -> None:
            rates.prefill(currency, day)

        upload = SalesImportCard(user, on_add_rate=add_rate)
        with upload.card:
            _lifecycle_switch(user)
        with ui.row().classes("w-full gap-4 items-stretch"):
            with ui.column().classes("gap-4").style("flex: 1 1 420px; min-width: 0"):
                rates = RatesCard(user, on_change=upload.refresh_preview)
            with ui.column().classes("gap-4").style("flex: 1 1 480px; min-width: 0"):
                SourcesCard(user, base_url=base_url, on_change=lambda: deliveries.table.refresh())
        deliveries = DeliveriesCard(user)


def _lifecycle_switch(user: SignedInUser) -> None:
    """The workspace's "a first purchase makes a customer" setting, beside the imports it applies to."""
    state = current()
    workspace = workspaces.get_workspace(state.database, user.workspace_id)

    async def changed(event: Any) -> None:
        is_on = bool(event.value)
        try:
            await in_workspace(
                user,
                workspaces.update_settings,
                WorkspaceSettingsIn(lifecycle_from_purchases=is_on),
                now=state.now(),
                actor=actor_of(user),
            )
        except FanbaseError as error:
            ui.notify(error.message, type="negative")
            return
        ui.notify(
            "From now on a first paid purchase makes a subscriber or lead a customer."
            if is_on
            else "Purchases no longer change a fan's lifecycle stage.",
            type="positive",
        )

    ui.separator()
    with ui.column().classes("w-full gap-0"):
        ui.switch(
            "A first paid purchase makes subscribers and leads customers",
            value=workspace.lifecycle_from_purchases,
            on_change=changed,
        ).props('color="indigo-8" data-testid="lifecycle-switch"')
        ui.label(
            "Applies to purchases recorded from now on, by an import, a webhook or the API (free tickets do not count)."
        ).classes("fb-muted text-caption q-pl-sm")
