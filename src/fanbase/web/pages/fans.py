"""Fans: the list (server-side pagination; search; filters by segment, tag, list and an ad-hoc rule), a fan's page."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from pydantic import ValidationError

from fanbase.errors import FanbaseError
from fanbase.schemas.common import Page
from fanbase.schemas.fans import FanFilter
from fanbase.services import fans
from fanbase.web import data
from fanbase.web.components.common import FanTable
from fanbase.web.components.common import column
from fanbase.web.components.common import found_or_none
from fanbase.web.components.common import signed_in
from fanbase.web.layout import frame
from fanbase.web.layout import money
from fanbase.web.layout import page_title
from fanbase.web.state import current


@ui.page("/fans", title="Fans · fanbase")
def fans_page(
    request: Request,
    segment: int | None = None,
    tag: str | None = None,
    list: str | None = None,
    q: str | None = None,
) -> RedirectResponse | None:
    user = signed_in(request)
    if isinstance(user, RedirectResponse):
        return user
    state = current()
    workspace_id = user.workspace_id
    segment_options = {s.id: s.name for s in data.all_segments(workspace_id)}
    with frame(user, active="fans", title="Fans"):
        page_title("Fans", subtitle="Everyone in your workspace; filter by segment, tag, list or a rule.")
        with ui.card().classes("w-full gap-2"):
            with ui.row().classes("w-full items-center gap-2"):
                search = (
                    ui.input("Search email or name", value=q or "")
                    .props('dense outlined clearable data-testid="fan-search"')
                    .classes("col-grow min-w-[12rem]")
                )
                segment_select = (
                    ui.select(
                        segment_options,
                        label="Segment",
                        value=segment if segment in segment_options else None,
                        with_input=True,
                        clearable=True,
                    )
                    .props('dense outlined data-testid="segment-filter"')
                    .classes("min-w-[12rem]")
                )
                tag_select = (
                    ui.select(data.tag_names(workspace_id), label="Tag", value=tag, with_input=True, clearable=True)
                    .props('dense outlined data-testid="tag-filter"')
                    .classes("min-w-[10rem]")
                )
                list_select = (
                    ui.select(data.list_names(workspace_id), label="List", value=list, with_input=True, clearable=True)
                    .props('dense outlined data-testid="list-filter"')
                    .classes("min-w-[10rem]")
                )
            with ui.row().classes("w-full items-center gap-2"):
                rule = (
                    ui.input('Ad-hoc rule (text form), e.g. total_spent > 100 and tag "VIP"')
                    .props('dense outlined clearable input-class="fb-mono" data-testid="rule-filter"')
                    .classes("col-grow")
                )
                ui.button("Apply", icon="filter_alt", on_click=lambda: apply()).props(
                    'unelevated no-caps color="indigo-8" data-testid="apply-filters"'
                )
            problem = ui.label("").classes("fb-error").props('data-testid="filter-error"')
            problem.set_visibility(False)
        total = ui.label("").classes("fb-muted").props('data-testid="fan-total"')

        def current_filter() -> FanFilter:
            return FanFilter(
                q=(search.value or "").strip() or None,
                segment_id=segment_select.value,
                tag=tag_select.value,
                list=list_select.value,
                rule_text=(rule.value or "").strip() or None,
            )

        def load(page: int, size: int) -> Page[Any]:
            result = fans.list_fans(
                state.database, workspace_id, current_filter(), page=page, page_size=size, now=state.now()
            )
            total.set_text(f"{result.total:,} fan{'' if result.total == 1 else 's'}")
            return result

        table = FanTable(load, currency=user.currency)

        async def apply() -> None:
            problem.set_visibility(False)
            try:
                await table.refresh(page=1)
            except (FanbaseError, ValidationError) as error:
                problem.set_text(str(error))
                problem.set_visibility(True)

        search.on("keydown.enter", apply)
        rule.on("keydown.enter", apply)
        for select in (segment_select, tag_select, list_select):
            select.on_value_change(apply)
        ui.timer(0.01, apply, once=True)
    return None


@ui.page("/fans/{fan_id}", title="Fan · fanbase")
def fan_page(request: Request, fan_id: int) -> RedirectResponse | None:
    user = signed_in(request)
    if isinstance(user, RedirectResponse):
        return user
    state = current()
    workspace_id = user.workspace_id
    fan = found_or_none(lambda: fans.get_fan(state.database, workspace_id, fan_id))
    with frame(user, active="fans", title=fan.email if fan else "Fan"):
        ui.link("← Fans", "/fans").classes("text-indigo-8")
        if fan is None:
            ui.label("This fan does not exist in your workspace.").classes("text-h6")
            return None
        name = " ".join(part for part in (fan.first_name, fan.last_name) if part)
        page_title(name or fan.email, subtitle=fan.email if name else None)
        with ui.row().classes("w-full gap-4 items-stretch"):
            with ui.card().style("flex: 1 1 320px"):
                ui.label("Profile").classes("text-overline fb-muted")
                rows = [
                    ("Lifecycle stage", fan.lifecycle_stage),
                    ("Source", fan.source),
                    ("Location", ", ".join(p for p in (fan.city, fan.country) if p) or "—"),
                    ("Joined", fan.created_at.strftime("%Y-%m-%d")),
                    ("Total spent", money(fan.total_spent, user.currency)),
                    ("Purchases", str(fan.purchase_count)),
                    ("Last purchase", fan.last_purchase_at.strftime("%Y-%m-%d") if fan.last_purchase_at else "—"),
                    ("Last active", fan.last_active_at.strftime("%Y-%m-%d %H:%M") if fan.last_active_at else "—"),
                    *((key, str(value)) for key, value in sorted(fan.custom_fields.items())),
                ]
                with ui.grid(columns=2).classes("gap-x-4 gap-y-1"):
                    for label, value in rows:
                        ui.label(label).classes("fb-muted")
                        ui.label(value)
            with ui.card().style("flex: 1 1 320px"):
                ui.label("Tags").classes("text-overline fb-muted")
                with ui.row().classes("gap-1"):
                    for tag in fan.tags:
                        ui.chip(tag, icon="sell").props("dense outline color=indigo-8")
                    if not fan.tags:
                        ui.label("No tags").classes("fb-muted")
                ui.label("Lists").classes("text-overline fb-muted q-mt-sm")
                for membership in labels_memberships(workspace_id, fan.id):
                    ui.label(
                        f"{membership.list_name}: {membership.status}"
                        + (f" (consent {membership.consent_at:%Y-%m-%d})" if membership.consent_at else "")
                    )
                ui.label("Segments").classes("text-overline fb-muted q-mt-sm")
                memberships = data.fan_segments(workspace_id, fan.id)
                if not memberships:
                    ui.label("In no segment").classes("fb-muted")
                else:
                    for item in memberships:
                        with ui.row().classes("items-center gap-2"):
                            ui.link(item.segment_name, f"/segments/{item.segment_id}").classes("text-indigo-8")
                            ui.label(f"since {item.since:%Y-%m-%d %H:%M} · {item.cause}").classes("fb-muted")
        orders = fans.fan_orders(state.database, workspace_id, fan.id, page=1, page_size=_RECENT)
        _recent_card(
            "Orders",
            [
                column("placed", "Placed"),
                column("category", "Category"),
                column("product", "Product"),
                column("amount", "Amount", align="right"),
                column("status", "Status"),
            ],
            [
                {
                    "id": order.id,
                    "placed": f"{order.placed_at:%Y-%m-%d}",
                    "category": order.category,
                    "product": order.product or "—",
                    "amount": money(order.amount, order.currency),
                    "status": order.status,
                }
                for order in orders
            ],
        )
        events_ = fans.fan_events(state.database, workspace_id, fan.id, page=1, page_size=_RECENT)
        _recent_card(
            "Events",
            [column("at", "When"), column("type", "Type"), column("properties", "Properties")],
            [
                {
                    "id": event.id,
                    "at": f"{event.occurred_at:%Y-%m-%d %H:%M}",
                    "type": event.type,
                    "properties": ", ".join(f"{k}={v}" for k, v in event.properties.items()) or "—",
                }
                for event in events_
            ],
        )
    return None


_RECENT = 50  # a fan's page shows this many of the newest orders and events


def _recent_card(title: str, columns: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """A card with the newest of a fan's orders or events; "50+" in the title when there may be more."""
    with ui.card().classes("w-full"):
        ui.label(f"{title} ({len(rows)}{'+' if len(rows) == _RECENT else ''})").classes("text-subtitle1")
        ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").props("flat dense")


def labels_memberships(workspace_id: int, fan_id: int) -> list[Any]:
    return fans.fan_list_memberships(current().database, workspace_id, fan_id)
