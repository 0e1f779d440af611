"""The workspace's mail settings, in a dialog: who mail is from, whether opens and clicks are counted, how fast it
goes out."""

from __future__ import annotations

from nicegui import ui
from pydantic import ValidationError

from fanbase.errors import FanbaseError
from fanbase.schemas.messages import MailSettingsPatch
from fanbase.schemas.users import SignedInUser
from fanbase.services import messages
from fanbase.web.components.common import action_button
from fanbase.web.components.message_form import problems_of
from fanbase.web.state import current
from fanbase.web.state import in_workspace


async def open_mail_settings(user: SignedInUser) -> None:
    state = current()
    settings = await in_workspace(user, messages.get_settings, now=state.now())
    with (
        ui.dialog() as dialog,
        ui.card().style("width: min(520px, 94vw)").props('data-testid="mail-settings-dialog"'),
    ):
        ui.label("Mail settings").classes("text-h6")
        ui.label("For every message of this workspace.").classes("fb-muted")
        sender_name = (
            ui.input("Sender name", value=settings.sender_name)
            .props('outlined dense data-testid="sender-name"')
            .classes("w-full")
        )
        sender_address = (
            ui.input("Sender address", value=settings.sender_address)
            .props('outlined dense type=email data-testid="sender-address"')
            .classes("w-full")
        )
        ui.label(
            "Mail says it is from “Sender name <sender address>”; replies go there too. Use an address of a "
            "domain your SMTP relay may send for."
        ).classes("fb-muted text-caption")
        tracking = ui.switch("Count opens and clicks", value=settings.tracking).props('data-testid="tracking"')
        ui.label(
            "An invisible image and tracked links in each mail record who opened it and what they clicked, as "
            "events segments can use."
        ).classes("fb-muted text-caption")
        send_rate = (
            ui.number("Messages a second, at most", value=settings.send_rate, min=1, max=1000, step=1, precision=0)
            .props('outlined dense data-testid="send-rate"')
            .classes("w-full")
        )
        fields: dict[str, ui.input | ui.number] = {
            "sender_name": sender_name,
            "sender_address": sender_address,
            "send_rate": send_rate,
        }
        problem = ui.label("").classes("fb-error").props('role="alert"')

        async def save() -> None:
            problem.set_text("")
            for field in fields.values():
                field.error = None
            try:
                patch = MailSettingsPatch(
                    sender_name=(sender_name.value or "").strip(),
                    sender_address=(sender_address.value or "").strip(),
                    tracking=bool(tracking.value),
                    send_rate=int(send_rate.value) if send_rate.value is not None else None,
                )
                await in_workspace(user, messages.update_settings, patch, now=state.now())
            except (FanbaseError, ValidationError) as error:
                for field_name, message in problems_of(error):
                    if field_name in fields:
                        fields[field_name].error = message
                    else:
                        problem.set_text(message)
                return
            dialog.close()
            ui.notify("Mail settings saved.", type="positive")

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            action_button("Save", on_click=save, testid="save-settings", is_main=True)
    dialog.open()
