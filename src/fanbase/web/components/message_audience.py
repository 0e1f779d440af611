"""Before a message is sent: who it reaches (total vs reachable, each reason counted), how it looks to a fan, and a
test of it sent to an address."""

from __future__ import annotations

from nicegui import ui
from pydantic import TypeAdapter
from pydantic import ValidationError

from fanbase.errors import FanbaseError
from fanbase.schemas.common import Email
from fanbase.schemas.common import Page
from fanbase.schemas.common import plain_message
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.messages import Audience
from fanbase.schemas.messages import Message
from fanbase.schemas.users import SignedInUser
from fanbase.services import fans
from fanbase.services import mail_delivery
from fanbase.services import messages
from fanbase.web.components.common import action_button
from fanbase.web.components.mail_view import MailView
from fanbase.web.state import current
from fanbase.web.state import in_workspace
from fanbase.web.words import UNREACHABLE_WORDS

EMAIL_ADDRESS: TypeAdapter[str] = TypeAdapter(Email)
SAMPLE_SIZE = 20  # fans offered to preview as, before any search
NOBODY_LABEL = "Nobody (merge fields show their defaults)"


class AudienceCard:
    """The message's audience as it stands (saved): reachable of total, and each reason the others are not."""

    def __init__(self, user: SignedInUser, message: Message) -> None:
        self.user = user
        self.message = message
        self.audience: Audience | None = None
        with ui.card().classes("w-full gap-1").props('data-testid="audience"'):
            with ui.row().classes("w-full items-center"):
                ui.label("Audience").classes("text-subtitle1 text-weight-medium")
                ui.space()
                ui.button(icon="refresh", on_click=self.refresh).props(
                    'flat round dense color="indigo-8" aria-label="Count again"'
                ).tooltip("Count again")
            with ui.row().classes("items-baseline gap-2"):
                self.reachable = ui.label("…").classes("text-h4 text-weight-bold")
                self.reachable.props('data-testid="audience-reachable"')
                self.total = ui.label("").classes("fb-muted").props('data-testid="audience-total"')
            self.summary = ui.label("").classes("text-body2").props('data-testid="audience-summary"')
            self.reasons = ui.column().classes("w-full gap-1").props('data-testid="audience-reasons"')
            self.hint = ui.label("").classes("fb-muted text-caption")

    async def refresh(self, message: Message | None = None) -> Audience | None:
        self.message = message or self.message
        try:
            audience = await in_workspace(self.user, messages.audience, self.message.id)
        except FanbaseError as error:
            self.summary.set_text(str(error))
            return None
        self.audience = audience
        self.reachable.set_text(f"{audience.reachable:,}")
        self.total.set_text(f"reachable of {audience.total:,} in the segments")
        self.summary.set_text(audience.summary)
        self.reasons.clear()
        with self.reasons:
            for reason, count in audience.unreachable.items():
                with (
                    ui.row()
                    .classes("w-full items-center gap-2 no-wrap")
                    .props(f'data-testid="audience-reason-{reason}"')
                ):
                    ui.label(UNREACHABLE_WORDS.get(reason, reason)).classes("col")
                    ui.linear_progress(count / audience.total, show_value=False, color="red-4").classes(
                        "fb-hide-sm"
                    ).style("width: 6rem")
                    ui.label(f"{count:,}").classes("fb-count")
        hints = []
        if not self.message.segment_ids:
            hints.append("Choose the segments it goes to, then save.")
        if self.message.list_id is None:
            hints.append("Choose a consent list: without one nobody is reachable.")
        self.hint.set_text(" ".join(hints))
        return audience


def _fan_label(fan: Fan) -> str:
    name = " ".join(part for part in (fan.first_name, fan.last_name) if part)
    return f"{name} · {fan.email}" if name else fan.email


class PreviewCard:
    """The message rendered for one fan: chosen among the first it would reach, or found by email or name."""

    NOBODY = 0  # the option for no fan: merge fields show their defaults

    def __init__(self, user: SignedInUser, message: Message) -> None:
        self.user = user
        self.message = message
        with ui.card().classes("w-full gap-2").props('data-testid="preview"'):
            ui.label("Preview as a fan").classes("text-subtitle1 text-weight-medium")
            with ui.row().classes("w-full items-start gap-2"):
                self.options: dict[int, str] = {self.NOBODY: NOBODY_LABEL}
                self.fan = (
                    ui.select(dict(self.options), label="Preview as", value=self.NOBODY)
                    .props('dense outlined options-dense data-testid="preview-fan"')
                    .classes("col-grow")
                    .style("min-width: 14rem; flex: 1 1 14rem")
                )
                self.search = (
                    ui.input(placeholder="Find a fan by email or name")
                    .props('dense outlined clearable debounce=400 data-testid="preview-search"')
                    .classes("col-grow")
                    .style("min-width: 12rem; flex: 1 1 12rem")
                )
                self.search.props["aria-label"] = "Find a fan to preview as, by email or name"
                with self.search.add_slot("prepend"):
                    ui.icon("search")
            self.sample_note = ui.label("").classes("fb-muted text-caption").props('data-testid="preview-sample"')
            with ui.column().classes("w-full gap-0"):
                self.subject = ui.label("").classes("text-subtitle1 text-weight-medium")
                self.subject.props('data-testid="preview-subject"')
                self.preheader = ui.label("").classes("fb-muted text-body2").props('data-testid="preview-preheader"')
            self.view = MailView(html="", text="", testid="preview")
            self.problem = ui.label("").classes("fb-error").props('role="alert"')
            self._test_send()
        self.fan.on_value_change(lambda _event: self.render())
        self.search.on_value_change(lambda _event: self.find())

    def _offer(self, found: dict[int, str], *, keep: bool) -> None:
        """Offer ``found`` (fan id → label; with ``keep``, the fan chosen now too); choose the kept one or the first
        found."""
        options: dict[int, str] = {self.NOBODY: NOBODY_LABEL}
        chosen = self.fan.value
        if keep and chosen in self.options:
            options[chosen] = self.options[chosen]
        options.update(found)
        self.options = options
        first = next(iter(found), self.NOBODY)
        self.fan.set_options(dict(options), value=chosen if keep and chosen in options else first)

    async def load_sample(self, message: Message | None = None) -> None:
        """Offer the first fans the message would reach (after a save, its audience may differ), or for a message
        sent, its first recipients; then render."""
        self.message = message or self.message
        found: dict[int, str] = {}
        if self.message.status not in ("draft", "scheduled"):
            recipients = await in_workspace(
                self.user,
                messages.recipients,
                self.message.id,
                page=1,
                page_size=SAMPLE_SIZE,
            )
            found = {recipient.fan_id: recipient.email for recipient in recipients.items}
            self.sample_note.set_text(
                f"Offered: its first {len(found):,} recipients. Or find anyone in your workspace."
                if found
                else "It went to nobody: find a fan by email or name."
            )
        elif self.message.list_id is not None and (self.message.segment_ids or self.message.on_entry_segment_id):
            reachable: list[Fan] = await in_workspace(
                self.user,
                messages.reachable_sample,
                self.message.id,
                limit=SAMPLE_SIZE,
            )
            found = {fan.id: _fan_label(fan) for fan in reachable}
            self.sample_note.set_text(
                f"Offered: the first {len(found):,} fans it would reach. Or find anyone in your workspace."
                if found
                else "Nobody it would reach yet: find a fan by email or name."
            )
        else:
            self.sample_note.set_text("Choose its segments and list and save to be offered fans it would reach.")
        had = self.fan.value
        self._offer(found, keep=had != self.NOBODY)
        if self.fan.value == had:  # unchanged: no value event renders it
            await self.render()

    async def find(self) -> None:
        text = (self.search.value or "").strip()
        if not text:
            await self.load_sample()
            return
        state = current()
        page: Page[Fan] = await in_workspace(
            self.user,
            fans.list_fans,
            FanFilter(q=text),
            page=1,
            page_size=SAMPLE_SIZE,
            now=state.now(),
        )
        matches = "1 fan matches" if page.total == 1 else f"{page.total:,} fans match"
        self.sample_note.set_text(
            f"{matches} “{text}”"
            + (f"; the first {len(page.items)} are offered." if page.total > len(page.items) else ".")
        )
        had = self.fan.value
        self._offer({fan.id: _fan_label(fan) for fan in page.items}, keep=False)
        if self.fan.value == had:
            await self.render()

    def _test_send(self) -> None:
        """Send it, as the fan previewed, to one address: over the SMTP relay, or into the outbox without one."""
        is_outbox = current().settings.smtp_url is None
        with ui.row().classes("w-full items-start gap-2"):
            self.test_address = (
                ui.input("Send a test to", placeholder="you@example.com")
                .props('dense outlined type=email data-testid="test-address"')
                .classes("col-grow")
                .style("min-width: 12rem; flex: 1 1 12rem")
            )
            action_button("Send a test", icon="forward_to_inbox", on_click=self.send_test, testid="send-test")
        where = "kept in the outbox (no SMTP relay is set)" if is_outbox else "sent through your SMTP relay"
        ui.label(f"Marked [Test] and {where}; it counts for nothing.").classes("fb-muted text-caption")

    async def send_test(self) -> None:
        state = current()
        address = (self.test_address.value or "").strip()
        self.test_address.error = None
        try:
            to = EMAIL_ADDRESS.validate_python(address)
            sent = await in_workspace(
                self.user,
                mail_delivery.send_test,
                self.message.id,
                to=to,
                fan_id=int(self.fan.value or 0) or None,
                now=state.now(),
                base_url=state.settings.resolved_public_url(),
                smtp_url=state.settings.smtp_url,
            )
        except ValidationError as error:
            said = plain_message(error.errors()[0]["msg"])
            self.test_address.error = said[:1].upper() + said[1:]
            return
        except FanbaseError as error:
            ui.notify(str(error), type="negative")
            return
        where = "is in the outbox" if sent.via == "outbox" else "went out through your SMTP relay"
        ui.notify(f"Test for {sent.to} {where}.", type="positive")

    async def render(self) -> None:
        state = current()
        fan_id = int(self.fan.value or 0) or None
        try:
            rendered = await in_workspace(
                self.user,
                messages.preview,
                self.message.id,
                fan_id=fan_id,
                base_url=state.settings.resolved_public_url(),
            )
        except FanbaseError as error:
            self.problem.set_text(str(error))
            return
        self.problem.set_text("")
        self.subject.set_text(rendered.subject)
        self.preheader.set_text(rendered.preheader)
        self.preheader.set_visibility(bool(rendered.preheader))
        self.view.show(html=rendered.html, text=rendered.text)
