"""`fanbase webhooks …`: subscribe URLs to events, list and disable them, inspect deliveries."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import command_line_actor
from fanbase.cli.common import id_argument
from fanbase.cli.common import open_workspace
from fanbase.cli.common import print_table
from fanbase.cli.common import short_time
from fanbase.cli.common import stdout
from fanbase.clock import utc_now
from fanbase.schemas.webhooks import WEBHOOK_EVENTS
from fanbase.schemas.webhooks import WebhookIn
from fanbase.services import webhooks
from fanbase.settings import Settings

webhooks_app = typer.Typer(
    help="Webhooks: POST signed events (segment entered/exited, tag added/removed, list subscribed/unsubscribed).",
    no_args_is_help=True,
)

WebhookArgument = Annotated[int, id_argument("webhook", listed_by="fanbase webhooks list")]


@webhooks_app.command("add")
def add_webhook(
    url: Annotated[str, typer.Argument(help="Where to POST events (http or https).")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            "-e",
            help=f"An event to send (repeat for several; default all): {', '.join(WEBHOOK_EVENTS)}.",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Subscribe a URL to events and print its signing secret (shown once)."""
    data = WebhookIn.model_validate({"url": url, "events": event or list(WEBHOOK_EVENTS)})
    with open_workspace(workspace) as (database, workspace_id):
        created = webhooks.create_webhook(
            database,
            workspace_id,
            data,
            now=utc_now(),
            allow_private_targets=Settings().allow_private_webhook_targets,
            actor=command_line_actor(),
        )
    console = stdout()
    console.print(f"Created webhook {created.id} → {created.url} for {', '.join(created.events)}.", markup=False)
    console.print("Signing secret (shown once; verify each request's Fanbase-Webhook-Signature with it):")
    console.print(created.secret, style="bold", markup=False)


@webhooks_app.command("list")
def list_webhooks(workspace: WorkspaceOption = None) -> None:
    """The workspace's webhooks, disabled ones included."""
    with open_workspace(workspace) as (database, workspace_id):
        found = webhooks.list_webhooks(database, workspace_id)
    print_table(
        ("id", "url", "events", "created", "disabled"),
        (
            (
                str(webhook.id),
                Text(webhook.url),
                ", ".join(webhook.events),
                short_time(webhook.created_at),
                short_time(webhook.disabled_at),
            )
            for webhook in found
        ),
    )


@webhooks_app.command("disable")
def disable_webhook(
    webhook_id: WebhookArgument,
    workspace: WorkspaceOption = None,
) -> None:
    """Stop sending to a webhook (pending deliveries included)."""
    with open_workspace(workspace) as (database, workspace_id):
        webhooks.disable_webhook(database, workspace_id, webhook_id, now=utc_now(), actor=command_line_actor())
    stdout().print(f"Disabled webhook {webhook_id}.")


@webhooks_app.command("deliveries")
def list_deliveries(
    webhook_id: Annotated[int, typer.Argument(help="The webhook's id.")],
    workspace: WorkspaceOption = None,
    limit: Annotated[int, typer.Option(help="How many of the most recent deliveries.", min=1, max=500)] = 50,
) -> None:
    """A webhook's most recent deliveries and their outcome."""
    with open_workspace(workspace) as (database, workspace_id):
        page = webhooks.list_deliveries(database, workspace_id, webhook_id, page=1, page_size=limit)
    print_table(
        ("event", "type", "status", "attempts", "delivered", "next attempt", "last error"),
        (
            (
                delivery.event_id,
                delivery.type,
                delivery.status,
                str(delivery.attempts),
                short_time(delivery.delivered_at),
                short_time(delivery.next_attempt_at),
                Text(delivery.last_error or ""),
            )
            for delivery in page.items
        ),
    )
    stdout().print(f"{len(page.items)} of {page.total} deliveries.")
