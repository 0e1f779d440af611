"""`fanbase fans …`: maintenance on fans."""

from __future__ import annotations

import typer

from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import open_workspace
from fanbase.cli.common import stdout
from fanbase.services import fans

fans_app = typer.Typer(help="Maintenance on fans.", no_args_is_help=True)


@fans_app.command("recompute")
def recompute(workspace: WorkspaceOption = None) -> None:
    """Rebuild every fan's derived figures (total spent, purchases, last activity) from orders and events."""
    with open_workspace(workspace) as (database, workspace_id):
        count = fans.recompute_figures(database, workspace_id)
    stdout().print(f"Recomputed the figures of {count} fans in workspace {workspace_id}.")
