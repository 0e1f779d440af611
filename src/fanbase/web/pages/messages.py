"""Messages: the list (newest first), writing one (``/messages/new``) and a message's page: edit it, see who it
reaches, preview it as a fan, send it now or at a time, cancel it; once sent, its results and recipients."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from pydantic import ValidationError

from fanbase.errors import FanbaseError
from fanbase.errors import InvalidInput
from fanbase.schemas.common import NAME_LENGTH
from fanbase.schemas.common import Page
from fanbase.schemas.messages import Message
from fanbase.schemas.messages import MessageIn
from fanbase.schemas.messages import MessagePatch
from fanbase.schemas.users import SignedInUser
from fanbase.services import custom_fields
from fanbase.services import lists
from fanbase.services import messages
from fanbase.web import data
from fanbase.web.components.common import PagedTable
from fanbase.web.components.common import action_button
from fanbase.web.components.common import column
from fanbase.web.components.common import cut_caption
from fanbase.web.components.common import dashboard_page
from fanbase.web.components.common import found_or_none
from fanbase.web.components.common import link_cell
from fanbase.web.components.common import show_record
from fanbase.web.components.mail_settings import open_mail_settings
from fanbase.web.components.message_audience import AudienceCard
from fanbase.web.components.message_audience import PreviewCard
from fanbase.web.components.message_form import MessageForm
from fanbase.web.components.message_form import problems_of
from fanbase.web.components.message_results import RecipientsCard
from fanbase.web.components.message_results import StatsCard
from fanbase.web.components.message_sending import confirm_cancel
from fanbase.web.components.message_sending import confirm_send
from fanbase.web.components.message_sending import open_schedule
from fanbase.web.layout import frame
from fanbase.web.layout import page_title
from fanbase.web.layout import time_text
from fanbase.web.state import actor_of
from fanbase.web.state import current
from fanbase.web.state import in_thread
from fanbase.web.state import in_workspace
from fanbase.web.words import MESSAGE_STATUS
from fanbase.web.words import MESSAGE_STATUS_COLORS

PAGE_SIZE = 25
POLL_SECONDS = 3.0  # a message page reads its status and results again this often while it can change
EDITABLE = ("draft", "scheduled")
LIST_COLUMNS: list[dict[str, Any]] = [
    column("name", "Message"),
    column("status", "Status"),
    column("recipients", "Recipients", align="right", is_count=True, is_hidden_when_narrow=True),
    column("when", "When", is_hidden_when_narrow=True),
    column("segments", "To", is_hidden_when_narrow=True),
]


def when_text(message: Message) -> str:
    """When it went, goes or was last touched, by its status."""
    match message.status:
        case "sent" if message.sent_at:
            return f"Sent {time_text(message.sent_at)}"
        case "sending" if message.sent_at:
            return f"Sending since {time_text(message.sent_at)}"
        case "scheduled" if message.send_at:
            return f"Scheduled for {time_text(message.send_at)}"
        case "cancelled":
            return f"Cancelled {time_text(message.updated_at)}"
    return f"Edited {time_text(message.updated_at)}"


def _list_row(message: Message, segment_names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": message.id,
        "name": message.name,
        "subject": message.subject,
        "status": MESSAGE_STATUS.get(message.status, message.status),
        "color": MESSAGE_STATUS_COLORS.get(message.status, "grey-7"),
        "recipients": message.recipients if message.recipients or message.status in ("sending", "sent") else None,
        "when": when_text(message),
        # On a phone the When and Recipients columns are hidden: the status cell says both.
        "summary": _status_line(message) if message.status != "draft" else when_text(message),
        "segments": (
            f"Each fan entering {segment_names.get(message.on_entry_segment_id, '?')}"
            if message.on_entry_segment_id is not None
            else ", ".join(segment_names.get(i, "?") for i in message.segment_ids) or "—"
        ),
    }


def _list_actions(user: SignedInUser) -> None:
    """Outbox and Mail settings (icons alone on a phone, named by their tooltip and label), and New message."""
    for label, icon, testid, action in (
        ("Outbox", "outbox", "open-outbox", lambda: ui.navigate.to("/messages/outbox")),
        ("Mail settings", "settings", "mail-settings", lambda: open_mail_settings(user)),
    ):
        # The label is the button's content, hidden below 600 px by Quasar's gt-xs (a prop's "$q.screen" is not
        # evaluated where NiceGUI reads props: it threw, and the buttons had no label at any width).
        with ui.button(icon=icon, on_click=action).props(
            f'flat no-caps color="indigo-8" aria-label="{label}" data-testid="{testid}"'
        ) as button:
            ui.label(label).classes("gt-xs q-ml-sm")
        button.tooltip(label)
    action_button(
        "New message", icon="add", on_click=lambda: ui.navigate.to("/messages/new"), testid="new-message", is_main=True
    )


@dashboard_page("/messages", title="Messages")
def messages_page(user: SignedInUser) -> None:
    state = current()
    segment_names = {segment.id: segment.name for segment in data.all_segments(user.workspace_id)}
    with frame(user, active="messages", title="Messages"):
        with ui.row().classes("w-full items-center gap-2"):
            page_title("Messages", subtitle="Email to your segments: who it reaches, how it looks, what fans did.")
            ui.space()
            _list_actions(user)

        def load(page: int, size: int) -> Page[Message]:
            return messages.list_messages(state.database, user.workspace_id, page=page, page_size=size)

        table = PagedTable(
            load,
            row=lambda message: _list_row(message, segment_names),
            columns=LIST_COLUMNS,
            page_size=PAGE_SIZE,
            testid="messages-table",
            empty="No messages yet: write one with New message.",
        )
        table.table.add_slot("body-cell-name", link_cell("/messages/", under=cut_caption("subject"), is_name=True))
        table.table.add_slot(
            "body-cell-status",
            '<q-td :props="props"><q-badge :color="props.row.color">{{ props.value }}</q-badge>'
            '<div class="fb-muted text-caption lt-sm">{{ props.row.summary }}</div></q-td>',
        )
        ui.timer(0.01, table.refresh, once=True)


@dashboard_page("/messages/new", title="New message")
def new_message_page(user: SignedInUser, segment: int | None = None) -> None:
    with frame(user, active="messages", title="New message", back=("← Messages", "/messages")):
        page_title("New message")
        _MessagePage(user, None, chosen_segment=segment)


@dashboard_page("/messages/{message_id:int}", title="Message")
def message_page(user: SignedInUser, message_id: int) -> None:
    message = found_or_none(lambda: messages.get_message(current().database, user.workspace_id, message_id))
    with frame(user, active="messages", title=message.name if message else "Message", back=("← Messages", "/messages")):
        show_record(
            message, lambda found: _MessagePage(user, found), missing="This message does not exist in your workspace."
        )


def _status_line(message: Message) -> str:
    match message.status:
        case "draft":
            return f"Draft, saved {time_text(message.updated_at)}"
        case "sent" | "sending":
            fans = f"{message.recipients:,} fan{'' if message.recipients == 1 else 's'}"
            if message.on_entry_segment_id is not None:
                return f"{when_text(message)}, on entry: {fans} so far"
            return f"{when_text(message)} to {fans}"
    return when_text(message)


class _MessagePage:
    """A message's page, rebuilt whole when its status changes (a draft's controls become a sent one's results)."""

    def __init__(self, user: SignedInUser, message: Message | None, *, chosen_segment: int | None = None) -> None:
        self.user = user
        self.message = message
        self.chosen_segment = chosen_segment
        state = current()
        workspace_id = user.workspace_id
        self.segment_names = {segment.id: segment.name for segment in data.all_segments(workspace_id)}
        self.list_names = {item.id: item.name for item in lists.list_lists(state.database, workspace_id)}
        self.custom_fields = [field.name for field in custom_fields.list_custom_fields(state.database, workspace_id)]
        self.is_dirty = False
        self.audience: AudienceCard | None = None
        self.preview: PreviewCard | None = None
        self.stats: StatsCard | None = None
        self.recipients: RecipientsCard | None = None
        self.body = ui.column().classes("w-full gap-4")
        self.build()
        if message is not None:
            ui.timer(POLL_SECONDS, self.poll)

    # -- layout ------------------------------------------------------------------------------------------------

    def build(self) -> None:
        self.body.clear()
        self.audience = self.preview = self.stats = self.recipients = None
        message = self.message
        is_editable = message is None or message.status in EDITABLE
        with self.body:
            if message is not None:
                self._header(message)
                if message.status in ("sending", "sent") or message.recipients:
                    self._results(message)
            with ui.row().classes("w-full gap-4 items-start"):
                with ui.column().classes("gap-4").style("flex: 1 1 520px; min-width: 0"):
                    if not is_editable:
                        ui.label(
                            "A message being sent or sent cannot be changed: Duplicate makes a new draft of it."
                        ).classes("fb-muted").props('data-testid="read-only-note"')
                    self.form = MessageForm(
                        message,
                        segments=self.segment_names,
                        lists=self.list_names,
                        custom_fields=self.custom_fields,
                        chosen_segment=self.chosen_segment,
                        is_editable=is_editable,
                        on_change=self.changed,
                    )
                    if is_editable:
                        with ui.row().classes("w-full items-center gap-2"):
                            action_button(
                                "Save draft" if message is None else "Save",
                                icon="save",
                                on_click=self.save,
                                testid="save-message",
                                is_main=True,
                            )
                            self.unsaved = ui.label("").classes("fb-muted").props('data-testid="unsaved"')
                with ui.column().classes("gap-4").style("flex: 1 1 420px; min-width: 0"):
                    if message is None:
                        with ui.card().classes("w-full"):
                            ui.label("Audience and preview").classes("text-subtitle1 text-weight-medium")
                            ui.label(
                                "Save the draft to see who it reaches and how it looks to a fan, then send it or "
                                "schedule it."
                            ).classes("fb-muted")
                        return
                    if is_editable:
                        self.audience = AudienceCard(self.user, message)
                        self._send_card(message)
                    self.preview = PreviewCard(self.user, message)
            ui.timer(0.01, self.load_cards, once=True)

    async def load_cards(self) -> None:
        if self.audience is not None:
            await self.audience.refresh(self.message)
        if self.preview is not None:
            await self.preview.load_sample(self.message)

    def _header(self, message: Message) -> None:
        with ui.row().classes("w-full items-center gap-2"):
            # The title takes the row; on a phone the buttons go below it rather than squeeze it.
            with ui.column().classes("gap-0").style("flex: 1 1 18rem; min-width: 0"):
                with ui.row().classes("items-center gap-2"):
                    ui.label(message.name).classes("text-h5 text-weight-medium").props('data-testid="message-title"')
                    ui.badge(
                        MESSAGE_STATUS.get(message.status, message.status),
                        color=MESSAGE_STATUS_COLORS.get(message.status, "grey-7"),
                    ).props('data-testid="message-status"')
                self.status_line = ui.label(_status_line(message)).classes("fb-muted")
                self.status_line.props('data-testid="message-status-line"')
            if message.status in ("sending", "sent") and current().settings.smtp_url is None:
                action_button(
                    "Its mail in the outbox",
                    icon="outbox",
                    on_click=lambda: ui.navigate.to(f"/messages/outbox?message={message.id}"),
                    testid="message-outbox",
                )
            if message.status == "sending":
                action_button(
                    "Stop sending", icon="stop", on_click=self.cancel, testid="cancel-message", is_danger=True
                )
            action_button("Duplicate", icon="content_copy", on_click=self.duplicate, testid="duplicate-message")

    def _results(self, message: Message) -> None:
        state = current()
        stats = messages.stats(state.database, self.user.workspace_id, message.id)
        settings = messages.get_settings(state.database, self.user.workspace_id, now=state.now())
        self.stats = StatsCard(message, stats, is_tracking=settings.tracking)
        self.recipients = RecipientsCard(self.user, message)

    def _send_card(self, message: Message) -> None:
        with ui.card().classes("w-full gap-2").props('data-testid="send-card"'):
            ui.label("Send").classes("text-subtitle1 text-weight-medium")
            if message.status == "scheduled" and message.send_at:
                ui.label(f"Scheduled for {time_text(message.send_at)} UTC.").props('data-testid="schedule-line"')
                ui.label("It goes to the fans reachable then. Until then it can still be changed.").classes(
                    "fb-muted text-caption"
                )
            else:
                ui.label(
                    "It goes to the fans reachable when it is sent; each gets it once. Once sent, it cannot be "
                    "changed or called back."
                ).classes("fb-muted text-caption")
            with ui.row().classes("gap-2"):
                action_button("Send now", icon="send", on_click=self.send_now, testid="send-now", is_main=True)
                action_button(
                    "Reschedule" if message.status == "scheduled" else "Schedule",
                    icon="schedule",
                    on_click=self.schedule,
                    testid="schedule",
                )
                if message.status == "scheduled":
                    action_button("Back to draft", icon="edit_note", on_click=self.unschedule, testid="unschedule")
                    action_button(
                        "Cancel", icon="cancel", on_click=self.cancel, testid="cancel-message", is_danger=True
                    )

    # -- actions -----------------------------------------------------------------------------------------------

    def changed(self) -> None:
        if not self.is_dirty:
            self.is_dirty = True
            self.unsaved.set_text("Unsaved changes" + ("" if self.message is None else ": save to count the audience"))

    async def save(self) -> bool:
        """Save the form (a new message: create it and open its page); whether it was saved."""
        form = self.form
        form.clear_problems()
        overlap = form.overlap_problem()
        if overlap:
            form.show_problems([("excluded_segment_ids", overlap)])
            return False
        state = current()
        workspace_id = self.user.workspace_id
        try:
            if self.message is None:
                created = await in_thread(
                    messages.create_message, state.database, workspace_id, MessageIn(**form.values()), now=state.now()
                )
                ui.notify("Draft saved.", type="positive")
                ui.navigate.to(f"/messages/{created.id}")
                return True
            saved = await in_thread(
                messages.update_message,
                state.database,
                workspace_id,
                self.message.id,
                MessagePatch(**form.values()),
                now=state.now(),
            )
        except (FanbaseError, ValidationError) as error:
            problems = problems_of(error)
            if isinstance(error, FanbaseError) and error.field is None:
                ui.notify(problems[0][1], type="negative", multi_line=True)
            else:
                form.show_problems(problems)
                ui.notify("Not saved: see the fields marked in red.", type="warning")
            return False
        self.message = saved
        self.is_dirty = False
        self.unsaved.set_text("")
        self.status_line.set_text(_status_line(saved))
        ui.notify("Saved.", type="positive")
        await self.load_cards()
        return True

    async def send_now(self) -> None:
        if self.is_dirty and not await self.save():
            return
        assert self.message is not None and self.audience is not None
        audience = await self.audience.refresh(self.message)
        if audience is not None:
            confirm_send(
                self.user,
                self.message,
                audience,
                self.segment_names,
                on_done=self.changed_status,
                on_refused=self.refused,
            )

    async def schedule(self) -> None:
        if self.is_dirty and not await self.save():
            return
        assert self.message is not None
        await open_schedule(self.user, self.message, on_done=self.changed_status, on_refused=self.refused)

    def cancel(self) -> None:
        assert self.message is not None
        confirm_cancel(self.user, self.message, on_done=self.changed_status)

    async def unschedule(self) -> None:
        assert self.message is not None
        state = current()
        try:
            message = await in_workspace(
                self.user,
                messages.unschedule_message,
                self.message.id,
                now=state.now(),
                actor=actor_of(self.user),
            )
        except FanbaseError as error:
            ui.notify(str(error), type="negative")
            return
        ui.notify("Back to a draft: it will not go out until you send or schedule it again.", type="positive")
        self.changed_status(message)

    def changed_status(self, message: Message) -> None:
        self.message = message
        self.build()

    def refused(self, error: FanbaseError) -> None:
        """A refusal to send: at its field (no segment, no list), else in a toast."""
        problems = problems_of(error)
        if isinstance(error, InvalidInput) and error.field in self.form.fields:
            self.form.show_problems(problems)
        ui.notify(problems[0][1], type="negative", multi_line=True)

    async def duplicate(self) -> None:
        assert self.message is not None
        message = self.message
        state = current()
        try:
            copy = await in_workspace(
                self.user,
                messages.create_message,
                MessageIn(
                    name=f"{message.name[: NAME_LENGTH - 7]} (copy)",
                    subject=message.subject,
                    preheader=message.preheader,
                    body=message.body,
                    segment_ids=tuple(message.segment_ids),
                    excluded_segment_ids=tuple(message.excluded_segment_ids),
                    list_id=message.list_id,
                ),
                now=state.now(),
            )
        except (FanbaseError, ValidationError) as error:
            ui.notify(problems_of(error)[0][1], type="negative", multi_line=True)
            return
        ui.notify(f"Created “{copy.name}”.", type="positive")
        ui.navigate.to(f"/messages/{copy.id}")

    async def poll(self) -> None:
        """Follow a message that can change without this page: a scheduled one starts, a sending one finishes, a
        sent one is opened and clicked."""
        message = self.message
        if message is None or message.status not in ("scheduled", "sending", "sent"):
            return
        latest = await in_workspace(self.user, messages.get_message, message.id)
        if latest.status != message.status:
            self.message = latest
            self.build()
            return
        if self.stats is not None:
            stats = await in_workspace(self.user, messages.stats, message.id)
            if stats != self.stats.stats:
                self.stats.show(stats)
                if self.recipients is not None:
                    await self.recipients.refresh()
