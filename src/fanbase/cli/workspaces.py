"""`fanbase workspace …` and `fanbase keys …`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from fanbase.cli.common import JsonOption
from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import command_line_actor
from fanbase.cli.common import id_argument
from fanbase.cli.common import open_database
from fanbase.cli.common import open_workspace
from fanbase.cli.common import print_json
from fanbase.cli.common import print_table
from fanbase.cli.common import short_time
from fanbase.cli.common import stdout
from fanbase.clock import utc_now
from fanbase.schemas.workspaces import ApiKeyCreated
from fanbase.services import workspaces

workspace_app = typer.Typer(help="Create and list workspaces (one per artist, band or label).", no_args_is_help=True)
keys_app = typer.Typer(help="Issue, list and revoke a workspace's API keys.", no_args_is_help=True)

KeyArgument = Annotated[int, id_argument("key", listed_by="fanbase keys list")]


def print_key(key: ApiKeyCreated) -> None:
    console = stdout()
    console.print("API key (shown once — only its hash is stored; keep it somewhere safe):")
    console.print(key.key, style="bold", markup=False)


@workspace_app.command("create")
def create_workspace(
    name: Annotated[str, typer.Argument(help="The artist, band or label.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 currency all money is recorded in.")] = "USD",
    as_json: JsonOption = False,
) -> None:
    """Create a workspace and print its first API key."""
    with open_database() as database:
        created = workspaces.create_workspace(database, name=name, currency=currency, now=utc_now())
    if as_json:
        print_json(created)
        return
    workspace = created.workspace
    stdout().print(f"Created workspace {workspace.id} “{workspace.name}” ({workspace.currency}).", markup=False)
    print_key(created.api_key)


@workspace_app.command("list")
def list_workspaces() -> None:
    """List every workspace in this database."""
    with open_database() as database:
        found = workspaces.list_workspaces(database)
    print_table(
        ("id", "name", "currency", "created"),
        (
            (str(workspace.id), Text(workspace.name), workspace.currency, short_time(workspace.created_at))
            for workspace in found
        ),
    )


@keys_app.command("create")
def create_key(
    workspace: WorkspaceOption = None,
    name: Annotated[str, typer.Option(help="A label to tell keys apart, e.g. 'shop integration'.")] = "cli",
    as_json: JsonOption = False,
) -> None:
    """Issue a new API key for a workspace (printed once)."""
    with open_workspace(workspace) as (database, workspace_id):
        key = workspaces.create_api_key(database, workspace_id, name=name, now=utc_now(), actor=command_line_actor())
    if as_json:
        print_json(key)
        return
    stdout().print(f"Created key {key.id} “{key.name}” ({key.prefix}…) for workspace {workspace_id}.", markup=False)
    print_key(key)


@keys_app.command("list")
def list_keys(workspace: WorkspaceOption = None) -> None:
    """List a workspace's keys (prefixes only: secrets are never stored)."""
    with open_workspace(workspace) as (database, workspace_id):
        keys = workspaces.list_api_keys(database, workspace_id)
    print_table(
        ("id", "name", "prefix", "created", "last used", "revoked"),
        (
            (
                str(key.id),
                Text(key.name),
                f"{key.prefix}…",
                short_time(key.created_at),
                short_time(key.last_used_at),
                short_time(key.revoked_at),
            )
            for key in keys
        ),
    )


@keys_app.command("revoke")
def revoke_key(
    key_id: KeyArgument,
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    with open_workspace(workspace) as (database, workspace_id):
        workspaces.revoke_api_key(database, workspace_id, key_id, now=utc_now(), actor=command_line_actor())
    stdout().print(f"Revoked key {key_id}.")
