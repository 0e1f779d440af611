"""`fanbase messages …`: compose email to segments, see who it reaches, send or schedule it, follow its recipients;
`fanbase mail …`: the workspace's sender settings and the local outbox."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
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
from fanbase.errors import InvalidInput
from fanbase.schemas.common import require_utc
from fanbase.schemas.messages import MailSettingsPatch
from fanbase.schemas.messages import Message
from fanbase.schemas.messages import MessageIn
from fanbase.schemas.messages import RecipientState
from fanbase.services import messages
from fanbase.settings import Settings

messages_app = typer.Typer(
    help="Messages: email to segments — compose, audience, send, recipients.", no_args_is_help=True
)
mail_app = typer.Typer(help="Mail: the sender's settings and the local outbox.", no_args_is_help=True)

MessageArgument = Annotated[int, typer.Argument(help="The message's id.")]
SegmentOption = Annotated[
    list[int] | None, typer.Option("--segment", "-s", help="A segment id it goes to (repeat for several).")
]
ExcludeOption = Annotated[
    list[int] | None, typer.Option("--exclude", "-x", help="A segment id whose members never get it (repeat).")
]


def _print_message(message: Message) -> None:
    console = stdout()
    console.print(f"Message {message.id}: {message.name} ({message.status})", markup=False)
    console.print(f"  subject:   {message.subject}", markup=False)
    console.print(f"  segments:  {', '.join(map(str, message.segment_ids)) or '-'}", markup=False)
    if message.excluded_segment_ids:
        console.print(f"  excluding: {', '.join(map(str, message.excluded_segment_ids))}", markup=False)
    console.print(f"  list:      {message.list_id or '- (choose one before sending)'}", markup=False)
    if message.send_at:
        console.print(f"  scheduled: {short_time(message.send_at)}", markup=False)
    if message.sent_at:
        console.print(f"  sent:      {short_time(message.sent_at)} to {message.recipients:,}", markup=False)


@messages_app.command("create")
def create_message(
    name: Annotated[str, typer.Option(help="What the message is called in fanbase.")],
    subject: Annotated[str, typer.Option(help='The subject; merge fields too: "Hi {{ first_name }}".')],
    body: Annotated[
        Path, typer.Option(help="A Markdown file: the body, with merge fields.", exists=True, dir_okay=False)
    ],
    segment: SegmentOption = None,
    exclude: ExcludeOption = None,
    list_id: Annotated[int | None, typer.Option("--list", help="The list whose subscribers consented.")] = None,
    preheader: Annotated[str, typer.Option(help="The preview line mail clients show after the subject.")] = "",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a draft message."""
    data = MessageIn.model_validate(
        {
            "name": name,
            "subject": subject,
            "preheader": preheader,
            "body": body.read_text(encoding="utf-8"),
            "segment_ids": segment or (),
            "excluded_segment_ids": exclude or (),
            "list_id": list_id,
        }
    )
    with open_workspace(workspace) as (database, workspace_id):
        created = messages.create_message(database, workspace_id, data, now=utc_now())
    if as_json:
        print_json(created)
        return
    _print_message(created)


@messages_app.command("list")
def list_messages(
    page: Annotated[int, typer.Option(min=1)] = 1, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """Messages, newest first."""
    with open_workspace(workspace) as (database, workspace_id):
        found = messages.list_messages(database, workspace_id, page=page, page_size=50)
    if as_json:
        print_json(found)
        return
    print_table(
        ("id", "name", "status", "recipients", "sent"),
        (
            (str(m.id), Text(m.name), m.status, f"{m.recipients:,}", short_time(m.sent_at or m.send_at))
            for m in found.items
        ),
    )


@messages_app.command("show")
def show_message(
    message_id: MessageArgument,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """A message, and who it reaches (before it is sent) or how its sending went."""
    with open_workspace(workspace) as (database, workspace_id):
        message = messages.get_message(database, workspace_id, message_id)
        audience = (
            messages.audience(database, workspace_id, message_id) if message.status in ("draft", "scheduled") else None
        )
    if as_json:
        print_json({"message": message, "audience": audience})
        return
    _print_message(message)
    if audience is not None:
        stdout().print(f"  audience:  {audience.summary}", markup=False)


@messages_app.command("preview")
def preview_message(
    message_id: MessageArgument,
    fan: Annotated[
        int | None, typer.Option(help="Whose merge fields to use (default: none, so defaults show).")
    ] = None,
    html: Annotated[bool, typer.Option("--html", help="Print the HTML instead of the text.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """The message as a fan would get it."""
    with open_workspace(workspace) as (database, workspace_id):
        rendered = messages.preview(
            database, workspace_id, message_id, fan_id=fan, base_url=Settings().resolved_public_url()
        )
    console = stdout()
    console.print(f"Subject: {rendered.subject}", markup=False)
    console.print()
    console.print(rendered.html if html else rendered.text, markup=False, highlight=False)


def _at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return require_utc(datetime.fromisoformat(value))
    except ValueError as error:
        raise InvalidInput(str(error), field="--at") from None


@messages_app.command("send")
def send_message(
    message_id: MessageArgument,
    at: Annotated[
        str | None, typer.Option(help="Schedule instead: an ISO time with its zone, 2026-12-24T18:00Z.")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Send now (the reachable fans are frozen as its recipients; the worker or server delivers them), or schedule."""
    when = _at(at)
    with open_workspace(workspace) as (database, workspace_id):
        sent = messages.send_message(
            database, workspace_id, message_id, at=when, now=utc_now(), actor=command_line_actor()
        )
    if sent.status == "scheduled":
        stdout().print(f"Message {sent.id} is scheduled for {short_time(sent.send_at)}.", markup=False)
        return
    where = "over SMTP" if Settings().smtp_url else "to the local outbox (no FANBASE_SMTP_URL)"
    stdout().print(f"Message {sent.id} is going to {sent.recipients:,} recipients, {where}.", markup=False)


@messages_app.command("cancel")
def cancel_message(message_id: MessageArgument, workspace: WorkspaceOption = None) -> None:
    """Cancel a scheduled message, or stop one being sent."""
    with open_workspace(workspace) as (database, workspace_id):
        cancelled = messages.cancel_message(
            database, workspace_id, message_id, now=utc_now(), actor=command_line_actor()
        )
    stdout().print(f"Message {cancelled.id} is cancelled.", markup=False)


@messages_app.command("recipients")
def list_recipients(
    message_id: MessageArgument,
    state: Annotated[RecipientState | None, typer.Option(help="Only recipients in this state.")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who it went to and what became of each."""
    with open_workspace(workspace) as (database, workspace_id):
        found = messages.recipients(database, workspace_id, message_id, state=state, page=page, page_size=100)
    if as_json:
        print_json(found)
        return
    print_table(
        ("fan", "email", "state", "sent", "error"),
        ((str(r.fan_id), Text(r.email), r.state, short_time(r.sent_at), Text(r.error or "")) for r in found.items),
    )
    stdout().print(f"{found.total:,} recipients (page {found.page}).", markup=False)


@mail_app.command("settings")
def mail_settings(
    sender_name: Annotated[str | None, typer.Option(help="The From name.")] = None,
    sender_address: Annotated[str | None, typer.Option(help="The From address.")] = None,
    tracking: Annotated[
        bool | None, typer.Option("--tracking/--no-tracking", help="Open pixel and click links.")
    ] = None,
    rate: Annotated[int | None, typer.Option(help="At most this many messages a second.", min=1, max=1000)] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the workspace's mail settings, changing those given."""
    patch = MailSettingsPatch.model_validate(
        {
            key: value
            for key, value in {
                "sender_name": sender_name,
                "sender_address": sender_address,
                "tracking": tracking,
                "send_rate": rate,
            }.items()
            if value is not None
        }
    )
    with open_workspace(workspace) as (database, workspace_id):
        settings = messages.update_settings(database, workspace_id, patch, now=utc_now())
    if as_json:
        print_json(settings)
        return
    console = stdout()
    console.print(f"From:     {settings.sender_name} <{settings.sender_address}>", markup=False)
    console.print(f"Tracking: {'on' if settings.tracking else 'off'}", markup=False)
    console.print(f"Rate:     {settings.send_rate} messages a second", markup=False)


@mail_app.command("outbox")
def mail_outbox(
    mail_id: Annotated[int | None, typer.Argument(help="Print this mail whole, as it would have been sent.")] = None,
    message: Annotated[int | None, typer.Option(help="Only this message's mail.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """The local outbox (mail kept, not sent, while no FANBASE_SMTP_URL is set): a list, or one mail whole."""
    with open_workspace(workspace) as (database, workspace_id):
        if mail_id is not None:
            raw = messages.outbox_raw(database, workspace_id, mail_id)
            stdout().print(raw.decode("ascii", errors="replace"), markup=False, highlight=False)
            return
        found = messages.outbox(database, workspace_id, message_id=message, page=1, page_size=100)
    print_table(
        ("id", "message", "to", "subject", "stored"),
        (
            (str(m.id), str(m.message_id), Text(m.to_address), Text(m.subject), short_time(m.stored_at))
            for m in found.items
        ),
    )
    stdout().print(f"{found.total:,} mails in the outbox.", markup=False)
