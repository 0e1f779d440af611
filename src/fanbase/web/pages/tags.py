"""Tags: create, rename, colour and category; the fans carrying one and its size over time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fanbase.schemas.tags import TagIn
from fanbase.schemas.tags import TagPatch
from fanbase.schemas.users import SignedInUser
from fanbase.services import tags
from fanbase.web.components.common import FanTable
from fanbase.web.components.fan_groups import FanGroupPage
from fanbase.web.components.fan_groups import edit_dialog
from fanbase.web.components.fan_groups import fan_group_page
from fanbase.web.components.fan_groups import size_history
from fanbase.web.state import current

TAG_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Tag", "field": "name", "align": "left", "sortable": True},
    {"name": "category", "label": "Category", "field": "category", "align": "left", "sortable": True},
    {"name": "fans", "label": "Fans", "field": "fans", "align": "right", "sortable": True},
    {"name": "actions", "label": "", "field": "id", "align": "right"},
]


def _rows(user: SignedInUser) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "name": t.name,
            "color": t.color,
            "category": t.category or "—",
            "description": t.description or "",
            "fans": t.fan_count,
        }
        for t in tags.list_tags(current().database, user.workspace_id)
    ]


def _edit(user: SignedInUser, tag_id: int | None, on_saved: Callable[[], None]) -> None:
    state = current()
    workspace_id = user.workspace_id
    tag = tags.get_tag(state.database, workspace_id, tag_id) if tag_id else None

    def fields() -> Callable[[], object]:
        name = ui.input("Name", value=tag.name if tag else "").props("outlined dense autofocus").classes("w-full")
        with ui.row().classes("w-full items-center gap-2"):
            color = (
                ui.color_input("Colour", value=(tag.color if tag else None) or "#3949ab")
                .props("outlined dense")
                .classes("col")
            )
            category = (
                ui.input("Category", value=(tag.category or "") if tag else "").props("outlined dense").classes("col")
            )
        description = (
            ui.input("Description", value=(tag.description or "") if tag else "")
            .props("outlined dense")
            .classes("w-full")
        )

        def write() -> object:
            values = {
                "name": (name.value or "").strip(),
                "color": color.value or None,
                "category": (category.value or "").strip() or None,
                "description": (description.value or "").strip() or None,
            }
            if tag is None:
                return tags.create_tag(state.database, workspace_id, TagIn(**values), now=state.now())
            return tags.update_tag(state.database, workspace_id, tag.id, TagPatch(**values))

        return write

    edit_dialog("Edit tag" if tag else "New tag", fields, on_saved=on_saved)


def _members(user: SignedInUser, row: dict[str, Any]) -> None:
    state = current()
    tag_id = int(row["id"])
    ui.label(f"Tag “{row['name']}”").classes("text-subtitle1 text-weight-medium")
    size_history("tag", user, tag_id)
    table = FanTable(
        lambda page, size: tags.tagged_fans(
            state.database, user.workspace_id, int(row["id"]), page=page, page_size=size
        ),
        currency=user.currency,
        testid="tag-members",
    )
    ui.timer(0.01, table.refresh, once=True)


TAGS_PAGE = FanGroupPage(
    noun="tag",
    title="Tags",
    subtitle="Labels on fans: granular attributes and behaviours.",
    columns=TAG_COLUMNS,
    name_slot=(
        '<q-td :props="props"><q-badge rounded :style="{background: props.row.color || \'#9e9e9e\'}" '
        'class="q-mr-sm" style="width: 12px; height: 12px" />{{ props.value }}'
        '<div class="fb-muted text-caption">{{ props.row.description }}</div></q-td>'
    ),
    rows=_rows,
    edit=_edit,
    members=_members,
)


@ui.page("/tags", title="Tags · fanbase")
def tags_page(request: Request) -> RedirectResponse | None:
    return fan_group_page(request, TAGS_PAGE)
