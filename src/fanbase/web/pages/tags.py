"""Tags: create, rename, colour and category; the fans carrying one and its size over time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from fanbase.schemas.tags import Tag
from fanbase.schemas.tags import TagIn
from fanbase.schemas.tags import TagPatch
from fanbase.schemas.users import SignedInUser
from fanbase.services import tags
from fanbase.web.components.common import ACTIONS_COLUMN
from fanbase.web.components.common import FanTable
from fanbase.web.components.common import column
from fanbase.web.components.common import dashboard_page
from fanbase.web.components.fan_groups import FanGroupPage
from fanbase.web.components.fan_groups import fan_group_page
from fanbase.web.components.fan_groups import size_history
from fanbase.web.state import current

TAG_COLUMNS: list[dict[str, Any]] = [
    column("name", "Tag", is_sortable=True),
    column("category", "Category", is_sortable=True),
    column("fans", "Fans", align="right", is_sortable=True, is_count=True),
    ACTIONS_COLUMN,
]


def _row(tag: Tag) -> dict[str, Any]:
    return {
        "id": tag.id,
        "name": tag.name,
        "color": tag.color,
        "category": tag.category or "—",
        "description": tag.description or "",
        "fans": tag.fan_count,
    }


def _fields(tag: Tag | None) -> Callable[[], dict[str, Any]]:
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
        ui.input("Description", value=(tag.description or "") if tag else "").props("outlined dense").classes("w-full")
    )
    return lambda: {
        "name": (name.value or "").strip(),
        "color": color.value or None,
        "category": (category.value or "").strip() or None,
        "description": (description.value or "").strip() or None,
    }


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
    service=tags.TAGS,
    title="Tags",
    subtitle="Labels on fans: granular attributes and behaviours.",
    edit_title="Edit tag",
    columns=TAG_COLUMNS,
    name_slot=(
        '<q-td :props="props"><q-badge rounded :style="{background: props.row.color || \'#9e9e9e\'}" '
        'class="q-mr-sm" style="width: 12px; height: 12px" />{{ props.value }}'
        '<div class="fb-muted text-caption">{{ props.row.description }}</div></q-td>'
    ),
    row=_row,
    fields=_fields,
    create_body=TagIn,
    patch_body=TagPatch,
    members=_members,
)


@dashboard_page("/tags", title="Tags")
def tags_page(user: SignedInUser) -> None:
    fan_group_page(user, TAGS_PAGE)
