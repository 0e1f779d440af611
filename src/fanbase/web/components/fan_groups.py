"""What the Tags and Lists pages share: the page frame with its table, the edit dialog, the members card."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import Literal

from nicegui import ui
from pydantic import ValidationError

from fanbase.errors import FanbaseError
from fanbase.schemas.common import plain_message
from fanbase.schemas.users import SignedInUser
from fanbase.services.fan_groups import FanGroups
from fanbase.web import data
from fanbase.web.components.common import action_button
from fanbase.web.components.common import size_chart
from fanbase.web.layout import frame
from fanbase.web.layout import page_title
from fanbase.web.state import current

_ACTIONS_SLOT = (
    '<q-td :props="props"><q-btn flat dense no-caps icon="group" label="Members" color="indigo-8" '
    "@click=\"$parent.$emit('members', props.row)\" />"
    '<q-btn flat dense no-caps icon="edit" label="Edit" color="indigo-8" '
    "@click=\"$parent.$emit('edit', props.row)\" /></q-td>"
)


@dataclass(frozen=True)
class FanGroupPage:
    """One kind's page: its service, the words and columns it shows, and what it does for a signed-in user.

    ``row`` gives a group's row in the table; ``fields`` lays out the edit dialog's inputs for a group (None: a new
    one) and returns what reads their values, which become a ``create_body`` or a ``patch_body``; ``members``
    fills the members card of a clicked row.
    """

    noun: Literal["tag", "list"]
    service: FanGroups[Any]
    title: str
    subtitle: str
    edit_title: str  # the dialog's title for an existing group ("New <noun>" for a new one)
    columns: list[dict[str, Any]]
    name_slot: str
    row: Callable[[Any], dict[str, Any]]
    fields: Callable[[Any], Callable[[], dict[str, Any]]]
    create_body: type[Any]
    patch_body: type[Any]
    members: Callable[[SignedInUser, dict[str, Any]], None]

    def rows(self, user: SignedInUser) -> list[dict[str, Any]]:
        return [self.row(group) for group in self.service.list_all(current().database, user.workspace_id)]

    def edit(self, user: SignedInUser, group_id: int | None, on_saved: Callable[[], None]) -> None:
        """The edit dialog for a group (None: a new one); ``on_saved`` is called once it is saved."""
        state = current()
        workspace_id = user.workspace_id
        group = self.service.get(state.database, workspace_id, group_id) if group_id else None

        def fields() -> Callable[[], object]:
            values = self.fields(group)

            def write() -> object:
                if group is None:
                    return self.service.create(
                        state.database, workspace_id, self.create_body(**values()), now=state.now()
                    )
                return self.service.update(state.database, workspace_id, group.id, self.patch_body(**values()))

            return write

        edit_dialog(self.edit_title if group else f"New {self.noun}", fields, on_saved=on_saved)


def fan_group_page(user: SignedInUser, page: FanGroupPage) -> None:
    plural = f"{page.noun}s"
    with frame(user, active=plural, title=page.title):
        with ui.row().classes("w-full items-center"):
            page_title(page.title, subtitle=page.subtitle)
            ui.space()
            action_button(
                f"New {page.noun}",
                icon="add",
                on_click=lambda: page.edit(user, None, reload),
                testid=f"new-{page.noun}",
                is_main=True,
            )
        table = (
            ui.table(columns=page.columns, rows=[], row_key="id")
            .classes("w-full")
            .props(f'flat bordered :pagination="{{rowsPerPage: 50}}" data-testid="{plural}-table"')
        )
        table.add_slot("body-cell-name", page.name_slot)
        table.add_slot("body-cell-actions", _ACTIONS_SLOT)
        detail = ui.column().classes("w-full")

        def reload() -> None:
            table.rows = page.rows(user)
            table.update()

        def members(row: dict[str, Any]) -> None:
            detail.clear()
            with detail, ui.card().classes("w-full"):
                page.members(user, row)

        table.on("edit", lambda event: page.edit(user, int(event.args["id"]), reload))
        table.on("members", lambda event: members(event.args))
        reload()


def edit_dialog(title: str, fields: Callable[[], Callable[[], object]], *, on_saved: Callable[[], None]) -> None:
    """A dialog with the inputs ``fields`` lays out; Save calls what ``fields`` returned, showing a refusal inline."""
    with ui.dialog() as dialog, ui.card().style("width: min(480px, 94vw)"):
        ui.label(title).classes("text-h6")
        write = fields()
        problem = ui.label("").classes("fb-error")

        def save() -> None:
            try:
                write()
            except (FanbaseError, ValidationError) as error:
                problem.set_text(_error_text(error))
                return
            dialog.close()
            on_saved()

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            action_button("Save", on_click=save, is_main=True)
    dialog.open()


def size_history(kind: Literal["tag", "list"], user: SignedInUser, group_id: int) -> None:
    size_chart(data.size_series(kind, user.workspace_id, group_id, days=30))


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(plain_message(item["msg"]) for item in error.errors())
    return str(error)
