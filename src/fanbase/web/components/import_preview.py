"""What a sales import shows: the dry run (the format recognised, the columns read, the first rows as fanbase will
write them, each row's problem beside it) and, once imported, the report and the rejected rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from nicegui import ui

from fanbase.schemas.fan_csv import ImportRowError
from fanbase.schemas.sales import PreviewRow
from fanbase.schemas.sales import SalesImportPreview
from fanbase.schemas.sales import SalesImportReport
from fanbase.services.fan_csv import neutralise_cell
from fanbase.web.components.common import action_button
from fanbase.web.components.common import column
from fanbase.web.components.import_words import ORDER_STATUS_WORDS
from fanbase.web.components.import_words import RECORD_WORDS
from fanbase.web.components.import_words import REPORT_FIGURES
from fanbase.web.components.import_words import as_utc
from fanbase.web.components.import_words import format_title
from fanbase.web.components.import_words import plural
from fanbase.web.layout import money
from fanbase.web.layout import time_text
from fanbase.web.words import humanize

# The rejected rows listed on the page; all of them (the report's first 1,000) are in the download.
REJECTED_SHOWN = 10
# A missing rate's message ends with how to add one through the API or the command line; on the page the rates card
# is right below, so the sentence stops before that and says so.
_API_HINT = " (PUT /api/"

# One row of the preview, with its problem (if any) on a row of its own below it, across the whole table: a long
# reason then wraps inside the table's width instead of widening it. A missing rate offers to add it.
PREVIEW_BODY = """
<q-tr :props="props" :class="props.row.problem ? 'fb-problem' : ''" :data-testid="'preview-row-' + props.row.id">
  <q-td v-for="col in props.cols" :key="col.name" :props="props">
    <template v-if="col.name === 'item'">
      <div>{{ col.value }}</div>
      <div v-if="props.row.details" class="fb-muted text-caption">{{ props.row.details }}</div>
    </template>
    <template v-else-if="col.name === 'converted' && props.row.problem">
      <span class="text-negative text-weight-medium">
        <q-icon name="error" size="xs" /> {{ props.row.short_problem }}
      </span>
    </template>
    <template v-else-if="col.name === 'converted'">
      <div>{{ col.value }}</div>
      <div v-if="props.row.rate" class="fb-muted text-caption">at {{ props.row.rate }}</div>
    </template>
    <template v-else>{{ col.value }}</template>
  </q-td>
</q-tr>
<q-tr v-if="props.row.problem" :props="props" class="fb-problem">
  <q-td colspan="100%" data-testid="preview-problem"><div class="fb-problem-text">
    <q-icon name="error" color="negative" size="xs" /> Line {{ props.row.line }}: {{ props.row.problem }}
    <q-btn v-if="props.row.rate_currency" flat dense no-caps size="sm" color="indigo-8" icon="add"
      :label="'Add a ' + props.row.rate_currency + ' rate'" data-testid="preview-add-rate"
      @click="$parent.$emit('add_rate', props.row)" />
  </div></q-td>
</q-tr>
"""
ERROR_COLUMNS: list[dict[str, Any]] = [
    column("line", "Line", align="right"),
    column("email", "Email"),
    column("reason", "Why"),
]

AddRate = Callable[[str, str], None]  # (currency, first day it is needed, ISO)


def preview_columns(currency: str) -> list[dict[str, Any]]:
    return [
        column("line", "Line", align="right", is_hidden_when_narrow=True),
        column("record", "Kind", is_hidden_when_narrow=True),
        column("email", "Fan"),
        column("item", "Product or event"),
        column("amount", "Amount", align="right"),
        column("converted", f"In {currency}", align="right"),
        column("status", "Status"),
        column("date", "Date (UTC)"),
    ]


def _amount(text: Any, currency: str | None) -> str:
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return "—"
    return money(value, currency) if currency else f"{value:,.2f}"


def _problem_sentence(problem: str) -> str:
    cut = problem.split(_API_HINT, 1)[0]
    text = cut[:1].upper() + cut[1:]
    if cut != problem and "exchange rate" in problem:
        return f"{text}, under Exchange rates on this page."
    return text


def preview_row(index: int, row: PreviewRow, currency: str) -> dict[str, Any]:
    """A previewed record as the table shows it: the fan, what was bought or done, the amount as charged and in
    the workspace currency (or why it cannot be converted), its status and date."""
    values = row.values
    shown: dict[str, Any] = {
        "id": index,
        "line": row.line,
        "record": RECORD_WORDS.get(row.record, row.record),
        "email": values.get("email") or "—",
        "details": "",
        "amount": "—",
        "converted": "—",
        "rate": "",
        "status": "—",
        "date": "—",
        "problem": "",
        "short_problem": "",
        "rate_currency": "",
        "rate_day": "",
    }
    if row.record == "order":
        order_currency = str(values.get("currency") or currency)
        refunded = Decimal(str(values.get("refunded_amount") or "0"))
        status = ORDER_STATUS_WORDS.get(str(values.get("status")), humanize(str(values.get("status") or "")))
        if values.get("status") == "completed" and refunded:
            status = f"Completed, {money(refunded, order_currency)} refunded"
        shown |= {
            "item": values.get("product") or humanize(str(values.get("category") or "order")),
            "details": humanize(str(values.get("category") or "")),
            "amount": _amount(values.get("amount"), order_currency),
            "status": status,
            "date": time_text(as_utc(str(values["placed_at"]))),
        }
        converted = values.get(f"amount_in_{currency}")
        if converted is not None:
            shown["converted"] = _amount(converted, currency)
            if order_currency != currency and values.get("exchange_rate"):
                shown["rate"] = f"1 {order_currency} = {values['exchange_rate']} {currency}"
        problem = values.get("problem")
        if problem:
            shown["problem"] = _problem_sentence(str(problem))
            shown["short_problem"] = f"no {order_currency} rate" if "exchange rate" in str(problem) else "problem"
            if "exchange rate" in str(problem):
                shown["rate_currency"] = order_currency
                shown["rate_day"] = as_utc(str(values["placed_at"])).date().isoformat()
    elif row.record == "event":
        properties = values.get("properties") or {}
        shown |= {
            "item": humanize(str(values.get("type") or "event")),
            "details": " · ".join(
                str(properties[name]) for name in ("event_name", "venue", "city") if properties.get(name)
            ),
            "date": time_text(as_utc(str(values["occurred_at"]))),
        }
    else:  # a refund of an order recorded earlier (Bandcamp writes refunds as rows of their own)
        shown |= {
            "item": f"Refund of {values.get('refund_of') or 'an order'}",
            "amount": f"-{_amount(values.get('amount'), None)}",
            "status": "Refund",
            "date": time_text(as_utc(str(values["at"]))),
        }
    return shown


def show_preview(
    preview: SalesImportPreview, *, currency: str, file_name: str, is_chosen: bool, on_add_rate: AddRate
) -> None:
    """The dry run, in the current container: nothing is written yet."""
    title = format_title(preview.format, preview.kind)
    with ui.row().classes("w-full items-center gap-2"):
        ui.icon("fact_check", color="indigo-8")
        recognised = "Read as" if is_chosen else "Recognised as"
        ui.label(f"{recognised}: {title}").classes("text-subtitle1 text-weight-medium").props(
            'data-testid="preview-format"'
        )
        ui.label(f"· {file_name}").classes("fb-muted ellipsis").style("min-width: 0; max-width: 100%")
    ignored = [name for name in preview.columns if name not in preview.used_columns]
    with ui.column().classes("w-full gap-1").props('data-testid="preview-columns"'):
        ui.label(
            f"Columns read ({len(preview.used_columns)} of {len(preview.columns)}; the others are left as they are):"
        ).classes("fb-muted text-caption")
        with ui.row().classes("w-full gap-1"):
            for name in preview.used_columns:
                ui.badge(name, color="indigo-1", text_color="indigo-9").classes("q-px-sm q-py-xs")
        if ignored:
            shown = ", ".join(ignored[:12]) + (f" and {len(ignored) - 12} more" if len(ignored) > 12 else "")
            ui.label(f"Not read: {shown}").classes("fb-muted text-caption")

    rows = [preview_row(index, row, currency) for index, row in enumerate(preview.rows)]
    problems = sum(1 for row in rows if row["problem"])
    counted = f"The first {plural(len({row['line'] for row in rows}), 'line')} as fanbase will write them"
    if problems:
        counted += f"; {plural(problems, 'row')} with a problem, marked in red"
    ui.label(counted + ". Nothing is written until you import.").classes("text-body2").props(
        'data-testid="preview-summary"'
    )
    table = (
        ui.table(columns=preview_columns(currency), rows=rows, row_key="id")
        .classes("w-full fb-scroll-table")
        .props('flat bordered dense hide-pagination :rows-per-page-options="[0]" data-testid="preview-table"')
    )
    table.props["no-data-label"] = "No row to write in the first lines: see why below."
    table.add_slot("body", PREVIEW_BODY)
    table.on("add_rate", lambda event: on_add_rate(event.args["rate_currency"], event.args["rate_day"]))
    if preview.errors:
        ui.label(f"Lines fanbase cannot read ({len(preview.errors):,} in the first lines)").classes(
            "text-subtitle2 text-negative q-mt-sm"
        )
        _errors_table(preview.errors, testid="preview-errors")


def _errors_table(errors: list[ImportRowError], *, testid: str) -> ui.table:
    rows = [
        {"id": index, "line": error.line, "email": error.email or "—", "reason": _problem_sentence(error.reason)}
        for index, error in enumerate(errors)
    ]
    table = (
        ui.table(columns=ERROR_COLUMNS, rows=rows, row_key="id", pagination=REJECTED_SHOWN)
        .classes("w-full fb-scroll-table")
        .props(f'flat bordered dense data-testid="{testid}"')
    )
    table.add_slot(
        "body-cell-reason",
        '<q-td :props="props" class="fb-wrap">{{ props.value }}</q-td>',
    )
    return table


def show_report(report: SalesImportReport, *, file_name: str, on_download: Callable[[], None]) -> None:
    """What the import did, in the current container: each figure, then every rejected row (and their CSV)."""
    with ui.row().classes("w-full items-center gap-2 no-wrap"):
        ui.icon("task_alt", color="green-7")
        ui.label(f"Imported {file_name}: {plural(report.rows, 'row')} read").classes(
            "text-subtitle1 text-weight-medium"
        ).style("min-width: 0; overflow-wrap: anywhere").props('data-testid="report-title"')
    with ui.element("div").classes("fb-figures w-full").props('data-testid="report"'):
        for name, label, hint in REPORT_FIGURES:
            value = int(getattr(report, name))
            testid = f"report-{name.replace('_', '-')}"
            tone = "text-negative" if name == "error_count" and value else ""
            with ui.column().classes("fb-figure gap-0").props(f'data-testid="{testid}"'):
                ui.label(f"{value:,}").classes(f"text-h5 text-weight-medium {tone}").props(
                    f'data-testid="{testid}-value"'
                )
                ui.label(label).classes("text-weight-medium")
                ui.label(hint).classes("fb-muted text-caption")
    if report.unchanged and not (report.orders_created or report.events_created or report.orders_refunded):
        ui.label("Everything in this file was already recorded: importing it again changed nothing.").classes(
            "fb-muted"
        ).props('data-testid="report-all-unchanged"')
    if not report.error_count:
        return
    with ui.row().classes("w-full items-center gap-2 q-mt-sm"):
        ui.label(f"Rejected rows ({report.error_count:,})").classes("text-subtitle2 text-negative")
        ui.space()
        action_button("Download rejected rows (CSV)", icon="download", on_click=on_download, testid="download-rejected")
    if report.error_count > len(report.errors):
        ui.label(f"The first {len(report.errors):,} are listed and in the download.").classes("fb-muted")
    _errors_table(report.errors, testid="rejected-table")


def rejected_csv(errors: list[ImportRowError]) -> bytes:
    """The rejected rows as a CSV (line, email, reason), to fix in the file and import again."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("line", "email", "reason"))
    for error in errors:
        writer.writerow((error.line, neutralise_cell(error.email or ""), neutralise_cell(error.reason)))
    return buffer.getvalue().encode("utf-8")
