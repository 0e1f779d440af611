"""The `fanbase` command line: Typer commands over the services.

Errors are handled in one place (``FanbaseGroup.main``): an expected error — a domain error, invalid input, a
usage mistake, an unreachable database — is one line on stderr starting with ``error:`` and a non-zero exit code
(1; 2 for a command-line usage mistake, as Click does). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from collections.abc import Sequence
from typing import Annotated
from typing import Any

import typer
import uvicorn
from pydantic import ValidationError
from typer.core import TyperGroup

from fanbase.cli import history as cli_history
from fanbase.cli import privacy as cli_privacy
from fanbase.cli.analytics import analytics_app
from fanbase.cli.common import EXIT_FAILED
from fanbase.cli.common import EXIT_USAGE
from fanbase.cli.common import CommandError
from fanbase.cli.common import one_line
from fanbase.cli.common import open_database
from fanbase.cli.common import stderr
from fanbase.cli.common import stdout
from fanbase.cli.fan_csv import export_app
from fanbase.cli.fan_csv import import_app
from fanbase.cli.fans import fans_app
from fanbase.cli.messages import mail_app
from fanbase.cli.messages import messages_app
from fanbase.cli.sales import rates_app
from fanbase.cli.segments import segments_app
from fanbase.cli.users import users_app
from fanbase.cli.verify import verify
from fanbase.cli.webhooks import webhooks_app
from fanbase.cli.worker import worker
from fanbase.cli.workspaces import keys_app
from fanbase.cli.workspaces import print_key
from fanbase.cli.workspaces import workspace_app
from fanbase.clock import utc_now
from fanbase.errors import FanbaseError
from fanbase.errors import InvalidInput
from fanbase.errors import InvalidRule
from fanbase.schemas.common import plain_message
from fanbase.services import demo
from fanbase.services import segments
from fanbase.services import users
from fanbase.services import workspaces
from fanbase.services.schema import upgrade_schema
from fanbase.services.unit_of_work import Database
from fanbase.services.unit_of_work import DatabaseError
from fanbase.settings import Settings


def _validation_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        message = plain_message(item.get("msg", "invalid"))
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


class FanbaseGroup(TyperGroup):
    """The root command: runs the command non-standalone so every expected error is reported the same way."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        code = 0
        message: str | None = None
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = result if isinstance(result, int) else 0
        except typer.TyperException as error:
            code = getattr(error, "exit_code", 1)
            if type(error).__name__ != "NoArgsIsHelpError":  # its help text is already printed
                message = error.format_message()
                context = getattr(error, "ctx", None)
                if context is not None and code == 2:
                    message += f" (see `{context.command_path} --help`)"
        except typer.Abort:
            code, message = EXIT_FAILED, "aborted"
        except (InvalidInput, InvalidRule) as error:
            code, message = EXIT_USAGE, str(error)
        except FanbaseError as error:
            code, message = EXIT_FAILED, str(error)
        except ValidationError as error:
            code, message = EXIT_USAGE, _validation_message(error)
        except DatabaseError as error:
            code, message = (
                EXIT_FAILED,
                f"database error: {str(error.orig).strip().splitlines()[0] if error.orig else error}",
            )
        if message is not None:
            stderr().print(f"error: {one_line(message)}", markup=False)
        if not standalone_mode:
            return code
        sys.exit(code)


app = typer.Typer(
    cls=FanbaseGroup,
    name="fanbase",
    help="fanbase — a fan CRM whose heart is segmentation.",
    no_args_is_help=True,
    # Locals can hold keys and database passwords: never print them in a traceback.
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
# The command groups by name, in the order `fanbase --help` lists them.
COMMAND_GROUPS: dict[str, typer.Typer] = {
    "workspace": workspace_app,
    "keys": keys_app,
    "import": import_app,
    "export": export_app,
    "fans": fans_app,
    "segments": segments_app,
    "db": db_app,
    "user": users_app,
    "webhooks": webhooks_app,
    "analytics": analytics_app,
    "messages": messages_app,
    "mail": mail_app,
    "rates": rates_app,
    "suppressions": cli_privacy.suppressions_app,
}
# Commands written beside the code they share with others, each joined to its group: (group, name, command).
JOINED_COMMANDS: tuple[tuple[typer.Typer, str, Callable[..., None]], ...] = (
    (app, "worker", worker),
    (app, "audit", cli_privacy.audit_log),
    (fans_app, "export-one", cli_privacy.export_fan),
    (segments_app, "verify", verify),
    (segments_app, "history", cli_history.segment_history),
    (segments_app, "sizes", cli_history.segment_sizes),
    (segments_app, "members-as-of", cli_history.members_as_of),
    (fans_app, "segments", cli_history.fan_segments),
    (fans_app, "history", cli_history.fan_history),
)
for name, group in COMMAND_GROUPS.items():
    app.add_typer(group, name=name)
for group, name, command in JOINED_COMMANDS:
    group.command(name=name)(command)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to this version of fanbase (safe to repeat)."""
    with open_database(check_schema=False) as database:
        revision = upgrade_schema(database)
        where = database.location
    stdout().print(f"Database {where} is at schema {revision}.", markup=False)


@app.command("demo")
def create_demo(
    fans: Annotated[int, typer.Option(help="How many fans.", min=1, max=demo.MAX_DEMO_FANS)] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 7,
) -> None:
    """Create a demo workspace full of realistic fans, orders, events, tags and lists."""
    with open_database(check_schema=False) as database:
        upgrade_schema(database)
        stderr().print("creating demo data…")
        created = demo.create_demo_workspace(database, now=utc_now(), seed=seed, fans=fans)
    workspace = created.workspace
    stdout().print(f"Created workspace {workspace.id} “{workspace.name}” with {fans} fans.", markup=False)
    print_key(created.api_key)


@app.command("serve")
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on [default: $FANBASE_HOST or 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: $FANBASE_PORT or 8000]", min=1, max=65535)] = None,
    with_demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Create the demo workspace if missing; print a fresh API key and a dashboard sign-in for it."
        ),
    ] = False,
) -> None:
    """Run the API server (migrating the database first)."""
    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    # The port first: on a busy one, nothing is written (no key issued, no demo password reset).
    listening = _listen(host, port)
    with open_database(check_schema=False) as database:
        upgrade_schema(database)
        if with_demo:
            _prepare_demo(database, host=host, port=port)
    # A factory, so the server process builds its app (and database) from the same environment; the time-driven
    # scheduler and webhook delivery run inside it.
    os.environ["FANBASE_RUN_SCHEDULER"] = "true"
    config = uvicorn.Config("fanbase.api.app:create_app", factory=True, host=host, port=port)
    uvicorn.Server(config).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``, held from before any set-up until the server takes it over (so the
    port cannot be taken in between); a clear error and exit code 1 when it cannot be had."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(2048)
    except OSError as error:
        raise CommandError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); another program (or another fanbase) uses "
            f"it. Pick another port with FANBASE_PORT, e.g. FANBASE_PORT={port + 1} make run, or fanbase serve "
            f"--port {port + 1}"
        ) from None
    return listening


DEMO_KEY_NAME = "serve --demo"


def _prepare_demo(database: Database, *, host: str, port: int) -> None:
    now = utc_now()
    existing = [w for w in workspaces.list_workspaces(database) if w.name == demo.DEMO_WORKSPACE_NAME]
    if existing:
        workspace = existing[0]
    else:
        stderr().print("creating demo data…")
        workspace = demo.create_demo_workspace(database, now=now).workspace
        for template in segments.list_templates():  # a full Segment Manage page from the first start
            if template.name not in {segment.name for segment in segments.list_segments(database, workspace.id)}:
                segments.create_from_template(database, workspace.id, template.key, now=now)
        demo.create_demo_message(database, workspace.id, now=now)  # the sender puts it in the outbox
    # Keys are stored hashed, so an earlier key cannot be shown again: every start issues a fresh one, and revokes
    # the one the previous start printed.
    key = workspaces.replace_api_key(database, workspace.id, name=DEMO_KEY_NAME, now=now)
    console = stdout()
    console.print(f"Demo workspace {workspace.id} “{workspace.name}”.", markup=False)
    console.print(f"API docs: http://{host}:{port}/docs", markup=False)
    print_key(key)
    console.print(f'Try: curl -H "Authorization: Bearer {key.key}" http://{host}:{port}/api/v1/fans', markup=False)
    email, password = users.ensure_demo_user(database, workspace.id, now=now)
    console.print(f"Dashboard: http://{host}:{port}/  — sign in as {email} with password {password}", markup=False)
