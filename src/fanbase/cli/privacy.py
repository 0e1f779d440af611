"""`fanbase audit`, `fanbase fans export-one` and `fanbase suppressions …`: the audit log, a fan's whole data, and
the emails never to be re-created as fans."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from fanbase.cli.common import JsonOption
from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import command_line_actor
from fanbase.cli.common import open_workspace
from fanbase.cli.common import print_json
from fanbase.cli.common import print_table
from fanbase.cli.common import short_time
from fanbase.cli.common import stdout
from fanbase.clock import utc_now
from fanbase.schemas.audit import AUDIT_ACTIONS
from fanbase.schemas.audit import AuditAction
from fanbase.services import audit
from fanbase.services import privacy
from fanbase.services import suppressions

suppressions_app = typer.Typer(
    help="Emails never re-created as fans (an erased fan's, or any you add) until lifted.", no_args_is_help=True
)


def audit_log(
    action: Annotated[
        str | None, typer.Option(help=f"Only this action: {', '.join(AUDIT_ACTIONS)}.", show_default=False)
    ] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=500)] = 50,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who did what, to what, when and from where (newest first): keys, users, sign-ins, exports, erasures,
    webhooks, segment deletions and suppressions."""
    if action is not None and action not in AUDIT_ACTIONS:
        raise typer.BadParameter(
            f"unknown action {action!r}; one of: {', '.join(AUDIT_ACTIONS)}", param_hint="--action"
        )
    chosen: AuditAction | None = action
    with open_workspace(workspace) as (database, workspace_id):
        entries = audit.entries(database, workspace_id, action=chosen, page=page, page_size=page_size)
    if as_json:
        print_json(entries)
        return
    print_table(
        ["when", "who", "what", "to what", "from"],
        (
            [short_time(entry.at), Text(entry.actor), entry.action, Text(entry.target or "—"), entry.client or "—"]
            for entry in entries.items
        ),
    )
    stdout().print(f"{len(entries.items)} of {entries.total} entries.", markup=False)


def export_fan(
    fan_id: Annotated[int, typer.Argument(min=1, help="The fan's id.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Everything held about one fan, as JSON (a subject access request); the export is audited."""
    with open_workspace(workspace) as (database, workspace_id):
        document = privacy.export_fan(database, workspace_id, fan_id, now=utc_now(), actor=command_line_actor())
    print_json(document)


EmailArgument = Annotated[str, typer.Argument(help="The email address.")]


@suppressions_app.command("add")
def add(email: EmailArgument, workspace: WorkspaceOption = None) -> None:
    """Suppress an email: no fan is created for it until the suppression is lifted (only its hash is stored)."""
    with open_workspace(workspace) as (database, workspace_id):
        found = suppressions.add_suppression(database, workspace_id, email, now=utc_now(), actor=command_line_actor())
    stdout().print(f"Suppressed {found.email}.", markup=False)


@suppressions_app.command("show")
def show(email: EmailArgument, workspace: WorkspaceOption = None) -> None:
    """Whether an email is suppressed, why and since when (exit 1 if it is not)."""
    with open_workspace(workspace) as (database, workspace_id):
        found = suppressions.get_suppression(database, workspace_id, email)
    stdout().print(f"{found.email}: suppressed ({found.reason}) since {short_time(found.at)}.", markup=False)


@suppressions_app.command("lift")
def lift(email: EmailArgument, workspace: WorkspaceOption = None) -> None:
    """Lift a suppression: the email may become a fan again."""
    with open_workspace(workspace) as (database, workspace_id):
        suppressions.lift_suppression(database, workspace_id, email, now=utc_now(), actor=command_line_actor())
    stdout().print("Lifted: the email may become a fan again.", markup=False)
