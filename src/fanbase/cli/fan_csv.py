"""`fanbase import fans` and `fanbase export fans`: CSV in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn
from rich.progress import MofNCompleteColumn
from rich.progress import Progress
from rich.progress import TextColumn
from rich.progress import TimeElapsedColumn

from fanbase.cli.common import EXIT_FAILED
from fanbase.cli.common import CommandError
from fanbase.cli.common import JsonOption
from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import command_line_actor
from fanbase.cli.common import one_line
from fanbase.cli.common import open_workspace
from fanbase.cli.common import print_json
from fanbase.cli.common import stderr
from fanbase.cli.common import stdout
from fanbase.cli.common import write_chunks
from fanbase.clock import utc_now
from fanbase.errors import TooLarge
from fanbase.schemas.fan_csv import ImportReport
from fanbase.schemas.fans import FanFilter
from fanbase.services import fan_csv
from fanbase.services import fan_export
from fanbase.settings import Settings

import_app = typer.Typer(help="Import data from files.", no_args_is_help=True)
export_app = typer.Typer(help="Export data to files.", no_args_is_help=True)

ERRORS_SHOWN = 10


def _run_import(data: bytes, workspace: int | None) -> ImportReport:
    settings = Settings()
    with open_workspace(workspace) as (database, workspace_id):
        console = stderr()
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            # Off when stderr is a file or pipe: a bar would only leave blank lines in logs.
            disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task("import", total=None)

            def report_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            try:
                return fan_csv.import_fans_csv(
                    database,
                    workspace_id,
                    data,
                    now=utc_now(),
                    progress=report_progress,
                    max_bytes=settings.max_csv_bytes,
                )
            except TooLarge as error:
                raise CommandError(f"{error} (set FANBASE_MAX_CSV_BYTES to allow larger files)") from error


@import_app.command("fans")
def import_fans(
    file: Annotated[
        Path, typer.Argument(help="CSV file with a header row; 'email' is required.", exists=True, dir_okay=False)
    ],
    workspace: WorkspaceOption = None,
    errors: Annotated[
        Path | None,
        typer.Option(
            "--errors", help="Write every rejected row (line, email, reason) to this CSV file.", dir_okay=False
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create or update fans from a CSV file, merging by email.

    Columns: email, first_name, last_name, lifecycle_stage, source, country, city, created_at, tags, lists
    (names separated by ; or |) and any declared custom field. Exit code 1 if any row was rejected.
    """
    report = _run_import(file.read_bytes(), workspace)
    rejected = len(report.errors)
    if as_json:
        print_json(report)
        if errors is not None and rejected:
            errors.write_text(fan_export.errors_csv(report.errors), encoding="utf-8", newline="")
        if rejected:
            raise typer.Exit(EXIT_FAILED)
        return
    stdout().print(
        f"{report.rows} rows: {report.created} created, {report.updated} updated, {rejected} rejected.", markup=False
    )
    if not rejected:
        return
    console = stderr()
    if errors is not None:
        errors.write_text(fan_export.errors_csv(report.errors), encoding="utf-8", newline="")
        console.print(f"Rejected rows written to {errors}.", markup=False)
    else:
        for error in report.errors[:ERRORS_SHOWN]:
            console.print(f"line {error.line}: {one_line(error.reason)}", markup=False)
        if rejected > ERRORS_SHOWN:
            console.print(f"… and {rejected - ERRORS_SHOWN} more; use --errors FILE for the full list.", markup=False)
    # Scripts must be able to tell a partial import from a clean one.
    console.print(f"error: {rejected} of {report.rows} rows were rejected (the valid rows were imported)", markup=False)
    raise typer.Exit(EXIT_FAILED)


@export_app.command("fans")
def export_fans(
    workspace: WorkspaceOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.", dir_okay=False)
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only fans with this tag.")] = None,
    list_name: Annotated[str | None, typer.Option("--list", help="Only fans in this list.")] = None,
    list_status: Annotated[str, typer.Option(help="Their status in --list.")] = "subscribed",
    lifecycle_stage: Annotated[str | None, typer.Option(help="subscriber, lead, customer or advocate.")] = None,
    source: Annotated[str | None, typer.Option(help="How fans were acquired, e.g. subscription.")] = None,
    search: Annotated[str | None, typer.Option("--search", "-q", help="Text in email or names.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON Lines instead of CSV: one fan per line, as the API returns fans.")
    ] = False,
) -> None:
    """Export fans as CSV (one column per custom field; cells are safe to open in spreadsheets), or JSON Lines."""
    # FanFilter validates the choices and names the field in its error (handled like every other error).
    fan_filter = FanFilter.model_validate(
        {
            "tag": tag,
            "list": list_name,
            "list_status": list_status,
            "lifecycle_stage": lifecycle_stage,
            "source": source,
            "q": search,
        }
    )
    with open_workspace(workspace) as (database, workspace_id):
        chunks = fan_export.start_export(
            database,
            workspace_id,
            fan_filter,
            form="json_lines" if as_json else "csv",
            actor=command_line_actor(),
            now=utc_now(),
        )
        write_chunks(chunks, out)
    if out is not None:
        stderr().print(f"Exported to {out}.", markup=False)
