"""What every command shares: settings → database, the schema check, workspace selection, consoles, tables, dates.

Commands read the clock (``utc_now``) and pass ``now=`` to services; they never run SQL themselves.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated
from typing import Any

import typer
from pydantic_core import to_json
from rich.console import Console
from rich.console import RenderableType
from rich.table import Table

from fanbase.schemas.audit import Actor
from fanbase.services import schema
from fanbase.services import workspaces
from fanbase.services.unit_of_work import Database
from fanbase.services.unit_of_work import open_database as open_configured
from fanbase.settings import Settings

# Exit codes, one meaning each, so a script can tell them apart (README, "The command line").
EXIT_FAILED = 1  # the command could not do its work: not found, conflict, database, rows rejected by an import
EXIT_USAGE = 2  # the command line or its input is wrong: an unknown option, a bad value, which workspace
EXIT_DRIFT = 3  # `segments verify` found stored membership that differs from the rules


class CommandError(typer.TyperException):
    """A problem the user can fix (schema not migrated, a file too large): one line on stderr, exit code 1."""


class UsageError(CommandError):
    """A mistake in the command line (options that exclude each other, which workspace): exit code 2."""

    exit_code = EXIT_USAGE


WorkspaceOption = Annotated[
    int | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="FANBASE_WORKSPACE",
        help="Workspace id (default: $FANBASE_WORKSPACE, or the only workspace if there is exactly one).",
        show_default=False,
    ),
]


JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON (for scripts) instead of text.")]


def id_argument(what: str, *, listed_by: str) -> Any:
    """A positional id whose help says where to find one: ``RateArgument = Annotated[int, id_argument("rate",
    listed_by="fanbase rates list")]``."""
    return typer.Argument(help=f"The {what}'s id (see `{listed_by}`).")


def command_line_actor() -> Actor:
    """Who acts from the command line, for the audit log: the operating system's user."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(kind="command_line", name=name)


def print_json(value: Any) -> None:
    """A result (records, lists and dicts of them) as one JSON document on stdout, as the API would answer it."""
    sys.stdout.write(to_json(value).decode() + "\n")
    sys.stdout.flush()


def stdout() -> Console:
    # Made per call, not at import: the test runner swaps sys.stdout while a command runs.
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def open_database(*, check_schema: bool = True) -> Iterator[Database]:
    """The configured database; with ``check_schema``, refuse to work on a schema older than this code."""
    settings = Settings()
    database = open_configured(settings.resolved_database_url())
    try:
        if check_schema:
            require_current_schema(database)
        yield database
    finally:
        database.dispose()


@contextmanager
def open_workspace(workspace_id: int | None) -> Iterator[tuple[Database, int]]:
    """The configured database (its schema checked) and the workspace a command works in (see
    ``resolve_workspace``)."""
    with open_database() as database:
        yield database, resolve_workspace(database, workspace_id)


def require_current_schema(database: Database) -> None:
    # Migrating implicitly from any command could upgrade a production schema under a running older server;
    # only `db upgrade`, `serve` and `demo` migrate, the rest ask for it.
    revisions = schema.revisions(database)
    if revisions.is_current:
        return
    where, current, head = database.location, revisions.current, revisions.head
    if current is None:
        raise CommandError(f"the database {where} has no fanbase schema yet; run `fanbase db upgrade` first")
    raise CommandError(
        f"the database {where} is at schema {current}, this fanbase needs {head}; run `fanbase db upgrade`"
    )


def resolve_workspace(database: Database, workspace_id: int | None) -> int:
    if workspace_id is not None:
        return workspaces.get_workspace(database, workspace_id).id
    found = workspaces.list_workspaces(database)
    if len(found) == 1:
        return found[0].id
    if not found:
        raise CommandError(
            "there is no workspace yet; create one with `fanbase workspace create NAME` or `fanbase demo`"
        )
    raise UsageError(
        f"there are {len(found)} workspaces; choose one with --workspace ID or FANBASE_WORKSPACE "
        "(see `fanbase workspace list`)"
    )


def print_table(columns: Sequence[str], rows: Iterable[Sequence[RenderableType]]) -> None:
    """A table on stdout: one row per item of ``rows``, a cell per column."""
    table = Table(*columns)
    for row in rows:
        table.add_row(*row)
    stdout().print(table)


def short_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def one_line(text: str) -> str:
    """Error output is one line per problem: fold any line breaks a value carried in."""
    return " ".join(text.split())


def write_chunks(chunks: Iterable[str], out: Path | None) -> None:
    """An export's text, chunk by chunk, to the file ``out`` (UTF-8, lines as written) or to standard output."""
    if out is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    with out.open("w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)
