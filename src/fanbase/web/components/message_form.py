"""A message's form: what it says (name, subject, preheader, the Markdown body with its merge fields) and who it
goes to (segments, excluded segments, the consent list); a refusal is shown at the field it is about."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from fanbase.errors import FanbaseError
from fanbase.schemas.common import plain_message
from fanbase.schemas.messages import MAX_MESSAGE_SEGMENTS
from fanbase.schemas.messages import Message
from fanbase.web.components.common import clear_problems_at
from fanbase.web.components.common import show_problems_at
from fanbase.web.words import delay_words

# What a missing value means, per field.
REQUIRED = {
    "name": "Give the message a name",
    "subject": "Write a subject",
    "body": "Write the message",
}
MARKDOWN_HINT = 'Markdown: **bold**, *italic*, [a link](https://…), "# " before a heading.'
MERGE_HINT = (
    'Merge fields put in each fan\'s own: {{ first_name | default("friend") }} (with what to write when a fan '
    "has none), {{ last_name }}, {{ email }}, {{ city }}, {{ country }}, {{ lifecycle_stage }}; "
    "{% if city %}…{% endif %} for a part only some fans get."
)


def on_entry_text(message: Message, segments: dict[int, str]) -> str:
    """What a message sent on entry does, in words."""
    trigger = segments.get(message.on_entry_segment_id or 0, "a segment since deleted")
    return (
        f"Sent on entry: each fan who enters “{trigger}” gets it once, {delay_words(message.on_entry_delay_minutes)},"
        " if still in it and reachable then."
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def problems_of(error: FanbaseError | ValidationError) -> list[tuple[str | None, str]]:
    """Each problem of a refusal as (the field it is about, or None; what to tell the user)."""
    if isinstance(error, FanbaseError):
        return [(error.field, _sentence(error.message))]
    found: list[tuple[str | None, str]] = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else None
        context = item.get("ctx") or {}
        if item["type"] == "string_too_short" and context.get("min_length") == 1:
            found.append((field, REQUIRED.get(field or "", "Required")))
        elif item["type"] == "string_too_long":
            found.append((field, f"At most {context.get('max_length', 0):,} characters"))
        elif item["type"] == "too_long":
            found.append((field, f"At most {context.get('max_length', 0):,} segments"))
        else:
            found.append((field, _sentence(plain_message(item["msg"]))))
    return found


class MessageForm:
    """The fields of a message; ``values()`` reads them for MessageIn/MessagePatch, ``show_problems`` puts a
    refusal at its fields. Read-only once the message is being sent or was sent."""

    def __init__(
        self,
        message: Message | None,
        *,
        segments: dict[int, str],
        lists: dict[int, str],
        custom_fields: list[str],
        chosen_segment: int | None = None,
        is_editable: bool = True,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.segment_names = segments
        default_list = next(iter(lists)) if len(lists) == 1 else None  # the one list there is
        with ui.card().classes("w-full gap-2").props('data-testid="message-content"'):
            ui.label("Content").classes("text-subtitle1 text-weight-medium")
            self.name = self._input("Name (only you see it)", message.name if message else "", "message-name")
            self.subject = self._input("Subject", message.subject if message else "", "message-subject")
            self.preheader = self._input(
                "Preheader (optional: the line inboxes show after the subject)",
                message.preheader if message else "",
                "message-preheader",
            )
            self.body = (
                ui.textarea("Body (Markdown)", value=message.body if message else "")
                .props('outlined autogrow input-class="fb-mono" data-testid="message-body"')
                .props('input-style="min-height: 12rem"')
                .classes("w-full")
            )
            if is_editable:
                hint = MERGE_HINT
                if custom_fields:
                    hint += (
                        " Your custom fields: " + ", ".join(f"{{{{ custom.{name} }}}}" for name in custom_fields) + "."
                    )
                with ui.column().classes("gap-1").props('data-testid="merge-hint"'):
                    ui.label(MARKDOWN_HINT).classes("fb-muted text-caption")
                    ui.label(hint).classes("fb-muted text-caption")
        with ui.card().classes("w-full gap-2").props('data-testid="message-audience-fields"'):
            ui.label("Who it goes to").classes("text-subtitle1 text-weight-medium")
            chosen = list(message.segment_ids) if message else ([chosen_segment] if chosen_segment in segments else [])
            self.segments = self._segments("Send to the members of (segments)", chosen, "message-segments")
            if message is not None and message.on_entry_segment_id is not None:
                # Made through the API or the command line: said here, changed there.
                self.segments.set_visibility(False)
                ui.label(on_entry_text(message, segments)).props('data-testid="on-entry-note"')
            self.excluded = self._segments(
                "Except the members of (optional)",
                list(message.excluded_segment_ids) if message else [],
                "message-excluded",
            )
            self.list = (
                ui.select(
                    lists,
                    label="Only fans subscribed to (consent list)",
                    value=message.list_id if message else default_list,
                    with_input=True,
                    clearable=True,
                )
                .props('dense outlined data-testid="message-list"')
                .classes("w-full")
            )
            if is_editable:
                ui.label(
                    "Only the list's subscribed fans get it: they agreed to receive mail. Unsubscribed, bounced and "
                    "suppressed addresses never do."
                ).classes("fb-muted text-caption")
        self.problem = ui.label("").classes("fb-error").props('role="alert" data-testid="message-form-error"')
        self.problem.set_visibility(False)
        self.fields: dict[str, Any] = {
            "name": self.name,
            "subject": self.subject,
            "preheader": self.preheader,
            "body": self.body,
            "segment_ids": self.segments,
            "excluded_segment_ids": self.excluded,
            "list_id": self.list,
        }
        for field in self.fields.values():
            if not is_editable:
                field.props("readonly")
            elif on_change is not None:
                field.on_value_change(lambda _event: on_change())

    def _input(self, label: str, value: str, testid: str) -> ui.input:
        return ui.input(label, value=value).props(f'outlined dense data-testid="{testid}"').classes("w-full")

    def _segments(self, label: str, value: list[int], testid: str) -> ui.select:
        return (
            ui.select(
                self.segment_names,
                label=label,
                value=value,
                multiple=True,
                with_input=True,
                clearable=True,
            )
            .props(f'dense outlined use-chips max-values={MAX_MESSAGE_SEGMENTS} data-testid="{testid}"')
            .classes("w-full")
        )

    def values(self) -> dict[str, Any]:
        return {
            "name": (self.name.value or "").strip(),
            "subject": (self.subject.value or "").strip(),
            "preheader": (self.preheader.value or "").strip(),
            "body": self.body.value or "",
            "segment_ids": tuple(int(value) for value in self.segments.value or ()),
            "excluded_segment_ids": tuple(int(value) for value in self.excluded.value or ()),
            "list_id": int(self.list.value) if self.list.value is not None else None,
        }

    def overlap_problem(self) -> str | None:
        """A segment both sent to and excluded, said before the service refuses it with its id."""
        values = self.values()
        both = [self.segment_names.get(i, str(i)) for i in values["segment_ids"] if i in values["excluded_segment_ids"]]
        return f"“{both[0]}” is also among the segments it is sent to" if both else None

    def clear_problems(self) -> None:
        clear_problems_at(self.fields, below=self.problem)

    def show_problems(self, problems: list[tuple[str | None, str]]) -> None:
        """Each problem at its field; one about no field (or another) below the form."""
        show_problems_at(self.fields, problems, below=self.problem)
