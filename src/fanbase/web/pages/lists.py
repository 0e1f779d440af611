"""Lists: create and rename; members by subscription status and the list's size over time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from fanbase.schemas.common import Page
from fanbase.schemas.lists import FanList
from fanbase.schemas.lists import ListIn
from fanbase.schemas.lists import ListPatch
from fanbase.schemas.lists import SubscriptionStatus
from fanbase.schemas.users import SignedInUser
from fanbase.services import lists
from fanbase.web.components.common import ACTIONS_COLUMN
from fanbase.web.components.common import FanTable
from fanbase.web.components.common import column
from fanbase.web.components.common import dashboard_page
from fanbase.web.components.fan_groups import FanGroupPage
from fanbase.web.components.fan_groups import fan_group_page
from fanbase.web.components.fan_groups import size_history
from fanbase.web.state import current

LIST_COLUMNS: list[dict[str, Any]] = [
    column("name", "List", is_sortable=True),
    column("subscribed", "Subscribed", align="right", is_sortable=True, is_count=True),
    column("unsubscribed", "Unsubscribed", align="right", is_hidden_when_narrow=True, is_count=True),
    column("bounced", "Bounced", align="right", is_hidden_when_narrow=True, is_count=True),
    ACTIONS_COLUMN,
]


def _row(group: FanList) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description or "",
        "subscribed": group.subscribed,
        "unsubscribed": group.unsubscribed,
        "bounced": group.bounced,
    }


def _fields(group: FanList | None) -> Callable[[], dict[str, Any]]:
    name = ui.input("Name", value=group.name if group else "").props("outlined dense autofocus").classes("w-full")
    description = (
        ui.input("Description", value=(group.description or "") if group else "")
        .props("outlined dense")
        .classes("w-full")
    )
    return lambda: {"name": (name.value or "").strip(), "description": (description.value or "").strip() or None}


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
    service=lists.LISTS,
    title="Lists",
    subtitle="Broad categories with a subscription status and consent per fan.",
    edit_title="Rename list",
    columns=LIST_COLUMNS,
    name_slot=(
        '<q-td :props="props">{{ props.value }}<div class="fb-muted text-caption">{{ props.row.description }}'
        "</div></q-td>"
    ),
    row=_row,
    fields=_fields,
    create_body=ListIn,
    patch_body=ListPatch,
    members=_members,
)


@dashboard_page("/lists", title="Lists")
def lists_page(user: SignedInUser) -> None:
    fan_group_page(user, LISTS_PAGE)
