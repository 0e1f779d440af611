"""Lists: create and rename; members by subscription status and the list's size over time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fanbase.schemas.common import Page
from fanbase.schemas.lists import ListIn
from fanbase.schemas.lists import ListPatch
from fanbase.schemas.lists import SubscriptionStatus
from fanbase.schemas.users import SignedInUser
from fanbase.services import lists
from fanbase.web.components.common import FanTable
from fanbase.web.components.fan_groups import FanGroupPage
from fanbase.web.components.fan_groups import edit_dialog
from fanbase.web.components.fan_groups import fan_group_page
from fanbase.web.components.fan_groups import size_history
from fanbase.web.state import current

LIST_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "List", "field": "name", "align": "left", "sortable": True},
    {"name": "subscribed", "label": "Subscribed", "field": "subscribed", "align": "right", "sortable": True},
    {
        "name": "unsubscribed",
        "label": "Unsubscribed",
        "field": "unsubscribed",
        "align": "right",
        "classes": "fb-hide-sm",
        "headerClasses": "fb-hide-sm",
    },
    {
        "name": "bounced",
        "label": "Bounced",
        "field": "bounced",
        "align": "right",
        "classes": "fb-hide-sm",
        "headerClasses": "fb-hide-sm",
    },
    {"name": "actions", "label": "", "field": "id", "align": "right"},
]


def _rows(user: SignedInUser) -> list[dict[str, Any]]:
    return [
        {
            "id": item.id,
            "name": item.name,
            "description": item.description or "",
            "subscribed": item.subscribed,
            "unsubscribed": item.unsubscribed,
            "bounced": item.bounced,
        }
        for item in lists.list_lists(current().database, user.workspace_id)
    ]


def _edit(user: SignedInUser, list_id: int | None, on_saved: Callable[[], None]) -> None:
    state = current()
    workspace_id = user.workspace_id
    current_list = lists.get_list(state.database, workspace_id, list_id) if list_id else None

    def fields() -> Callable[[], object]:
        name = (
            ui.input("Name", value=current_list.name if current_list else "")
            .props("outlined dense autofocus")
            .classes("w-full")
        )
        description = (
            ui.input("Description", value=(current_list.description or "") if current_list else "")
            .props("outlined dense")
            .classes("w-full")
        )

        def write() -> object:
            values = {"name": (name.value or "").strip(), "description": (description.value or "").strip() or None}
            if current_list is None:
                return lists.create_list(state.database, workspace_id, ListIn(**values), now=state.now())
            return lists.update_list(state.database, workspace_id, current_list.id, ListPatch(**values))

        return write

    edit_dialog("Rename list" if current_list else "New list", fields, on_saved=on_saved)


def _members(user: SignedInUser, row: dict[str, Any]) -> None:
    state = current()
    list_id = int(row["id"])
    with ui.row().classes("w-full items-center"):
        ui.label(f"List “{row['name']}”").classes("text-subtitle1 text-weight-medium")
        ui.space()
        status = ui.toggle(["subscribed", "unsubscribed", "bounced"], value="subscribed").props("dense no-caps")
    size_history("list", user, list_id)

    def load(page: int, size: int) -> Page[Any]:
        chosen: SubscriptionStatus = status.value
        return lists.list_members(state.database, user.workspace_id, list_id, status=chosen, page=page, page_size=size)

    table = FanTable(load, currency=user.currency, testid="list-members")
    status.on_value_change(lambda: table.refresh(page=1))
    ui.timer(0.01, table.refresh, once=True)


LISTS_PAGE = FanGroupPage(
    noun="list",
    title="Lists",
    subtitle="Broad categories with a subscription status and consent per fan.",
    columns=LIST_COLUMNS,
    name_slot=(
        '<q-td :props="props">{{ props.value }}<div class="fb-muted text-caption">{{ props.row.description }}'
        "</div></q-td>"
    ),
    rows=_rows,
    edit=_edit,
    members=_members,
)


@ui.page("/lists", title="Lists · fanbase")
def lists_page(request: Request) -> RedirectResponse | None:
    return fan_group_page(request, LISTS_PAGE)
