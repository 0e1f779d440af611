"""The Import page's exchange rates: the workspace currency, its rates (each from a day on), a form to add one and a
CSV of many; a refusal is shown at the field it is about."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from nicegui import events
from nicegui import ui
from pydantic import ValidationError

from fanbase.errors import FanbaseError
from fanbase.schemas.currencies import ExchangeRate
from fanbase.schemas.currencies import ExchangeRateIn
from fanbase.schemas.currencies import ExchangeRatesWritten
from fanbase.schemas.users import SignedInUser
from fanbase.services import currencies
from fanbase.web.components.common import action_button
from fanbase.web.components.common import clear_problems_at
from fanbase.web.components.common import column
from fanbase.web.components.common import make_change
from fanbase.web.components.common import show_problems_at
from fanbase.web.components.message_form import problems_of
from fanbase.web.layout import day_text
from fanbase.web.state import current
from fanbase.web.state import in_thread
from fanbase.web.state import in_workspace

RATE_COLUMNS: list[dict[str, Any]] = [
    column("currency", "Currency", is_hidden_when_narrow=True),
    column("valid_from", "Valid from"),
    column("rate", "Rate"),
    column("actions", "", align="right"),
]
RATES_SHOWN = 10  # a page of the rates table
# What an empty field means, per field.
REQUIRED = {"currency": "Give a currency, e.g. USD", "valid_from": "Choose the first day", "rate": "Give the rate"}
CSV_EXAMPLE = "currency,valid_from,rate\nUSD,2026-01-01,0.92"

Changed = Callable[[], Awaitable[None]]


def written_words(written: ExchangeRatesWritten) -> str:
    parts = [
        f"{count:,} {word}"
        for count, word in ((written.created, "added"), (written.updated, "replaced"), (written.unchanged, "unchanged"))
        if count
    ]
    return ", ".join(parts) or "nothing changed"


class RatesCard:
    """The workspace's exchange rates. ``on_change`` is awaited after any change (the preview converts again)."""

    def __init__(self, user: SignedInUser, *, on_change: Changed) -> None:
        self.user = user
        self.on_change = on_change
        currency = user.currency
        with ui.card().classes("w-full gap-2").props('data-testid="rates-card"') as self.card:
            ui.label("Exchange rates").classes("text-subtitle1 text-weight-medium")
            ui.label(
                f"Your workspace counts money in {currency}. An order in another currency is converted at the rate "
                "valid on the day it was placed; orders already recorded keep the rate they got."
            ).classes("fb-muted").props('data-testid="workspace-currency"')
            self.table = (
                ui.table(columns=RATE_COLUMNS, rows=[], row_key="id", pagination=RATES_SHOWN)
                .classes("w-full fb-scroll-table")
                .props('flat bordered dense data-testid="rates-table"')
            )
            self.table.props["no-data-label"] = f"No rates yet: orders in {currency} need none."
            self.table.add_slot(
                "body-cell-actions",
                '<q-td :props="props"><q-btn flat dense round size="sm" icon="delete" color="negative" '
                ":aria-label=\"'Delete the ' + props.row.currency + ' rate from ' + props.row.valid_from\" "
                'data-testid="delete-rate" @click="$parent.$emit(\'delete_rate\', props.row)">'
                "<q-tooltip>Delete this rate</q-tooltip></q-btn></q-td>",
            )
            self.table.on("delete_rate", self.delete)
            ui.label("Add a rate").classes("text-subtitle2 q-mt-sm")
            with ui.row().classes("w-full items-start gap-2").props('data-testid="rate-form"'):
                self.currency = (
                    ui.input("Currency", placeholder="USD")
                    .props('dense outlined maxlength=3 input-class="text-uppercase" data-testid="rate-currency"')
                    .style("flex: 0 1 7rem; min-width: 6rem")
                )
                self.valid_from = (
                    ui.input("Valid from")
                    .props('dense outlined stack-label type=date data-testid="rate-valid-from"')
                    .style("flex: 1 1 10rem; min-width: 9rem")
                )
                self.rate = (
                    ui.input(f"{currency} for one unit", placeholder="0.92")
                    .props('dense outlined inputmode=decimal data-testid="rate-value"')
                    .style("flex: 1 1 8rem; min-width: 7rem")
                )
                action_button("Add rate", icon="add", on_click=self.add, testid="add-rate", is_main=True).classes(
                    "q-mt-xs"
                )
                for field in (self.currency, self.valid_from, self.rate):
                    field.on("keydown.enter", self.add)
            self.fields = {"currency": self.currency, "valid_from": self.valid_from, "rate": self.rate}
            self.form_problem = ui.label("").classes("fb-error").props('role="alert" data-testid="rate-problem"')
            self.form_problem.set_visibility(False)
            with ui.row().classes("w-full items-center gap-2 q-mt-sm"):
                self.upload = (
                    ui.upload(label="Rates from a CSV", auto_upload=True, on_upload=self.upload_rates)
                    .props(
                        'accept=".csv,.txt,text/csv" flat bordered dense color="indigo-1" text-color="indigo-9" '
                        'data-testid="rates-file"'
                    )
                    .classes("w-full fb-upload")
                    .style("max-width: 22rem")
                )
                with ui.column().classes("gap-0").style("flex: 1 1 12rem; min-width: 0"):
                    ui.label("Columns currency, valid_from, rate; a bad line refuses the whole file.").classes(
                        "fb-muted text-caption"
                    )
                    ui.label(CSV_EXAMPLE.replace("\n", " · ")).classes("fb-muted text-caption fb-mono")
            self.file_problem = ui.label("").classes("fb-error").props('role="alert" data-testid="rates-file-problem"')
            self.file_problem.set_visibility(False)
        ui.timer(0.01, self.refresh, once=True)

    # -- reading -----------------------------------------------------------------------------------------------

    async def refresh(self) -> None:
        found = await in_thread(currencies.list_rates, current().database, self.user.workspace_id)
        self.table.rows = [self._row(rate) for rate in found]
        self.table.update()

    def _row(self, rate: ExchangeRate) -> dict[str, Any]:
        return {
            "id": rate.id,
            "currency": rate.currency,
            "valid_from": day_text(rate.valid_from),
            "rate": f"1 {rate.currency} = {currencies.rate_text(rate.rate)} {self.user.currency}",
        }

    def prefill(self, currency: str, day: str) -> None:
        """Start a rate for a currency the preview could not convert, from the first day it is needed."""
        self.clear_problems()
        self.currency.value = currency
        self.valid_from.value = day
        self.rate.value = ""
        self.rate.run_method("focus")
        ui.run_javascript(
            'document.querySelector(\'[data-testid="rates-card"]\')?.scrollIntoView({behavior: "smooth"})'
        )

    # -- writing -----------------------------------------------------------------------------------------------

    def clear_problems(self) -> None:
        clear_problems_at(self.fields, below=self.form_problem)
        self.file_problem.set_visibility(False)

    def show_problems(self, problems: list[tuple[str | None, str]]) -> None:
        show_problems_at(self.fields, problems, below=self.form_problem)

    def _typed(self) -> ExchangeRateIn | None:
        values = {name: str(field.value or "").strip() for name, field in self.fields.items()}
        missing = [(name, REQUIRED[name]) for name, value in values.items() if not value]
        if missing:
            self.show_problems(list(missing))
            return None
        try:
            return ExchangeRateIn.model_validate(values)
        except ValidationError as error:
            self.show_problems(problems_of(error))
            return None

    async def add(self) -> None:
        self.clear_problems()
        typed = self._typed()
        if typed is None:
            return
        state = current()
        try:
            written = await in_workspace(self.user, currencies.set_rates, [typed], now=state.now())
        except FanbaseError as error:
            # The service names the rate's place in its list ("rates[0]"): here that is the currency typed.
            field = "currency" if (error.field or "").startswith("rates") else error.field
            self.show_problems([(field, problem) for _field, problem in problems_of(error)])
            return
        verb = "Replaced" if written.updated else "Added" if written.created else "Unchanged"
        ui.notify(
            f"{verb}: 1 {typed.currency} = {currencies.rate_text(typed.rate)} {self.user.currency} from "
            f"{day_text(typed.valid_from)}.",
            type="positive",
        )
        self.rate.value = ""
        await self.changed()

    async def upload_rates(self, event: events.UploadEventArguments) -> None:
        self.clear_problems()
        self.upload.reset()
        if event.file.size() > currencies.MAX_RATES_CSV_BYTES:
            self._file_refused(f"the file is larger than the limit of {currencies.MAX_RATES_CSV_BYTES:,} bytes")
            return
        data = await event.file.read()
        state = current()

        def read_and_write() -> ExchangeRatesWritten:
            return currencies.set_rates(
                state.database, self.user.workspace_id, currencies.rates_from_csv(data), now=state.now()
            )

        try:
            written = await in_thread(read_and_write)
        except FanbaseError as error:
            self._file_refused(error.message)
            return
        ui.notify(f"Rates from {event.file.name}: {written_words(written)}.", type="positive")
        await self.changed()

    def _file_refused(self, message: str) -> None:
        self.file_problem.set_text(f"Not imported: {message[:1].lower() + message[1:]}")
        self.file_problem.set_visibility(True)

    async def delete(self, event: events.GenericEventArguments) -> None:
        row = event.args
        await make_change(
            lambda: currencies.delete_rate(current().database, self.user.workspace_id, int(row["id"])),
            done=f"Deleted the {row['currency']} rate from {row['valid_from']}.",
        )
        await self.changed()

    async def changed(self) -> None:
        await self.refresh()
        await self.on_change()
