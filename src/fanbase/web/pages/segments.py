"""Segment Manage (the list, the Create Segment dialog) and a segment's own page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from nicegui import events
from nicegui import ui

from fanbase.errors import FanbaseError
from fanbase.schemas.history import SizePoint
from fanbase.schemas.segments import EmailsIn
from fanbase.schemas.segments import Segment
from fanbase.schemas.users import SignedInUser
from fanbase.services import messages
from fanbase.services import segments
from fanbase.web import data
from fanbase.web.components.common import ACTIONS_COLUMN
from fanbase.web.components.common import FanTable
from fanbase.web.components.common import action_button
from fanbase.web.components.common import column
from fanbase.web.components.common import cut_caption
from fanbase.web.components.common import dashboard_page
from fanbase.web.components.common import found_or_none
from fanbase.web.components.common import link_cell
from fanbase.web.components.common import show_size_chart
from fanbase.web.components.common import size_chart
from fanbase.web.components.common import sparkline_svg
from fanbase.web.components.segment_dialog import SegmentDialog
from fanbase.web.downloads import members_csv_url
from fanbase.web.layout import day_text
from fanbase.web.layout import frame
from fanbase.web.layout import freshness
from fanbase.web.layout import page_title
from fanbase.web.state import actor_of
from fanbase.web.state import current
from fanbase.web.state import in_thread
from fanbase.web.state import in_workspace
from fanbase.web.words import CAUSES

SEGMENT_COLUMNS: list[dict[str, Any]] = [
    column("name", "Segment", is_sortable=True),
    column("kind", "Type", is_sortable=True, is_hidden_when_narrow=True),
    column("size", "Size", align="right", is_sortable=True),
    column("trend", "Last 30 days"),
    column("used_by", "Used by", is_hidden_when_narrow=True),
    column("freshness", "Evaluated", is_hidden_when_narrow=True),
    ACTIONS_COLUMN,
]


def _segment_row(segment: Segment, user: SignedInUser) -> dict[str, Any]:
    points = data.size_series("segment", user.workspace_id, segment.id, days=30, created_at=segment.created_at)
    now = current().now()
    week = points[-7:]
    entered, left = sum(point.entered for point in week), sum(point.exited for point in week)
    return {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description or "",
        "kind": segment.kind.capitalize(),
        "size": segment.size,
        "size_text": f"{segment.size:,}",
        "used_by": ", ".join(segment.used_by) or "—",
        "is_used": bool(segment.used_by),
        "trend": sparkline_svg([point.size for point in points]),
        "week": f"+{entered:,} / -{left:,} this week",
        "freshness": freshness(segment.last_evaluated_at, now=now) + (" ⚠" if segment.last_error else ""),
    }


@dashboard_page("/segments", title="Segment Manage")
def segment_manage(user: SignedInUser) -> None:
    with frame(user, active="segments", title="Segment Manage"):
        with ui.row().classes("w-full items-center gap-2"):
            page_title("Segment Manage", subtitle="Group fans automatically (dynamic) or by hand (static).")
            ui.space()
            action_button(
                "Create Segment", icon="add", on_click=lambda: open_dialog(None), testid="create-segment", is_main=True
            )
        search = (
            ui.input(placeholder="Search segments by name or description")
            .props('dense outlined clearable debounce=150 data-testid="segment-search" aria-label="Search segments"')
            .classes("w-full max-w-md")
        )
        with search.add_slot("prepend"):
            ui.icon("search")
        table = (
            ui.table(columns=SEGMENT_COLUMNS, rows=[], row_key="id")
            .classes("w-full")
            .props('flat bordered :pagination="{rowsPerPage: 50}" data-testid="segments-table"')
        )
        search.bind_value_to(table, "filter")
        # Names and descriptions only (the default would also search the sparklines' markup).
        table.props(
            'no-results-label="No segment matches the search." :filter-method="(rows, terms) => rows.filter('
            "row => (row.name + ' ' + row.description).toLowerCase().includes(terms.toLowerCase()))\""
        )
        table.add_slot("body-cell-name", link_cell("/segments/", under=cut_caption("description"), is_name=True))
        table.add_slot(
            "body-cell-kind",
            "<q-td :props=\"props\"><q-badge :color=\"props.value === 'Dynamic' ? 'indigo-6' : 'grey-7'\">"
            "{{ props.value }}</q-badge></q-td>",
        )
        table.add_slot(
            "body-cell-trend",
            # On a phone the week's change alone: the 120 px line squeezed the names to a few letters a line.
            '<q-td :props="props"><span class="fb-hide-sm" v-html="props.value"></span>'
            '<div class="fb-muted text-caption" data-testid="segment-week">{{ props.row.week }}</div></q-td>',
        )
        table.add_slot(
            "body-cell-size", '<q-td :props="props" data-testid="segment-size-cell">{{ props.row.size_text }}</q-td>'
        )
        table.add_slot(
            "body-cell-actions",
            '<q-td :props="props" class="text-no-wrap">'
            + "".join(
                # Icons alone where the row is short of room: all three on a phone, Duplicate and Delete below
                # 1440 px (the aria-label still names the action and the segment; a tooltip names it on hover).
                f'<q-btn flat dense no-caps icon="{icon}" :label="$q.screen.lt.{below} ? undefined : \'{label}\'" '
                f'color="{color}" :aria-label="\'{label} \' + props.row.name" '
                f"@click=\"$parent.$emit('{event}', props.row)\"><q-tooltip>{label}</q-tooltip></q-btn>"
                for event, label, icon, color, below in (
                    ("edit", "Edit", "edit", "indigo-8", "sm"),
                    ("duplicate", "Duplicate", "content_copy", "indigo-8", "lg"),
                    ("delete", "Delete", "delete", "negative", "lg"),
                )
            )
            + "</q-td>",
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

        async def duplicate(row: dict[str, Any]) -> None:
            state = current()
            try:
                copy = await in_workspace(user, segments.duplicate_segment, int(row["id"]), now=state.now())
            except FanbaseError as error:
                ui.notify(str(error), type="negative")
                return
            ui.notify(f"Created “{copy.name}”: {copy.size:,} fans.", type="positive")
            reload()

        table.on("edit", lambda event: open_dialog(int(event.args["id"])))
        table.on("duplicate", lambda event: duplicate(event.args))
        table.on("delete", lambda event: _confirm_delete(user, event.args, on_deleted=reload))
        reload()


def _confirm_delete(user: SignedInUser, row: dict[str, Any], *, on_deleted: Callable[[], None]) -> None:
    """Ask before deleting; a segment other segments' rules name cannot go, and the dialog says which and why."""
    with ui.dialog() as dialog, ui.card().style("width: min(480px, 94vw)").props('data-testid="delete-dialog"'):
        if row.get("is_used"):
            ui.label(f"“{row['name']}” cannot be deleted").classes("text-h6")
            ui.label(
                f"The rules of {row['used_by']} name it. Edit those segments to stop using it, then delete it."
            ).props('data-testid="delete-refusal"')
            with ui.row().classes("w-full justify-end"):
                action_button("OK", on_click=dialog.close, is_main=True)
        else:
            ui.label(f"Delete “{row['name']}”?").classes("text-h6")
            ui.label(
                f"Its {row['size_text']} members stay in your workspace; only the segment and its history go."
            ).classes("fb-muted")

            def delete() -> None:
                try:
                    state = current()
                    segments.delete_segment(
                        state.database, user.workspace_id, int(row["id"]), now=state.now(), actor=actor_of(user)
                    )
                except FanbaseError as error:
                    ui.notify(str(error), type="negative")
                    return
                dialog.close()
                ui.notify(f"Deleted “{row['name']}”.", type="positive")
                on_deleted()

            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                action_button(
                    "Delete", icon="delete", on_click=delete, testid="confirm-delete", is_main=True, is_danger=True
                )
    dialog.open()


@dashboard_page("/segments/{segment_id}", title="Segment")
def segment_page(user: SignedInUser, segment_id: int) -> None:
    segment = found_or_none(lambda: segments.get_segment(current().database, user.workspace_id, segment_id))
    with frame(user, active="segments", title=segment.name if segment else "Segment"):
        if segment is None:
            ui.label("This segment does not exist in your workspace.").classes("text-h6")
            ui.link("Back to Segment Manage", "/segments")
        else:
            _segment_content(user, segment)


# The history periods a segment page offers (days; None: since the segment was created).
PERIODS: dict[str, int | None] = {"7 days": 7, "30 days": 30, "90 days": 90, "All time": None}


class _SegmentSummary:
    """The parts of a segment page that show its size: the Members card, the history chart and a day's moves.
    ``refresh`` re-reads them after an action on the page changed the size."""

    def __init__(self, user: SignedInUser, segment: Segment) -> None:
        self.user = user
        self.segment = segment
        self.days: int | None = 30
        state = current()
        with ui.row().classes("w-full gap-4 items-stretch"):
            with ui.card().classes("col-grow").style("min-width: 220px"):
                ui.label("Members").classes("text-overline fb-muted")
                self.size = ui.label(f"{segment.size:,}").classes("text-h4 text-weight-bold")
                self.size.props('data-testid="segment-size"')
                self.evaluated = ui.label(f"Evaluated {freshness(segment.last_evaluated_at, now=state.now())}")
                self.evaluated.classes("fb-muted")
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
            with ui.row().classes("w-full items-center gap-2"):
                ui.label("History").classes("text-subtitle1 text-weight-medium")
                ui.space()
                ui.toggle(list(PERIODS), value="30 days", on_change=lambda event: self.show_period(event.value)).props(
                    'no-caps unelevated toggle-color="indigo-8" data-testid="history-period"'
                )
            ui.label("Click a day to see who entered and left, and why.").classes("fb-muted text-caption")
            self.points = self._points()
            self.chart = size_chart(self.points).props('data-testid="size-chart"')
            self.chart.on_point_click(lambda event: self.show_day(event.data_index))
            self.day = ui.column().classes("w-full gap-1").props('data-testid="history-day"')

    def _points(self) -> list[SizePoint]:
        return data.size_series(
            "segment", self.user.workspace_id, self.segment.id, days=self.days, created_at=self.segment.created_at
        )

    def show_period(self, label: str) -> None:
        self.days = PERIODS[label]
        self.points = self._points()
        show_size_chart(self.chart, self.points)
        self.day.clear()

    def refresh(self) -> None:
        state = current()
        self.segment = segments.get_segment(state.database, self.user.workspace_id, self.segment.id)
        self.size.set_text(f"{self.segment.size:,}")
        self.evaluated.set_text(f"Evaluated {freshness(self.segment.last_evaluated_at, now=state.now())}")
        self.points = self._points()
        show_size_chart(self.chart, self.points)

    def show_day(self, index: int) -> None:
        """List the entries and exits of the day at ``index`` of the chart."""
        if not 0 <= index < len(self.points):
            return
        start = self.points[index].at
        moves = data.segment_moves_between(self.user.workspace_id, self.segment.id, start, start + timedelta(days=1))
        entered = sum(1 for move in moves.items if move.entered)
        self.day.clear()
        with self.day:
            heading = f"{start:%a} {day_text(start)}: {moves.total:,} " + ("change" if moves.total == 1 else "changes")
            if moves.total:
                heading += f" ({entered:,} entered, {len(moves.items) - entered:,} left"
                heading += f" among the {len(moves.items):,} shown)" if moves.total > len(moves.items) else ")"
            ui.label(heading).classes("text-subtitle2").props('data-testid="history-day-heading"')
            if not moves.items:
                ui.label("Nobody entered or left that day.").classes("fb-muted")
                return
            table = ui.table(
                columns=[
                    column("at", "Time"),
                    column("fan", "Fan"),
                    column("change", "Change"),
                    column("why", "Why"),
                ],
                rows=[
                    {
                        "id": index,
                        "at": f"{move.at:%H:%M}",
                        "fan": move.fan_email,
                        "fan_id": move.fan_id,
                        "change": "entered" if move.entered else "left",
                        "why": CAUSES.get(move.cause, move.cause),
                    }
                    for index, move in enumerate(moves.items)
                ],
                row_key="id",
                pagination={"rowsPerPage": 10},
            )
            table.classes("w-full").props('flat bordered dense data-testid="history-day-table"')
            table.add_slot("body-cell-fan", link_cell("/fans/", key="fan_id"))
            table.add_slot(
                "body-cell-change",
                "<q-td :props=\"props\"><q-badge :color=\"props.value === 'entered' ? 'green-7' : 'red-7'\">"
                "{{ props.value }}</q-badge></q-td>",
            )


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
        action_button(
            "Filter fan list",
            icon="filter_list",
            on_click=lambda: ui.navigate.to(f"/fans?segment={segment.id}"),
            testid="filter-fans",
        )
        action_button(
            "Edit",
            icon="edit",
            on_click=lambda: SegmentDialog(
                user,
                segment=segments.get_segment(state.database, workspace_id, segment.id),
                on_saved=lambda _s: ui.navigate.reload(),
            ).open(),
            testid="edit-segment",
            is_main=True,
        )
    summary = _SegmentSummary(user, segment)
    _messages_card(user, segment)

    with ui.card().classes("w-full"):
        with ui.row().classes("w-full items-center gap-2"):
            ui.label("Members").classes("text-subtitle1 text-weight-medium")
            ui.space()

            def export() -> None:
                # Streamed by the server as it is read (web/downloads.py), whatever the segment's size.
                ui.download.from_url(members_csv_url(segment.id))

            action_button("Export CSV", icon="download", on_click=export, testid="export-csv")
        members = FanTable(
            lambda page, size: segments.members(state.database, workspace_id, segment.id, page=page, page_size=size),
            currency=user.currency,
            testid="members-table",
        )
        if segment.kind == "static":
            _static_tools(user, segment, members, summary)
        ui.timer(0.01, members.refresh, once=True)


def _messages_card(user: SignedInUser, segment: Segment) -> None:
    """Where the guide promises "Send Targeted Messages": write one to this segment; how much mail its members got
    lately (so a segment is not mailed too often)."""
    state = current()
    [received] = messages.mail_received(state.database, user.workspace_id, [segment.id], now=state.now())
    with (
        ui.card().classes("w-full").props('data-testid="messages-card"'),
        ui.row().classes("w-full items-center gap-2"),
    ):
        ui.icon("campaign", size="md", color="indigo-8")
        with ui.column().classes("gap-0 col").style("min-width: 12rem"):
            ui.label("Send a message to this segment").classes("text-subtitle1 text-weight-medium")
            mails = f"{received.received:,} mail{'' if received.received == 1 else 's'}"
            ui.label(f"Its members were sent {mails} in the last 30 days.").classes("fb-muted").props(
                'data-testid="segment-mail-received"'
            )
        action_button(
            "Write a message",
            icon="edit",
            on_click=lambda: ui.navigate.to(f"/messages/new?segment={segment.id}"),
            testid="message-segment",
            is_main=True,
        )


def _static_tools(user: SignedInUser, segment: Segment, members: FanTable, summary: _SegmentSummary) -> None:
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
        ui.notify(f"Added {change.entered:,} fan(s); the segment has {change.size:,}.", type="positive")
        summary.refresh()
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
        ui.notify(f"Removed {change.exited:,} fan(s); the segment has {change.size:,}.", type="positive")
        members.table.selected = []
        summary.refresh()
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
        action_button("Add", icon="person_add", on_click=add_typed, testid="add-fan", is_main=True)
        action_button(
            "Remove selected", icon="person_remove", on_click=remove_selected, testid="remove-fans", is_danger=True
        )
        ui.upload(label="Import CSV of emails", auto_upload=True, on_upload=upload).props(
            'accept=".csv,text/csv" flat bordered dense data-testid="import-csv"'
        ).classes("w-64")
