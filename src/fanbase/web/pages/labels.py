"""Tags and Lists: create, rename, colour and category for tags; members, subscription status, size over time."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from pydantic import ValidationError

from fanbase.errors import FanbaseError
from fanbase.schemas.common import Page
from fanbase.schemas.lists import ListIn, ListPatch, SubscriptionStatus
from fanbase.schemas.tags import TagIn, TagPatch
from fanbase.services import lists, tags
from fanbase.services.users import SignedInUser
from fanbase.web import data
from fanbase.web.components.common import FanTable, signed_in, size_chart
from fanbase.web.layout import frame, page_title
from fanbase.web.state import current

TAG_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Tag", "field": "name", "align": "left", "sortable": True},
    {"name": "category", "label": "Category", "field": "category", "align": "left", "sortable": True},
    {"name": "fans", "label": "Fans", "field": "fans", "align": "right", "sortable": True},
    {"name": "actions", "label": "", "field": "id", "align": "right"},
]
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
_ACTIONS_SLOT = (
    '<q-td :props="props"><q-btn flat dense no-caps icon="group" label="Members" color="indigo-8" '
    "@click=\"$parent.$emit('members', props.row)\" />"
    '<q-btn flat dense no-caps icon="edit" label="Edit" color="indigo-8" '
    "@click=\"$parent.$emit('edit', props.row)\" /></q-td>"
)


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(str(item["msg"]).removeprefix("Value error, ") for item in error.errors())
    return str(error)


@ui.page("/tags", title="Tags · fanbase")
def tags_page(request: Request) -> RedirectResponse | None:
    user = signed_in(request)
    if isinstance(user, RedirectResponse):
        return user
    state = current()
    workspace_id = user.workspace_id
    with frame(user, active="tags", title="Tags"):
        with ui.row().classes("w-full items-center"):
            page_title("Tags", subtitle="Labels on fans: granular attributes and behaviours.")
            ui.space()
            ui.button("New tag", icon="add", on_click=lambda: edit(None)).props(
                'unelevated no-caps color="indigo-8" data-testid="new-tag"'
            )
        table = (
            ui.table(columns=TAG_COLUMNS, rows=[], row_key="id")
            .classes("w-full")
            .props('flat bordered :pagination="{rowsPerPage: 50}" data-testid="tags-table"')
        )
        table.add_slot(
            "body-cell-name",
            '<q-td :props="props"><q-badge rounded :style="{background: props.row.color || \'#9e9e9e\'}" '
            'class="q-mr-sm" style="width: 12px; height: 12px" />{{ props.value }}'
            '<div class="fb-muted text-caption">{{ props.row.description }}</div></q-td>',
        )
        table.add_slot("body-cell-actions", _ACTIONS_SLOT)
        detail = ui.column().classes("w-full")

        def reload() -> None:
            table.rows = [
                {
                    "id": t.id,
                    "name": t.name,
                    "color": t.color,
                    "category": t.category or "—",
                    "description": t.description or "",
                    "fans": t.fan_count,
                }
                for t in tags.list_tags(state.database, workspace_id)
            ]
            table.update()

        def edit(tag_id: int | None) -> None:
            tag = tags.get_tag(state.database, workspace_id, tag_id) if tag_id else None
            with ui.dialog() as dialog, ui.card().style("width: min(480px, 94vw)"):
                ui.label("Edit tag" if tag else "New tag").classes("text-h6")
                name = (
                    ui.input("Name", value=tag.name if tag else "").props("outlined dense autofocus").classes("w-full")
                )
                with ui.row().classes("w-full items-center gap-2"):
                    color = (
                        ui.color_input("Colour", value=(tag.color if tag else None) or "#3949ab")
                        .props("outlined dense")
                        .classes("col")
                    )
                    category = (
                        ui.input("Category", value=(tag.category or "") if tag else "")
                        .props("outlined dense")
                        .classes("col")
                    )
                description = (
                    ui.input("Description", value=(tag.description or "") if tag else "")
                    .props("outlined dense")
                    .classes("w-full")
                )
                problem = ui.label("").classes("fb-error")

                def save() -> None:
                    values = {
                        "name": (name.value or "").strip(),
                        "color": color.value or None,
                        "category": (category.value or "").strip() or None,
                        "description": (description.value or "").strip() or None,
                    }
                    try:
                        if tag is None:
                            tags.create_tag(state.database, workspace_id, TagIn(**values), now=state.now())
                        else:
                            tags.update_tag(state.database, workspace_id, tag.id, TagPatch(**values))
                    except (FanbaseError, ValidationError) as error:
                        problem.set_text(_error_text(error))
                        return
                    dialog.close()
                    reload()

                with ui.row().classes("w-full justify-end"):
                    ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                    ui.button("Save", on_click=save).props('unelevated no-caps color="indigo-8"')
            dialog.open()

        def members(row: dict[str, Any]) -> None:
            detail.clear()
            with detail, ui.card().classes("w-full"):
                ui.label(f"Tag “{row['name']}”").classes("text-subtitle1 text-weight-medium")
                _history_chart("tag", user, int(row["id"]))
                table_ = FanTable(
                    lambda page, size: tags.tagged_fans(
                        state.database, workspace_id, int(row["id"]), page=page, page_size=size
                    ),
                    currency=user.currency,
                    testid="tag-members",
                )
                ui.timer(0.01, table_.refresh, once=True)

        table.on("edit", lambda event: edit(int(event.args["id"])))
        table.on("members", lambda event: members(event.args))
        reload()
    return None


@ui.page("/lists", title="Lists · fanbase")
def lists_page(request: Request) -> RedirectResponse | None:
    user = signed_in(request)
    if isinstance(user, RedirectResponse):
        return user
    state = current()
    workspace_id = user.workspace_id
    with frame(user, active="lists", title="Lists"):
        with ui.row().classes("w-full items-center"):
            page_title("Lists", subtitle="Broad categories with a subscription status and consent per fan.")
            ui.space()
            ui.button("New list", icon="add", on_click=lambda: edit(None)).props(
                'unelevated no-caps color="indigo-8" data-testid="new-list"'
            )
        table = (
            ui.table(columns=LIST_COLUMNS, rows=[], row_key="id")
            .classes("w-full")
            .props('flat bordered :pagination="{rowsPerPage: 50}" data-testid="lists-table"')
        )
        table.add_slot(
            "body-cell-name",
            '<q-td :props="props">{{ props.value }}<div class="fb-muted text-caption">{{ props.row.description }}'
            "</div></q-td>",
        )
        table.add_slot("body-cell-actions", _ACTIONS_SLOT)
        detail = ui.column().classes("w-full")

        def reload() -> None:
            table.rows = [
                {
                    "id": item.id,
                    "name": item.name,
                    "description": item.description or "",
                    "subscribed": item.subscribed,
                    "unsubscribed": item.unsubscribed,
                    "bounced": item.bounced,
                }
                for item in lists.list_lists(state.database, workspace_id)
            ]
            table.update()

        def edit(list_id: int | None) -> None:
            current_list = lists.get_list(state.database, workspace_id, list_id) if list_id else None
            with ui.dialog() as dialog, ui.card().style("width: min(480px, 94vw)"):
                ui.label("Rename list" if current_list else "New list").classes("text-h6")
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
                problem = ui.label("").classes("fb-error")

                def save() -> None:
                    values = {
                        "name": (name.value or "").strip(),
                        "description": (description.value or "").strip() or None,
                    }
                    try:
                        if current_list is None:
                            lists.create_list(state.database, workspace_id, ListIn(**values), now=state.now())
                        else:
                            lists.update_list(state.database, workspace_id, current_list.id, ListPatch(**values))
                    except (FanbaseError, ValidationError) as error:
                        problem.set_text(_error_text(error))
                        return
                    dialog.close()
                    reload()

                with ui.row().classes("w-full justify-end"):
                    ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                    ui.button("Save", on_click=save).props('unelevated no-caps color="indigo-8"')
            dialog.open()

        def members(row: dict[str, Any]) -> None:
            detail.clear()
            list_id = int(row["id"])
            with detail, ui.card().classes("w-full"):
                with ui.row().classes("w-full items-center"):
                    ui.label(f"List “{row['name']}”").classes("text-subtitle1 text-weight-medium")
                    ui.space()
                    status = ui.toggle(["subscribed", "unsubscribed", "bounced"], value="subscribed").props(
                        "dense no-caps"
                    )
                _history_chart("list", user, list_id)

                def load(page: int, size: int) -> Page[Any]:
                    chosen: SubscriptionStatus = status.value
                    return lists.list_members(
                        state.database, workspace_id, list_id, status=chosen, page=page, page_size=size
                    )

                table_ = FanTable(load, currency=user.currency, testid="list-members")
                status.on_value_change(lambda: table_.refresh(page=1))
                ui.timer(0.01, table_.refresh, once=True)

        table.on("edit", lambda event: edit(int(event.args["id"])))
        table.on("members", lambda event: members(event.args))
        reload()
    return None


def _history_chart(kind: Literal["tag", "list"], user: SignedInUser, item_id: int) -> None:
    size_chart(data.size_series(kind, user.workspace_id, item_id, days=30), title="Size over the last 30 days")
