"""`fanbase user …`: dashboard users (each belongs to one workspace)."""

from __future__ import annotations

from typing import Annotated

import typer

from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import command_line_actor
from fanbase.cli.common import open_workspace
from fanbase.cli.common import short_time
from fanbase.cli.common import stdout
from fanbase.clock import utc_now
from fanbase.services import users

users_app = typer.Typer(help="Dashboard users: who can sign in to a workspace.", no_args_is_help=True)


@users_app.command("create")
def create_user(
    email: Annotated[str, typer.Argument(help="The user's email; they sign in with it.")],
    workspace: WorkspaceOption = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password: Annotated[
        str | None,
        typer.Option(
            help="The password (at least 8 characters); asked for, hidden, when not given.", show_default=False
        ),
    ] = None,
) -> None:
    """Create a dashboard user in a workspace."""
    with open_workspace(workspace) as (database, workspace_id):
        if password is None:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        user = users.create_user(
            database,
            workspace_id,
            email=email,
            password=password,
            name=name,
            now=utc_now(),
            actor=command_line_actor(),
        )
    stdout().print(f"Created user {user.id} {user.email} in workspace {workspace_id}.", markup=False)


@users_app.command("list")
def list_users(workspace: WorkspaceOption = None) -> None:
    """The workspace's dashboard users."""
    with open_workspace(workspace) as (database, workspace_id):
        found = users.list_users(database, workspace_id)
    console = stdout()
    for user in found:
        console.print(f"{user.id}\t{user.email}\t{user.name or ''}\t{short_time(user.created_at)}", markup=False)
