"""The Import page's upload card: choose orders or events and a file (its format recognised, or chosen), see the dry
run at once, then import it in the background with a progress bar and read the report.

The file is kept in a temporary file of its own for as long as the page is open (a preview, a change of format and
the import each read it again from the start), never only in memory: a 20 MB export costs the server disk, not RAM.
It is deleted when another file is chosen or the page is closed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import NamedTuple
from typing import cast

from nicegui import events
from nicegui import ui

from fanbase.errors import FanbaseError
from fanbase.schemas.sales import FormatChoice
from fanbase.schemas.sales import ImportKind
from fanbase.schemas.sales import SalesImportPreview
from fanbase.schemas.sales import SalesImportReport
from fanbase.schemas.users import SignedInUser
from fanbase.services import sales_csv
from fanbase.services.sales_formats import ImportOptions
from fanbase.services.unit_of_work import Database
from fanbase.web.components.common import action_button
from fanbase.web.components.import_preview import AddRate
from fanbase.web.components.import_preview import rejected_csv
from fanbase.web.components.import_preview import show_preview
from fanbase.web.components.import_preview import show_report
from fanbase.web.components.import_words import AUTO
from fanbase.web.components.import_words import EVENTBRITE
from fanbase.web.components.import_words import FORMAT_CHOICES
from fanbase.web.components.import_words import KIND_HINTS
from fanbase.web.components.import_words import KINDS
from fanbase.web.components.import_words import plural
from fanbase.web.layout import time_text
from fanbase.web.state import current
from fanbase.web.state import in_workspace

PROGRESS_SECONDS = 0.25  # how often the progress bar follows a running import
LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# A datetime-local's value is in the browser's zone; the browser knows that zone's rules (summer time included).
TO_UTC = "(() => ({utc: new Date(%s).toISOString(), zone: Intl.DateTimeFormat().resolvedOptions().timeZone}))()"
TEXT_LIMIT = 200  # the longest venue, city or event name (as the API accepts)


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:,.0f} MB"
    return f"{max(size, 1) / 1024:,.0f} KB"


class FileChoices(NamedTuple):
    """How the card's choices say its file is read: the kind of its rows, its format and the import's options."""

    kind: ImportKind
    format_choice: FormatChoice
    options: ImportOptions


def _preview_file(database: Database, workspace_id: int, path: Path, chosen: FileChoices) -> SalesImportPreview:
    with path.open("rb") as stream:
        return sales_csv.preview_sales_csv(
            database, workspace_id, stream, kind=chosen.kind, format_choice=chosen.format_choice, options=chosen.options
        )


def _import_file(
    database: Database,
    workspace_id: int,
    path: Path,
    chosen: FileChoices,
    *,
    now: datetime,
    progress: Callable[[int, int], None],
) -> SalesImportReport:
    with path.open("rb") as stream:
        return sales_csv.import_sales_csv(
            database,
            workspace_id,
            stream,
            kind=chosen.kind,
            format_choice=chosen.format_choice,
            options=chosen.options,
            now=now,
            size=path.stat().st_size,
            progress=progress,
        )


class SalesImportCard:
    """Upload, dry run, import, report. ``on_add_rate`` is told a missing rate's currency and first day (the
    preview's "Add a USD rate")."""

    def __init__(self, user: SignedInUser, *, on_add_rate: AddRate) -> None:
        self.user = user
        self.on_add_rate = on_add_rate
        self.path: Path | None = None
        self.file_name = ""
        self.shown: SalesImportPreview | None = None
        self.report: SalesImportReport | None = None
        self.is_importing = False
        self._asked = 0  # previews started; only the latest is shown
        self._imports = 0  # imports started: a preview asked before one does not take its report away
        # What the preview shown was read with (kind, format, options): a choice changed back and forth, or a field
        # left without a change, reads nothing again and keeps the report.
        self._shown_with: FileChoices | None = None
        self.limit = current().settings.max_csv_bytes
        ui.context.client.on_delete(self.forget)
        with ui.card().classes("w-full gap-3").props('data-testid="import-card"') as self.card:
            ui.label("Import orders or events from a CSV").classes("text-subtitle1 text-weight-medium")
            ui.label(
                "A Shopify orders export, Bandcamp sales report, Stripe payments export or Eventbrite attendee "
                "summary, as the vendor wrote it, or a file with fanbase's own columns. Fans are found by email and "
                "added when new; importing the same file again changes nothing."
            ).classes("fb-muted")
            self._choices()
            self._eventbrite_fields()
            self.problem = ui.label("").classes("fb-error").props('role="alert" data-testid="import-problem"')
            self.problem.set_visibility(False)
            self.preview_area = ui.column().classes("w-full gap-2").props('data-testid="preview"')
            with ui.row().classes("w-full items-center gap-3") as self.actions:
                self.import_button = action_button(
                    "Import", icon="file_download_done", on_click=self.run_import, testid="run-import", is_main=True
                )
                with ui.column().classes("gap-0").style("flex: 1 1 12rem; min-width: 0"):
                    self.progress = ui.linear_progress(value=0, show_value=False, size="8px", color="indigo-8").props(
                        'rounded data-testid="import-progress"'
                    )
                    self.progress_text = (
                        ui.label("").classes("fb-muted text-caption").props('data-testid="import-progress-text"')
                    )
            self.actions.set_visibility(False)
            self.progress.set_visibility(False)
            self.report_area = ui.column().classes("w-full gap-2").props('data-testid="report-area"')

    # -- layout ------------------------------------------------------------------------------------------------

    def _choices(self) -> None:
        with ui.row().classes("w-full items-start gap-4"):
            with ui.column().classes("gap-2").style("flex: 1 1 300px; min-width: 0"):
                with ui.row().classes("items-center gap-2"):
                    ui.label("What the file holds").classes("text-body2")
                    self.kind = ui.toggle(KINDS, value="orders", on_change=self.kind_changed).props(
                        'no-caps unelevated dense color="grey-3" text-color="grey-9" toggle-color="indigo-8" '
                        'data-testid="import-kind"'
                    )
                self.kind_hint = ui.label(KIND_HINTS["orders"]).classes("fb-muted text-caption")
                self.format = (
                    ui.select(FORMAT_CHOICES, value=AUTO, label="Format", on_change=self.format_changed)
                    .props('dense outlined options-dense data-testid="import-format"')
                    .classes("w-full")
                    .style("max-width: 24rem")
                )
            with ui.column().classes("gap-1").style("flex: 1 1 300px; min-width: 0"):
                self.upload = (
                    ui.upload(
                        label="Drop a CSV here, or choose one",
                        auto_upload=True,
                        max_file_size=self.limit,
                        on_upload=self.received,
                        on_rejected=self.refused_file,
                    )
                    .props(
                        'accept=".csv,.txt,text/csv" flat bordered color="indigo-1" text-color="indigo-9" '
                        'data-testid="import-file"'
                    )
                    .classes("w-full fb-upload")
                )
                self.file_line = (
                    ui.label(
                        f"One file, up to {size_text(self.limit)}. You see what it holds before anything is written."
                    )
                    .classes("fb-muted text-caption")
                    .props('data-testid="import-file-name"')
                )

    def _eventbrite_fields(self) -> None:
        with ui.column().classes("w-full gap-1 q-pa-sm rounded-borders bg-indigo-1") as self.eventbrite:
            ui.label(
                "An Eventbrite attendee summary names no venue, city or check-in time: give the event's. Fans who "
                "checked in are recorded as attending it then."
            ).classes("text-body2")
            with ui.row().classes("w-full gap-2"):
                self.event_name = self._text_input("Event (if the file names none)", "event-name")
                self.venue = self._text_input("Venue", "event-venue")
                self.city = self._text_input("City", "event-city")
                self.attended = (
                    ui.input("Date and time of the event")
                    .props('dense outlined stack-label type=datetime-local data-testid="event-at"')
                    .style("flex: 1 1 13rem; min-width: 0")
                )
                self.attended.on_value_change(self.choices_changed)
            self.attended_note = (
                ui.label("In your own time zone.").classes("fb-muted text-caption").props('data-testid="event-at-utc"')
            )
        self.eventbrite.props('data-testid="eventbrite-fields"')
        self.eventbrite.set_visibility(False)

    def _text_input(self, label: str, testid: str) -> ui.input:
        field = (
            ui.input(label)
            .props(f'dense outlined maxlength={TEXT_LIMIT} data-testid="{testid}"')
            .style("flex: 1 1 10rem; min-width: 0")
        )
        field.on("blur", self.choices_changed)
        return field

    # -- the file ----------------------------------------------------------------------------------------------

    def forget(self) -> None:
        """Delete the kept file (another was chosen, or the page closed)."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
        self.path = None

    async def received(self, event: events.UploadEventArguments) -> None:
        self.upload.reset()
        size = event.file.size()
        if size > self.limit:
            self.refused_file()
            return
        handle, name = tempfile.mkstemp(prefix="fanbase-import-", suffix=".csv")
        os.close(handle)
        await event.file.save(name)
        self.forget()
        self.path, self.file_name = Path(name), event.file.name or "the file"
        self.report = self._shown_with = None
        self.report_area.clear()
        self.progress.set_visibility(False)
        self.progress_text.set_text("")
        self.file_line.set_text(f"{self.file_name} ({size_text(size)}). Drop another file to replace it.")
        await self.refresh_preview()

    def refused_file(self) -> None:
        self.show_problem(
            f"That file is larger than the limit of {size_text(self.limit)} (FANBASE_MAX_CSV_BYTES): split it, or "
            "import it through the API or the command line."
        )

    # -- choices -----------------------------------------------------------------------------------------------

    @property
    def chosen_kind(self) -> ImportKind:
        return cast(ImportKind, self.kind.value or "orders")

    @property
    def chosen_format(self) -> FormatChoice:
        return cast(FormatChoice, self.format.value or AUTO)

    def is_eventbrite(self) -> bool:
        recognised = self.shown.format if self.shown is not None else None
        return EVENTBRITE in (self.format.value, recognised)

    async def kind_changed(self, _event: Any = None) -> None:
        self.kind_hint.set_text(KIND_HINTS[self.chosen_kind])
        await self.choices_changed()

    async def format_changed(self, _event: Any = None) -> None:
        self.eventbrite.set_visibility(self.is_eventbrite())
        await self.choices_changed()

    async def options(self) -> ImportOptions | None:
        """What the person importing knows and the file leaves out (Eventbrite's); None when the time is not one."""
        if not self.is_eventbrite():
            return ImportOptions()
        self.attended.error = None
        value = (self.attended.value or "").strip()
        attended_at = None
        if value:
            if not LOCAL_TIME.fullmatch(value):
                self.attended.error = "Choose a date and a time"
                return None
            found = await ui.run_javascript(TO_UTC % json.dumps(value))
            attended_at = datetime.fromisoformat(str(found["utc"]).replace("Z", "+00:00"))
            self.attended_note.set_text(f"In your time zone ({found['zone']}): that is {time_text(attended_at)} UTC.")
        return ImportOptions(
            event_name=(self.event_name.value or "").strip() or None,
            venue=(self.venue.value or "").strip() or None,
            city=(self.city.value or "").strip() or None,
            attended_at=attended_at,
        )

    def show_problem(self, text: str | None) -> None:
        self.problem.set_text(text or "")
        self.problem.set_visibility(bool(text))

    # -- dry run -----------------------------------------------------------------------------------------------

    async def choices_changed(self, _event: Any = None) -> None:
        """A choice that changes what an import would do: the dry run is read again, and a report of the file
        imported with other choices is taken away."""
        await self.refresh_preview(is_choice=True)

    async def refresh_preview(self, _event: Any = None, *, is_choice: bool = False) -> None:
        """Read the file's first rows again with the current choices (and rates) and show them; nothing is written.
        Previews run in threads and can finish out of order: only the one asked for last is shown."""
        if self.path is None:
            return
        self._asked += 1
        asked, imports = self._asked, self._imports
        options = await self.options()
        if options is None:
            return
        chosen = FileChoices(self.chosen_kind, self.chosen_format, options)
        if is_choice and chosen == self._shown_with:
            return
        self.show_problem(None)
        self.format.error = None
        try:
            found = await in_workspace(self.user, _preview_file, self.path, chosen)
        except (FanbaseError, ValueError) as error:
            if asked == self._asked:
                self.refused(error)
            return
        if asked != self._asked:
            return
        if is_choice and imports == self._imports:
            self.report = None
            self.report_area.clear()
            self.progress.set_visibility(False)
            self.progress_text.set_text("")
        self.shown, self._shown_with = found, chosen
        self.eventbrite.set_visibility(self.is_eventbrite())
        self.preview_area.clear()
        with self.preview_area:
            show_preview(
                found,
                currency=self.user.currency,
                file_name=self.file_name,
                is_chosen=self.chosen_format != AUTO,
                on_add_rate=self.on_add_rate,
            )
        self.actions.set_visibility(True)
        self.import_button.set_text(f"Import {self.file_name}")

    def refused(self, error: Exception) -> None:
        """A file that cannot be read as chosen: the reason at the format when it is about the format."""
        message = error.message if isinstance(error, FanbaseError) else str(error)
        sentence = message[:1].upper() + message[1:]
        self.shown = self._shown_with = None
        self.preview_area.clear()
        self.actions.set_visibility(False)
        if isinstance(error, FanbaseError) and error.field == "format":
            self.format.error = sentence
        else:
            self.show_problem(sentence)

    # -- import ------------------------------------------------------------------------------------------------

    async def run_import(self) -> None:
        if self.path is None or self.is_importing:
            return
        options = await self.options()
        if options is None:
            return
        state = current()
        self.is_importing = True
        self._imports += 1
        self.import_button.disable()
        self.progress.set_visibility(True)
        self.progress.set_value(0)
        self.progress_text.set_text("Importing…")
        self.report_area.clear()
        done = {"bytes": 0, "of": max(self.path.stat().st_size, 1)}

        def advanced(read: int, size: int) -> None:  # called from the import's thread: only noted here
            done["bytes"], done["of"] = read, max(size, 1)

        def follow() -> None:
            self.progress.set_value(done["bytes"] / done["of"])
            self.progress_text.set_text(f"Importing… {done['bytes'] * 100 // done['of']}% read")

        follower = ui.timer(PROGRESS_SECONDS, follow)
        try:
            report = await in_workspace(
                self.user,
                _import_file,
                self.path,
                FileChoices(self.chosen_kind, self.chosen_format, options),
                now=state.now(),
                progress=advanced,
            )
        except (FanbaseError, ValueError) as error:
            self.progress.set_visibility(False)
            self.progress_text.set_text("")
            self.refused(error)
            return
        finally:
            follower.cancel()
            self.is_importing = False
            self.import_button.enable()
        self.progress.set_value(1)
        self.progress_text.set_text("Done.")
        self.report = report
        with self.report_area:
            show_report(report, file_name=self.file_name, on_download=self.download_rejected)
        written = report.orders_created + report.orders_refunded + report.events_created
        ui.notify(
            f"Imported: {plural(written, 'change')} recorded, {report.unchanged:,} unchanged."
            if written or report.unchanged
            else "Imported: nothing to record.",
            type="positive" if not report.error_count else "warning",
        )

    def download_rejected(self) -> None:
        if self.report is None:
            return
        stem = self.file_name.rsplit(".", 1)[0] or "import"
        ui.download.content(rejected_csv(self.report.errors), f"{stem} rejected rows.csv", "text/csv")
