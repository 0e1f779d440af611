"""Sending a message, each behind a dialog: now (naming who it reaches), at a time (picked in the browser's own
time zone, sent as UTC), and cancelling (a scheduled one, or one being sent)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime

from nicegui import ui

from fanbase.errors import FanbaseError
from fanbase.schemas.messages import Audience
from fanbase.schemas.messages import Message
from fanbase.schemas.users import SignedInUser
from fanbase.services import messages
from fanbase.web.components.common import action_button
from fanbase.web.components.message_form import on_entry_text
from fanbase.web.layout import time_text
from fanbase.web.state import actor_of
from fanbase.web.state import current
from fanbase.web.state import in_workspace

DIALOG_WIDTH = "width: min(480px, 94vw)"
# The browser's own zone and time (for the schedule's picker): "2030-01-15T18:00" is what a datetime-local holds.
LOCAL_NOW = """(() => {
  const pad = n => String(n).padStart(2, "0");
  const day = d => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const text = d => `${day(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const tomorrow = new Date(); tomorrow.setDate(tomorrow.getDate() + 1); tomorrow.setHours(9, 0, 0, 0);
  return {zone: Intl.DateTimeFormat().resolvedOptions().timeZone, now: text(new Date()), suggested: text(tomorrow)};
})()"""
LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

Done = Callable[[Message], None]
Refused = Callable[[FanbaseError], None]


def confirm_send(
    user: SignedInUser,
    message: Message,
    audience: Audience,
    segment_names: dict[int, str],
    *,
    on_done: Done,
    on_refused: Refused,
) -> None:
    """Ask before sending now, saying how many it reaches and why the others are not."""
    fans = f"{audience.reachable:,} fan{'' if audience.reachable == 1 else 's'}"
    is_on_entry = message.on_entry_segment_id is not None
    with ui.dialog() as dialog, ui.card().style(DIALOG_WIDTH).props('data-testid="send-dialog"'):
        if is_on_entry:
            ui.label(f"Start sending “{message.name}” on entry?").classes("text-h6")
            ui.label(on_entry_text(message, segment_names)).props('data-testid="send-count"')
            ui.label(f"Of its members today, {fans} would be reachable.").classes("fb-muted")
        else:
            ui.label(f"Send “{message.name}” now?").classes("text-h6")
            if audience.reachable:
                ui.label(f"It goes to {fans} at once.").props('data-testid="send-count"')
            else:
                ui.label("Nobody is reachable: there is no one to send it to.").props('data-testid="send-count"')
            if audience.total > audience.reachable:
                ui.label(
                    f"Of the {audience.total:,} fans in its segments, {audience.total - audience.reachable:,} "
                    f"are not reachable ({audience.summary.partition(': ')[2]})."
                ).classes("fb-muted")
        ui.label("Once sent, it cannot be changed or called back.").classes("fb-muted")

        async def confirm() -> None:
            sent = await _send(user, message, dialog, at=None, on_refused=on_refused)
            if sent is None:
                return
            ui.notify(
                "Started: each fan who enters gets it." if is_on_entry else f"Sending to {sent.recipients:,} fans.",
                type="positive",
            )
            on_done(sent)

        with ui.row().classes("w-full justify-end"):
            ui.button("Not now", on_click=dialog.close).props("flat no-caps")
            send = action_button(
                "Start" if is_on_entry else f"Send to {fans}",
                icon="send",
                on_click=confirm,
                testid="confirm-send",
                is_main=True,
            )
            send.set_enabled(is_on_entry or audience.reachable > 0)
    dialog.open()


async def _send(
    user: SignedInUser, message: Message, dialog: ui.dialog, *, at: datetime | None, on_refused: Refused
) -> Message | None:
    """Send the message now (``at`` None) or schedule it, then close the dialog; None when refused (said by
    ``on_refused``)."""
    state = current()
    try:
        done = await in_workspace(
            user,
            messages.send_message,
            message.id,
            at=at,
            now=state.now(),
            actor=actor_of(user),
        )
    except FanbaseError as error:
        dialog.close()
        on_refused(error)
        return None
    dialog.close()
    return done


async def open_schedule(user: SignedInUser, message: Message, *, on_done: Done, on_refused: Refused) -> None:
    """Pick a date and time in the browser's zone (named, with the UTC it is), and schedule it then."""
    local = await ui.run_javascript(LOCAL_NOW)
    with ui.dialog() as dialog, ui.card().style(DIALOG_WIDTH).props('data-testid="schedule-dialog"'):
        ui.label(f"Schedule “{message.name}”").classes("text-h6")
        when = (
            ui.input("Date and time", value=local["suggested"])
            .props(f'outlined dense type=datetime-local min={local["now"]} data-testid="schedule-at"')
            .classes("w-full")
        )
        ui.label(f"In your time zone, {local['zone']}.").props('data-testid="schedule-zone"')
        in_utc = ui.label("").classes("fb-muted").props('data-testid="schedule-utc"')
        problem = ui.label("").classes("fb-error").props('role="alert"')

        async def chosen() -> datetime | None:
            """The chosen time, in UTC (the browser knows its zone's rules, summer time included)."""
            value = when.value or ""
            if not LOCAL_TIME.fullmatch(value):
                in_utc.set_text("")
                return None
            utc = await ui.run_javascript(f"new Date({json.dumps(value)}).toISOString()")
            at = datetime.fromisoformat(str(utc).replace("Z", "+00:00"))
            in_utc.set_text(f"That is {time_text(at)} UTC.")
            return at

        async def confirm() -> None:
            at = await chosen()
            state = current()
            if at is None:
                problem.set_text("Choose a date and a time.")
                return
            if at <= state.now():
                problem.set_text("Choose a time in the future.")
                return
            scheduled = await _send(user, message, dialog, at=at, on_refused=on_refused)
            if scheduled is None:
                return
            ui.notify(f"Scheduled for {time_text(at)} UTC.", type="positive")
            on_done(scheduled)

        when.on_value_change(chosen)
        with ui.row().classes("w-full justify-end"):
            ui.button("Not now", on_click=dialog.close).props("flat no-caps")
            action_button("Schedule", icon="schedule", on_click=confirm, testid="confirm-schedule", is_main=True)
    dialog.open()
    await chosen()


def confirm_cancel(user: SignedInUser, message: Message, *, on_done: Done) -> None:
    """Ask before cancelling a scheduled message, or stopping one being sent."""
    is_sending = message.status == "sending"
    with ui.dialog() as dialog, ui.card().style(DIALOG_WIDTH).props('data-testid="cancel-dialog"'):
        if is_sending:
            ui.label(f"Stop sending “{message.name}”?").classes("text-h6")
            ui.label("The recipients not sent yet are skipped; those already sent keep it.")
        else:
            ui.label(f"Cancel “{message.name}”?").classes("text-h6")
            ui.label("It will not be sent. A cancelled message cannot be sent again: Duplicate makes a new draft.")

        async def confirm() -> None:
            state = current()
            try:
                cancelled = await in_workspace(
                    user,
                    messages.cancel_message,
                    message.id,
                    now=state.now(),
                    actor=actor_of(user),
                )
            except FanbaseError as error:
                dialog.close()
                ui.notify(str(error), type="negative")
                return
            dialog.close()
            ui.notify("Sending stopped." if is_sending else "Cancelled.", type="positive")
            on_done(cancelled)

        with ui.row().classes("w-full justify-end"):
            ui.button("Keep it", on_click=dialog.close).props("flat no-caps")
            action_button(
                "Stop sending" if is_sending else "Cancel the message",
                on_click=confirm,
                testid="confirm-cancel",
                is_main=True,
                is_danger=True,
            )
    dialog.open()
