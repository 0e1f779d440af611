"""The outbox: with no SMTP relay configured (``FANBASE_SMTP_URL``), mail is kept here instead of sent, each fan's
mail exactly as it would have gone out. A mail's own page shows it rendered (its HTML, its text) and raw."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from nicegui import ui

from fanbase.schemas.common import Page
from fanbase.schemas.messages import OutboxMail
from fanbase.schemas.users import SignedInUser
from fanbase.services import messages
from fanbase.web.components.common import PagedTable
from fanbase.web.components.common import column
from fanbase.web.components.common import dashboard_page
from fanbase.web.components.common import found_or_none
from fanbase.web.components.common import link_cell
from fanbase.web.components.common import show_record
from fanbase.web.components.mail_view import MailView
from fanbase.web.components.mail_view import read_stored
from fanbase.web.layout import frame
from fanbase.web.layout import page_title
from fanbase.web.layout import time_text
from fanbase.web.state import current

PAGE_SIZE = 25
NAMED_MESSAGES = 200  # the newest messages offered in the filter
OUTBOX_COLUMNS: list[dict[str, Any]] = [
    column("to", "To"),
    column("subject", "Subject"),
    column("message", "Message", is_hidden_when_narrow=True),
    column("stored", "When", is_hidden_when_narrow=True),
]


def relay_note() -> str:
    smtp_url = current().settings.smtp_url
    if smtp_url is None:
        return (
            "No SMTP relay is set (FANBASE_SMTP_URL), so mail is kept here instead of sent: exactly what each fan "
            "would get. Set FANBASE_SMTP_URL to an SMTP relay to send it for real."
        )
    host = urlsplit(smtp_url).hostname or "your relay"
    return f"Mail goes out through your SMTP relay ({host}). The outbox keeps what was sent while none was set."


def _notice(text: str, *, testid: str) -> None:
    with ui.row().classes("w-full items-start gap-2 no-wrap q-pa-sm rounded-borders bg-indigo-1"):
        ui.icon("info", color="indigo-8").classes("q-mt-xs")
        ui.label(text).props(f'data-testid="{testid}"')


class _MessageNames:
    """Message id → name, for the outbox's rows: the newest read once, any older one when it shows up."""

    def __init__(self, user: SignedInUser) -> None:
        self.user = user
        state = current()
        newest = messages.list_messages(state.database, user.workspace_id, page=1, page_size=NAMED_MESSAGES)
        self.names = {message.id: message.name for message in newest.items}
        self.sent = {message.id: message.name for message in newest.items if message.recipients}

    def __getitem__(self, message_id: int) -> str:
        if message_id not in self.names:
            state = current()
            found = found_or_none(lambda: messages.get_message(state.database, self.user.workspace_id, message_id))
            self.names[message_id] = found.name if found else "—"
        return self.names[message_id]


@dashboard_page("/messages/outbox", title="Outbox")
def outbox_page(user: SignedInUser, message: int | None = None) -> None:
    state = current()
    names = _MessageNames(user)
    with frame(user, active="messages", title="Outbox", back=("← Messages", "/messages")):
        page_title("Outbox", subtitle="Each fan's mail as it would have gone out, newest first.")
        _notice(relay_note(), testid="outbox-note")
        chosen = (
            ui.select(
                {None: "Every message", **names.sent},
                value=message if message in names.sent else None,
                label="Message",
                with_input=True,
            )
            .props('dense outlined options-dense data-testid="outbox-message"')
            .classes("w-full")
            .style("max-width: 24rem")
        )

        def load(page: int, size: int) -> Page[OutboxMail]:
            return messages.outbox(
                state.database, user.workspace_id, message_id=chosen.value, page=page, page_size=size
            )

        def row(mail: OutboxMail) -> dict[str, Any]:
            return {
                "id": mail.id,
                "to": mail.to_address,
                "subject": mail.subject,
                "message": names[mail.message_id],
                "message_id": mail.message_id,
                "stored": time_text(mail.stored_at),
            }

        table = PagedTable(
            load,
            row=row,
            columns=OUTBOX_COLUMNS,
            page_size=PAGE_SIZE,
            testid="outbox-table",
            empty="Nothing in the outbox: mail sent while no SMTP relay is set shows up here.",
        )
        # On a phone the Message and When columns are hidden: said under the address.
        when_narrow = '<div class="fb-muted text-caption lt-sm">{{ props.row.message }} · {{ props.row.stored }}</div>'
        table.table.add_slot("body-cell-to", link_cell("/messages/outbox/", under=when_narrow))
        table.table.add_slot("body-cell-message", link_cell("/messages/", key="message_id"))

        async def show_chosen() -> None:
            if await table.refresh(page=1):
                address = f"/messages/outbox?message={chosen.value}" if chosen.value else "/messages/outbox"
                ui.navigate.history.replace(address)

        chosen.on_value_change(show_chosen)
        ui.timer(0.01, table.refresh, once=True)


@dashboard_page("/messages/outbox/{mail_id:int}", title="Mail")
def outbox_mail_page(user: SignedInUser, mail_id: int) -> None:
    raw = found_or_none(lambda: messages.outbox_raw(current().database, user.workspace_id, mail_id))
    with frame(user, active="messages", title="Mail", back=("← Outbox", "/messages/outbox")):
        show_record(raw, _show_mail, missing="This mail is not in your workspace's outbox.")


def _show_mail(raw: bytes) -> None:
    """A mail of the outbox as its fan would see it, with its headers."""
    mail = read_stored(raw)
    headers = dict(mail.headers)
    page_title(headers.get("Subject", "(no subject)"), subtitle=f"To {headers.get('To', '—')}")
    with ui.card().classes("w-full gap-2").props('data-testid="mail"'):
        with ui.grid(columns="auto 1fr").classes("w-full gap-x-4 gap-y-1").props('data-testid="mail-headers"'):
            for name, value in mail.headers:
                ui.label(name).classes("fb-muted")
                ui.label(value).classes("text-body2").style("overflow-wrap: anywhere; min-width: 0")
        _notice(
            "Images do not load and links do not work here, so looking at a mail counts as neither an open "
            "nor a click.",
            testid="mail-view-note",
        )
        MailView(html=mail.html, text=mail.text, raw=mail.raw, testid="mail")
