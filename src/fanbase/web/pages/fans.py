"""Fans: the list (server-side pagination; search; filters by segment, tag, list and an ad-hoc rule), a fan's page."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from nicegui import ui
from pydantic import ValidationError

from fanbase.core.fields import FieldType
from fanbase.errors import FanbaseError
from fanbase.schemas.common import Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.orders_events import Order
from fanbase.schemas.segments import Segment
from fanbase.schemas.users import SignedInUser
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import segments
from fanbase.services import tags
from fanbase.services.unit_of_work import Database
from fanbase.web import data
from fanbase.web.components.common import FanTable
from fanbase.web.components.common import action_button
from fanbase.web.components.common import column
from fanbase.web.components.common import dashboard_page
from fanbase.web.components.common import found_or_none
from fanbase.web.components.common import show_record
from fanbase.web.layout import day_text
from fanbase.web.layout import frame
from fanbase.web.layout import money
from fanbase.web.layout import page_title
from fanbase.web.layout import time_text
from fanbase.web.state import current
from fanbase.web.state import in_thread
from fanbase.web.words import FIELD_TITLES
from fanbase.web.words import field_title
from fanbase.web.words import humanize

# The bulk actions of the Fans list: (label, what they act on).
BULK_ACTIONS: dict[str, tuple[str, str]] = {
    "segment_add": ("Add to static segment", "segment"),
    "segment_remove": ("Remove from static segment", "segment"),
    "tag_add": ("Add tag", "tag"),
    "tag_remove": ("Remove tag", "tag"),
    "list_add": ("Subscribe to list", "list"),
    "list_remove": ("Remove from list", "list"),
}


@dashboard_page("/fans", title="Fans")
def fans_page(
    user: SignedInUser,
    segment: int | None = None,
    tag: str | None = None,
    list: str | None = None,
    q: str | None = None,
    rule: str | None = None,
) -> None:
    state = current()
    workspace_id = user.workspace_id
    all_segments = data.all_segments(workspace_id)
    segment_options = {s.id: s.name for s in all_segments}
    with frame(user, active="fans", title="Fans"):
        page_title("Fans", subtitle="Everyone in your workspace; filter by segment, tag, list or a rule.")
        with ui.card().classes("w-full gap-2"):
            with ui.row().classes("w-full items-center gap-2"):
                search = (
                    ui.input("Search email or name", value=q or "")
                    .props('dense outlined clearable data-testid="fan-search"')
                    .classes("col-grow min-w-[12rem]")
                )
                segment_select = _filter_select(segment_options, "Segment", segment, testid="segment-filter")
                tag_select = _filter_select(data.tag_names(workspace_id), "Tag", tag, testid="tag-filter")
                list_select = _filter_select(data.list_names(workspace_id), "List", list, testid="list-filter")
            with ui.row().classes("w-full items-center gap-2"):
                rule_input = (
                    ui.input('Ad-hoc rule (text form), e.g. total_spent > 100 and tag "VIP"', value=rule or "")
                    .props('dense outlined clearable input-class="fb-mono" data-testid="rule-filter"')
                    .classes("col-grow")
                )
                action_button(
                    "Apply", icon="filter_alt", on_click=lambda: apply(), testid="apply-filters", is_main=True
                )
            problem = ui.label("").classes("fb-error").props('data-testid="filter-error"')
            problem.set_visibility(False)
        total = ui.label("").classes("fb-muted").props('data-testid="fan-total"')
        matching = {"total": 0}

        def current_filter() -> FanFilter:
            return FanFilter(
                q=(search.value or "").strip() or None,
                segment_id=segment_select.value,
                tag=tag_select.value,
                list=list_select.value,
                rule_text=(rule_input.value or "").strip() or None,
            )

        def load(page: int, size: int) -> Page[Any]:
            return fans.list_fans(
                state.database, workspace_id, current_filter(), page=page, page_size=size, now=state.now()
            )

        def shown(result: Page[Any]) -> None:
            matching["total"] = result.total
            total.set_text(f"{result.total:,} fan{'' if result.total == 1 else 's'}")

        bulk = _BulkActions(user, current_filter, matching, all_segments)
        table = FanTable(load, currency=user.currency, on_shown=shown)
        bulk.attach(table)

        async def apply() -> None:
            problem.set_visibility(False)
            bulk.clear()
            try:
                if await table.refresh(page=1):
                    # The view's filters in the address, once shown: a view can be bookmarked and shared.
                    ui.navigate.history.replace(_fans_url(current_filter()))
            except (FanbaseError, ValidationError) as error:
                problem.set_text(str(error))
                problem.set_visibility(True)

        search.on("keydown.enter", apply)
        rule_input.on("keydown.enter", apply)
        for select in (segment_select, tag_select, list_select):
            select.on_value_change(apply)
        ui.timer(0.01, apply, once=True)


def _filter_select(options: dict[int, str] | list[str], label: str, chosen: Any, *, testid: str) -> ui.select:
    """A filter of the list: typeable, clearable, showing the address's choice when it is one of the options."""
    known = chosen in options
    return (
        ui.select(options, label=label, value=chosen if known else None, with_input=True, clearable=True)
        .props(f'dense outlined data-testid="{testid}"')
        .classes("min-w-[10rem]")
    )


def _fans_url(fan_filter: FanFilter) -> str:
    """/fans with the filter's parameters (only those set)."""
    parameters = {
        "q": fan_filter.q,
        "segment": fan_filter.segment_id,
        "tag": fan_filter.tag,
        "list": fan_filter.list,
        "rule": fan_filter.rule_text,
    }
    query = urlencode({key: value for key, value in parameters.items() if value not in (None, "")})
    return f"/fans?{query}" if query else "/fans"


class _BulkActions:
    """Act on the fans chosen in the list: the rows ticked on this page, or every fan the filter matches."""

    def __init__(
        self,
        user: SignedInUser,
        current_filter: Callable[[], FanFilter],
        matching: dict[str, int],
        all_segments: Sequence[Segment],
    ) -> None:
        self.user = user
        self.current_filter = current_filter
        self.matching = matching
        self.is_all_matching = False
        workspace_id = user.workspace_id
        database = current().database
        self.targets: dict[str, dict[int, str]] = {
            "segment": {s.id: s.name for s in all_segments if s.kind == "static"},
            "tag": {t.id: t.name for t in tags.list_tags(database, workspace_id)},
            "list": {item.id: item.name for item in lists.list_lists(database, workspace_id)},
        }
        with ui.row().classes("w-full items-center gap-2").props('data-testid="bulk-bar"') as self.bar:
            self.count = ui.label("").classes("text-weight-medium").props('data-testid="bulk-count"')
            self.all_button = action_button(
                "", on_click=self.choose_all_matching, testid="select-all-matching", is_dense=True
            )
            self.action = (
                ui.select(
                    {key: label for key, (label, _) in BULK_ACTIONS.items()},
                    label="Action",
                    on_change=lambda _e: self.show_targets(),
                )
                .props('dense outlined options-dense data-testid="bulk-action"')
                .classes("min-w-[14rem]")
            )
            self.target = (
                ui.select({}, label="Which", with_input=True)
                .props('dense outlined options-dense data-testid="bulk-target"')
                .classes("min-w-[12rem]")
            )
            action_button("Apply to fans", icon="done_all", on_click=self.run, testid="bulk-apply", is_main=True)
        self.bar.set_visibility(False)
        self.table: FanTable | None = None

    def attach(self, table: FanTable) -> None:
        self.table = table
        table.table.props("selection=multiple")
        table.table.on_select(lambda _e: self.update())

    def clear(self) -> None:
        self.is_all_matching = False
        if self.table is not None:
            self.table.table.selected = []
        self.update()

    def chosen_on_page(self) -> list[int]:
        return [int(row["id"]) for row in (self.table.table.selected if self.table else [])]

    def update(self) -> None:
        ticked = len(self.chosen_on_page())
        total = self.matching["total"]
        self.bar.set_visibility(bool(ticked) or self.is_all_matching)
        if self.is_all_matching:
            self.count.set_text(f"All {total:,} matching fans selected")
            self.all_button.set_text("Only the ticked rows")
        else:
            self.count.set_text(f"{ticked:,} selected")
            self.all_button.set_text(f"Select all {total:,} matching")
        self.all_button.set_visibility(total > ticked or self.is_all_matching)

    def choose_all_matching(self) -> None:
        self.is_all_matching = not self.is_all_matching
        self.update()

    def show_targets(self) -> None:
        kind = BULK_ACTIONS[self.action.value][1] if self.action.value else None
        options = self.targets.get(kind or "", {})
        self.target.set_options(options, value=None)
        if kind == "segment" and not options:
            ui.notify("There is no static segment yet: create one in Segment Manage.")

    async def run(self) -> None:
        action, target = self.action.value, self.target.value
        if not action or target is None:
            ui.notify("Choose an action and what it applies to.", type="warning")
            return
        state = current()
        workspace_id = self.user.workspace_id
        try:
            if self.is_all_matching:
                fan_ids = await in_thread(
                    fans.matching_fan_ids, state.database, workspace_id, self.current_filter(), now=state.now()
                )
            else:
                fan_ids = self.chosen_on_page()
            if not fan_ids:
                ui.notify("No fan chosen.", type="warning")
                return
            moved = await in_thread(
                _apply_bulk, state.database, workspace_id, action, int(target), fan_ids, state.now()
            )
        except (FanbaseError, ValidationError) as error:
            ui.notify(str(error), type="negative", multi_line=True)
            return
        label, kind = BULK_ACTIONS[action]
        name = self.targets[kind][int(target)]
        ui.notify(f"{label} “{name}”: {moved:,} of {len(fan_ids):,} fans changed.", type="positive")
        self.clear()
        if self.table is not None:
            await self.table.refresh()


def _apply_bulk(
    database: Database, workspace_id: int, action: str, target: int, fan_ids: list[int], now: datetime
) -> int:
    """Run one bulk action (one transaction); returns how many fans it changed."""
    match action:
        case "segment_add":
            return segments.add_fans(database, workspace_id, target, fan_ids, now=now).entered
        case "segment_remove":
            return segments.remove_fans(database, workspace_id, target, fan_ids, now=now).exited
        case "tag_add":
            return tags.tag_fans(database, workspace_id, target, fan_ids, now=now).changed
        case "tag_remove":
            return tags.untag_fans(database, workspace_id, target, fan_ids, now=now).changed
        case "list_add":
            return lists.subscribe_fans(
                database, workspace_id, target, fan_ids, consent_source="dashboard bulk action", now=now
            ).changed
        case "list_remove":
            return lists.remove_from_list(database, workspace_id, target, fan_ids, now=now).changed
    raise ValueError(f"unknown bulk action {action!r}")


@dashboard_page("/fans/{fan_id}", title="Fan")
def fan_page(user: SignedInUser, fan_id: int) -> None:
    fan = found_or_none(lambda: fans.get_fan(current().database, user.workspace_id, fan_id))
    with frame(user, active="fans", title=fan.email if fan else "Fan", back=("← Fans", "/fans")):
        show_record(fan, lambda found: _fan_content(user, found), missing="This fan does not exist in your workspace.")


def _fan_content(user: SignedInUser, fan: Fan) -> None:
    """A fan's profile, tags, lists and segments, and the newest of their orders and events."""
    state = current()
    workspace_id = user.workspace_id
    name = " ".join(part for part in (fan.first_name, fan.last_name) if part)
    catalogue = data.catalogue(workspace_id)
    page_title(name or fan.email, subtitle=fan.email if name else None)
    with ui.row().classes("w-full gap-4 items-stretch"):
        with ui.card().style("flex: 1 1 320px"):
            ui.label("Profile").classes("text-overline fb-muted")
            titles = {spec.name: field_title(catalogue, spec) for spec in catalogue.fan_fields}
            types = {spec.name: spec.type for spec in catalogue.fan_fields}
            rows = [
                (FIELD_TITLES["lifecycle_stage"], fan.lifecycle_stage.capitalize()),
                (FIELD_TITLES["source"], fan.source.replace("_", " ").capitalize()),
                ("Location", ", ".join(p for p in (fan.city, fan.country) if p) or "—"),
                (FIELD_TITLES["created_at"], day_text(fan.created_at)),
                (FIELD_TITLES["total_spent"], money(fan.total_spent, user.currency)),
                (FIELD_TITLES["purchase_count"], f"{fan.purchase_count:,}"),
                (
                    FIELD_TITLES["last_purchase_at"],
                    day_text(fan.last_purchase_at) if fan.last_purchase_at else "—",
                ),
                (
                    FIELD_TITLES["last_active_at"],
                    time_text(fan.last_active_at) if fan.last_active_at else "—",
                ),
                *(
                    (titles.get(key, key), _shown(value, types.get(key)))
                    for key, value in sorted(fan.custom_fields.items())
                ),
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
                    + (f" (consent {day_text(membership.consent_at)})" if membership.consent_at else "")
                )
            ui.label("Segments").classes("text-overline fb-muted q-mt-sm")
            memberships = data.fan_segments(workspace_id, fan.id)
            if not memberships:
                ui.label("In no segment").classes("fb-muted")
            else:
                for item in memberships:
                    with ui.row().classes("items-center gap-2"):
                        ui.link(item.segment_name, f"/segments/{item.segment_id}").classes("text-indigo-8")
                        ui.label(f"since {time_text(item.since)} · {item.cause}").classes("fb-muted")
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
                "placed": day_text(order.placed_at),
                "category": order.category,
                "product": order.product or "—",
                "amount": _order_amount(order),
                "status": "partly refunded" if order.status == "completed" and order.refunded_amount else order.status,
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
                "at": time_text(event.occurred_at),
                "type": humanize(event.type),
                "properties": ", ".join(f"{k}={v}" for k, v in event.properties.items()) or "—",
            }
            for event in events_
        ],
    )


_RECENT = 50  # a fan's page shows this many of the newest orders and events


def _order_amount(order: Order) -> str:
    """The workspace-currency amount, and what the shop charged when that was another currency."""
    shown = money(order.amount, order.currency)
    if order.original_currency != order.currency:
        shown += f" ({money(order.original_amount, order.original_currency)})"
    return shown


def _recent_card(title: str, columns: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """A card with the newest of a fan's orders or events; "50+" in the title when there may be more."""
    with ui.card().classes("w-full"):
        ui.label(f"{title} ({len(rows)}{'+' if len(rows) == _RECENT else ''})").classes("text-subtitle1")
        ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").props("flat dense")


def labels_memberships(workspace_id: int, fan_id: int) -> list[Any]:
    return fans.fan_list_memberships(current().database, workspace_id, fan_id)


def _shown(value: object, kind: FieldType | None) -> str:
    """A custom field's value as a person reads it: yes/no rather than True/False, dates in the pages' style."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if kind is FieldType.DATETIME and isinstance(value, str):
        try:  # held as ISO 8601 text
            return time_text(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)
