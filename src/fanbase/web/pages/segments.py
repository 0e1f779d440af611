"""Segment Manage (the list, the Create Segment dialog) and a segment's own page."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import events
from nicegui import ui

from fanbase.errors import FanbaseError
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.segments import EmailsIn
from fanbase.schemas.segments import Segment
from fanbase.schemas.users import SignedInUser
from fanbase.services import fan_csv
from fanbase.services import segments
from fanbase.web import data
from fanbase.web.components.common import ACTIONS_COLUMN
from fanbase.web.components.common import FanTable
from fanbase.web.components.common import column
from fanbase.web.components.common import found_or_none
from fanbase.web.components.common import signed_in
from fanbase.web.components.common import size_chart
from fanbase.web.components.common import sparkline_svg
from fanbase.web.components.segment_dialog import SegmentDialog
from fanbase.web.layout import frame
from fanbase.web.layout import freshness
from fanbase.web.layout import page_title
from fanbase.web.state import current
from fanbase.web.state import in_thread

SEGMENT_COLUMNS: list[dict[str, Any]] = [
    column("name", "Segment", is_sortable=True),
    column("kind", "Type", is_sortable=True),
    column("size", "Size", align="right", is_sortable=True),
    column("trend", "Last 30 days", is_hidden_when_narrow=True),
    column("freshness", "Evaluated", is_hidden_when_narrow=True),
    ACTIONS_COLUMN,
]


def _segment_row(segment: Segment, user: SignedInUser) -> dict[str, Any]:
    points = data.size_series("segment", user.workspace_id, segment.id, days=30)
    now = current().now()
    return {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description or "",
        "kind": segment.kind.capitalize(),
        "size": segment.size,
        "trend": sparkline_svg([p.size for p in points]) if points else '<span class="fb-muted">no history yet</span>',
        "freshness": freshness(segment.last_evaluated_at, now=now) + (" ⚠" if segment.last_error else ""),
    }


@ui.page("/segments", title="Segment Manage · fanbase")
def segment_manage(request: Request) -> RedirectResponse | None:
    user = signed_in(request)
    if isinstance(user, RedirectResponse):
        return user
    with frame(user, active="segments", title="Segment Manage"):
        with ui.row().classes("w-full items-center gap-2"):
            page_title("Segment Manage", subtitle="Group fans automatically (dynamic) or by hand (static).")
            ui.space()
            ui.button("Create Segment", icon="add", on_click=lambda: open_dialog(None)).props(
                'unelevated no-caps color="indigo-8" data-testid="create-segment"'
            )
        table = (
            ui.table(columns=SEGMENT_COLUMNS, rows=[], row_key="id")
            .classes("w-full")
            .props('flat bordered :pagination="{rowsPerPage: 50}" data-testid="segments-table"')
        )
        table.add_slot(
            "body-cell-name",
            '<q-td :props="props"><a class="text-indigo-8 text-weight-medium" :href="\'/segments/\' + props.row.id">'
            "{{ props.value }}</a>"
            '<div class="fb-muted text-caption ellipsis" style="max-width: 28rem">'
            "{{ props.row.description }}</div></q-td>",
        )
        table.add_slot(
            "body-cell-kind",
            "<q-td :props=\"props\"><q-badge :color=\"props.value === 'Dynamic' ? 'indigo-6' : 'grey-7'\">"
            "{{ props.value }}</q-badge></q-td>",
        )
        table.add_slot("body-cell-trend", '<q-td :props="props"><span v-html="props.value"></span></q-td>')
        table.add_slot(
            "body-cell-actions",
            '<q-td :props="props"><q-btn flat dense no-caps icon="edit" label="Edit" color="indigo-8" '
            ":aria-label=\"'Edit ' + props.row.name\" @click=\"$parent.$emit('edit', props.row)\" /></q-td>",
        )
        empty = ui.label("No segments yet: create one, or start from a template.").classes("fb-muted")

        def reload() -> None:
            rows = [_segment_row(segment, user) for segment in data.all_segments(user.workspace_id)]
            table.rows = rows
            table.update()
            table.set_visibility(bool(rows))
            empty.set_visibility(not rows)

        def open_dialog(segment_id: int | None) -> None:
            segment = segments.get_segment(current().database, user.workspace_id, segment_id) if segment_id else None
            SegmentDialog(user, segment=segment, on_saved=lambda _saved: reload()).open()

        table.on("edit", lambda event: open_dialog(int(event.args["id"])))
        reload()
    return None


@ui.page("/segments/{segment_id}", title="Segment · fanbase")
def segment_page(request: Request, segment_id: int) -> RedirectResponse | None:
    user = signed_in(request)
    if isinstance(user, RedirectResponse):
        return user
    state = current()
    segment = found_or_none(lambda: segments.get_segment(state.database, user.workspace_id, segment_id))
    with frame(user, active="segments", title=segment.name if segment else "Segment"):
        if segment is None:
            ui.label("This segment does not exist in your workspace.").classes("text-h6")
            ui.link("Back to Segment Manage", "/segments")
            return None
        _segment_content(user, segment)
    return None


def _segment_content(user: SignedInUser, segment: Segment) -> None:
    state = current()
    workspace_id = user.workspace_id
    with ui.row().classes("w-full items-center gap-3"):
        ui.link("← Segment Manage", "/segments").classes("text-indigo-8")
    with ui.row().classes("w-full items-center gap-3"):
        with ui.column().classes("gap-0"):
            with ui.row().classes("items-center gap-2"):
                ui.label(segment.name).classes("text-h5 text-weight-medium").props('data-testid="segment-title"')
                ui.badge(segment.kind.capitalize(), color="indigo-6" if segment.kind == "dynamic" else "grey-7")
            if segment.description:
                ui.label(segment.description).classes("fb-muted")
        ui.space()
        ui.button(
            "Filter fan list", icon="filter_list", on_click=lambda: ui.navigate.to(f"/fans?segment={segment.id}")
        ).props('flat no-caps color="indigo-8" data-testid="filter-fans"')
        ui.button(
            "Edit",
            icon="edit",
            on_click=lambda: SegmentDialog(
                user,
                segment=segments.get_segment(state.database, workspace_id, segment.id),
                on_saved=lambda _s: ui.navigate.reload(),
            ).open(),
        ).props('unelevated no-caps color="indigo-8" data-testid="edit-segment"')
    with ui.row().classes("w-full gap-4 items-stretch"):
        with ui.card().classes("col-grow").style("min-width: 220px"):
            ui.label("Members").classes("text-overline fb-muted")
            ui.label(f"{segment.size:,}").classes("text-h4 text-weight-bold").props('data-testid="segment-size"')
            ui.label(f"Evaluated {freshness(segment.last_evaluated_at, now=state.now())}").classes("fb-muted")
            if segment.last_error:
                ui.label(f"Last error: {segment.last_error}").classes("fb-error")
        with ui.card().classes("col-grow").style("min-width: 280px; flex: 3 1 400px"):
            ui.label("Who belongs").classes("text-overline fb-muted")
            if segment.kind == "dynamic":
                ui.label(segment.rule_english or "").classes("text-body1").props('data-testid="rule-english"')
                ui.label(segment.rule_text or "").classes("fb-mono text-caption fb-muted")
            else:
                ui.label("Fans added by hand or by CSV import.").classes("text-body1")
    with ui.card().classes("w-full"):
        points = data.size_series("segment", workspace_id, segment.id, days=30)
        size_chart(points, title="Size over the last 30 days").props('data-testid="size-chart"')

    with ui.card().classes("w-full"):
        with ui.row().classes("w-full items-center gap-2"):
            ui.label("Members").classes("text-subtitle1 text-weight-medium")
            ui.space()

            async def export() -> None:
                notification = ui.notification("Preparing CSV…", spinner=True, timeout=None)
                try:
                    text = await in_thread(
                        lambda: "".join(
                            fan_csv.export_fans_csv(state.database, workspace_id, FanFilter(segment_id=segment.id))
                        )
                    )
                finally:
                    notification.dismiss()
                safe = "".join(ch if ch.isalnum() else "-" for ch in segment.name).strip("-").lower() or "segment"
                ui.download.content(text.encode(), f"{safe}-members.csv", media_type="text/csv")

            ui.button("Export CSV", icon="download", on_click=export).props(
                'flat no-caps color="indigo-8" data-testid="export-csv"'
            )
        members = FanTable(
            lambda page, size: segments.members(state.database, workspace_id, segment.id, page=page, page_size=size),
            currency=user.currency,
            testid="members-table",
        )
        if segment.kind == "static":
            _static_tools(user, segment, members)
        ui.timer(0.01, members.refresh, once=True)


def _static_tools(user: SignedInUser, segment: Segment, members: FanTable) -> None:
    state = current()
    workspace_id = user.workspace_id

    async def add_emails(emails: tuple[str, ...]) -> None:
        try:
            change = await in_thread(
                segments.add_fans_by_email,
                state.database,
                workspace_id,
                segment.id,
                EmailsIn(emails=emails),
                now=state.now(),
            )
        except (FanbaseError, ValueError) as error:
            ui.notify(str(error), type="negative", multi_line=True)
            return
        ui.notify(f"Added {change.entered} fan(s); the segment has {change.size:,}.", type="positive")
        await members.refresh()

    async def add_typed() -> None:
        emails = tuple(part.strip() for part in (email.value or "").replace(";", ",").split(",") if part.strip())
        if not emails:
            return
        await add_emails(emails)
        email.value = ""

    async def remove_selected() -> None:
        ids = [row["id"] for row in members.table.selected]
        if not ids:
            ui.notify("Select fans in the table first.")
            return
        change = await in_thread(segments.remove_fans, state.database, workspace_id, segment.id, ids, now=state.now())
        ui.notify(f"Removed {change.exited} fan(s).", type="positive")
        members.table.selected = []
        await members.refresh()

    async def upload(event: events.UploadEventArguments) -> None:
        try:
            emails = segments.emails_from_csv(await event.file.read())
        except FanbaseError as error:
            ui.notify(str(error), type="negative")
            return
        await add_emails(emails)

    members.table.props("selection=multiple")
    with ui.row().classes("w-full items-center gap-2"):
        email = (
            ui.input("Add fans by email (comma-separated)")
            .props('dense outlined data-testid="add-fan-email"')
            .classes("col-grow")
            .on("keydown.enter", add_typed)
        )
        ui.button("Add", icon="person_add", on_click=add_typed).props(
            'unelevated no-caps color="indigo-8" data-testid="add-fan"'
        )
        ui.button("Remove selected", icon="person_remove", on_click=remove_selected).props(
            'flat no-caps color="negative" data-testid="remove-fans"'
        )
        ui.upload(label="Import CSV of emails", auto_upload=True, on_upload=upload).props(
            'accept=".csv,text/csv" flat bordered dense data-testid="import-csv"'
        ).classes("w-64")
