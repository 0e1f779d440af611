"""`fanbase import orders|events FILE` (any vendor format) and `fanbase rates …` (the workspace's exchange rates)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn
from rich.progress import DownloadColumn
from rich.progress import Progress
from rich.progress import TextColumn
from rich.progress import TimeElapsedColumn

from fanbase.cli.common import EXIT_FAILED
from fanbase.cli.common import JsonOption
from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import id_argument
from fanbase.cli.common import one_line
from fanbase.cli.common import open_workspace
from fanbase.cli.common import print_json
from fanbase.cli.common import stderr
from fanbase.cli.common import stdout
from fanbase.cli.fan_csv import ERRORS_SHOWN
from fanbase.cli.fan_csv import import_app
from fanbase.clock import utc_now
from fanbase.errors import InvalidInput
from fanbase.schemas.common import plain_message
from fanbase.schemas.common import require_utc
from fanbase.schemas.currencies import ExchangeRateIn
from fanbase.schemas.sales import FormatChoice
from fanbase.schemas.sales import ImportKind
from fanbase.schemas.sales import SalesImportReport
from fanbase.services import currencies
from fanbase.services import fan_export
from fanbase.services import sales_csv
from fanbase.services.sales_formats import ImportOptions

rates_app = typer.Typer(help="The workspace's exchange rates (orders in other currencies).", no_args_is_help=True)

FileArgument = Annotated[
    Path, typer.Argument(help="CSV: fanbase's columns or a vendor's export.", exists=True, dir_okay=False)
]
FormatOption = Annotated[
    str, typer.Option("--format", help="auto (by the header), generic, shopify, bandcamp, stripe or eventbrite.")
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Show the first rows as they would be written; write nothing.")
]
ErrorsOption = Annotated[
    Path | None,
    typer.Option("--errors", help="Write every rejected row (line, email, reason) to this CSV file.", dir_okay=False),
]
VenueOption = Annotated[str | None, typer.Option(help="Eventbrite: the venue (the attendee summary has none).")]
CityOption = Annotated[str | None, typer.Option(help="Eventbrite: the venue's city.")]
EventOption = Annotated[str | None, typer.Option("--event-name", help="Eventbrite: the event, if no column.")]
AttendedOption = Annotated[
    str | None, typer.Option("--attended-at", help="Eventbrite: when checked-in attendees attended (ISO, with zone).")
]
RateArgument = Annotated[int, id_argument("rate", listed_by="fanbase rates list")]
FORMATS = ("auto", "generic", "shopify", "bandcamp", "stripe", "eventbrite")


def _options(event_name: str | None, venue: str | None, city: str | None, attended_at: str | None) -> ImportOptions:
    when = None
    if attended_at is not None:
        try:
            when = require_utc(datetime.fromisoformat(attended_at))
        except ValueError as error:
            raise InvalidInput(plain_message(str(error)), field="--attended-at") from None
    return ImportOptions(event_name=event_name, venue=venue, city=city, attended_at=when)


def _format(value: str) -> FormatChoice:
    if value not in FORMATS:
        raise InvalidInput(f"must be one of {', '.join(FORMATS)}", field="--format")
    return value  # type: ignore[return-value]


def _import(
    kind: ImportKind,
    file: Path,
    workspace: int | None,
    format_name: str,
    options: ImportOptions,
    dry_run: bool,
    as_json: bool,
    errors: Path | None,
) -> None:
    choice = _format(format_name)
    with open_workspace(workspace) as (database, workspace_id), file.open("rb") as stream:
        if dry_run:
            preview = sales_csv.preview_sales_csv(
                database, workspace_id, stream, kind=kind, format_choice=choice, options=options
            )
            if as_json:
                print_json(preview)
                return
            out = stdout()
            out.print(f"format: {preview.format}; columns read: {', '.join(preview.used_columns)}", markup=False)
            for row in preview.rows:
                shown = ", ".join(f"{name}={value}" for name, value in row.values.items() if value not in (None, ""))
                out.print(f"line {row.line} {row.record}: {shown}", markup=False)
            for error in preview.errors:
                stderr().print(f"line {error.line}: {one_line(error.reason)}", markup=False)
            return
        console = stderr()
        size = file.stat().st_size
        with Progress(
            TextColumn(f"importing {kind}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,  # a bar in a log file is only noise
        ) as progress:
            task = progress.add_task("import", total=size)
            report = sales_csv.import_sales_csv(
                database,
                workspace_id,
                stream,
                kind=kind,
                format_choice=choice,
                options=options,
                now=utc_now(),
                size=size,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    _report(report, as_json=as_json, errors=errors)


def _report(report: SalesImportReport, *, as_json: bool, errors: Path | None) -> None:
    if errors is not None and report.errors:
        errors.write_text(fan_export.errors_csv(report.errors), encoding="utf-8", newline="")
    if as_json:
        print_json(report)
    else:
        stdout().print(
            f"{report.rows} rows ({report.format}): {report.orders_created} orders and {report.events_created} "
            f"events created, {report.orders_refunded} orders refunded, {report.unchanged} unchanged, "
            f"{report.skipped} skipped (not purchases), {report.error_count} rejected; "
            f"{report.fans_created} new fans.",
            markup=False,
        )
    if not report.error_count:
        return
    console = stderr()
    if not as_json and errors is None:
        for error in report.errors[:ERRORS_SHOWN]:
            console.print(f"line {error.line}: {one_line(error.reason)}", markup=False)
        if report.error_count > ERRORS_SHOWN:
            console.print(f"… and {report.error_count - ERRORS_SHOWN} more; use --errors FILE for the list.")
    console.print(
        f"error: {report.error_count} of {report.rows} rows were rejected (the valid rows were imported)", markup=False
    )
    raise typer.Exit(EXIT_FAILED)


def _import_command(kind: ImportKind, *, doc: str) -> Callable[..., None]:
    """`fanbase import orders` or `events`: the two take the same file and options, and differ only in what the
    rows are read as."""

    def import_kind(
        file: FileArgument,
        workspace: WorkspaceOption = None,
        format_name: FormatOption = "auto",
        dry_run: DryRunOption = False,
        errors: ErrorsOption = None,
        venue: VenueOption = None,
        city: CityOption = None,
        event_name: EventOption = None,
        attended_at: AttendedOption = None,
        as_json: JsonOption = False,
    ) -> None:
        options = _options(event_name, venue, city, attended_at)
        _import(kind, file, workspace, format_name, options, dry_run, as_json, errors)

    import_kind.__doc__ = doc  # Typer's help text
    return import_kind


# Each command's help; its first paragraph, line breaks kept, is its summary in `fanbase import --help`.
IMPORT_ORDERS_HELP = """\
Import orders from a CSV: fanbase's columns (email, amount, currency, category, placed_at, external_id, …)
or a Shopify orders export, Bandcamp sales report, Stripe payments export or Eventbrite attendee summary.

Fans are created for unknown emails; other currencies are converted at the workspace's rates; importing the
same file again changes nothing. Exit code 1 if any row was rejected."""
IMPORT_EVENTS_HELP = """\
Import activity events from a CSV: fanbase's columns (email, type, occurred_at, external_id, properties or
properties.<key> columns) or an Eventbrite attendee summary (its check-ins, as gig_attended)."""
import_app.command("orders")(_import_command("orders", doc=IMPORT_ORDERS_HELP))
import_app.command("events")(_import_command("events", doc=IMPORT_EVENTS_HELP))


@rates_app.command("list")
def list_rates(
    workspace: WorkspaceOption = None,
    currency: Annotated[str | None, typer.Option(help="Only this currency.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The workspace's exchange rates, newest first per currency."""
    with open_workspace(workspace) as (database, workspace_id):
        rates = currencies.list_rates(database, workspace_id, currency=currency.upper() if currency else None)
    if as_json:
        print_json(rates)
        return
    for rate in rates:
        stdout().print(f"{rate.id}\t{rate.currency}\t{rate.valid_from}\t{rate.rate}", markup=False)


@rates_app.command("set")
def set_rate(
    currency: Annotated[str, typer.Argument(help="ISO 4217 code, e.g. EUR.")],
    valid_from: Annotated[str, typer.Argument(help="First day (UTC) of the rate, e.g. 2026-01-01.")],
    rate: Annotated[str, typer.Argument(help="Workspace-currency units per one unit of CURRENCY, e.g. 1.0825.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Add a rate, or replace the rate of that currency and day. Orders already written keep theirs."""
    try:
        day = date.fromisoformat(valid_from)
    except ValueError:
        raise InvalidInput(f"'{valid_from}' is not a day like 2026-01-01", field="valid_from") from None
    try:
        number = Decimal(rate)
    except ArithmeticError:
        raise InvalidInput(f"'{rate}' is not a number like 1.0825", field="rate") from None
    try:
        entry = ExchangeRateIn(currency=currency, valid_from=day, rate=number)
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(plain_message(first["msg"]), field=str(first["loc"][0])) from None
    with open_workspace(workspace) as (database, workspace_id):
        written = currencies.set_rates(database, workspace_id, [entry], now=utc_now())
    stdout().print("created" if written.created else "updated" if written.updated else "unchanged", markup=False)


@rates_app.command("import")
def import_rates(
    file: Annotated[Path, typer.Argument(help="CSV with columns currency, valid_from, rate.", exists=True)],
    workspace: WorkspaceOption = None,
) -> None:
    """Rates from a CSV; all or nothing (a bad line refuses the file, naming it)."""
    rates = currencies.rates_from_csv(file.read_bytes())
    with open_workspace(workspace) as (database, workspace_id):
        written = currencies.set_rates(database, workspace_id, rates, now=utc_now())
    stdout().print(
        f"{written.created} created, {written.updated} updated, {written.unchanged} unchanged.", markup=False
    )


@rates_app.command("delete")
def delete_rate(
    rate_id: RateArgument,
    workspace: WorkspaceOption = None,
) -> None:
    """Delete a rate; orders converted at it keep it."""
    with open_workspace(workspace) as (database, workspace_id):
        currencies.delete_rate(database, workspace_id, rate_id)
    stdout().print("deleted", markup=False)
