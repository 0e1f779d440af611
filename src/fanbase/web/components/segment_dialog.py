"""The "Create Segment" dialog (also used to edit): name, description, Dynamic/Static, the condition builder or
the text form, templates, a live size preview with each top-level condition's count, and on edit the impact."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from fanbase.core.rule_values import MISSING_VALUE
from fanbase.core.rules import parse_rule_json
from fanbase.core.rules import rule_to_json
from fanbase.core.text import format_rule
from fanbase.core.text import parse_rule_text
from fanbase.errors import Conflict
from fanbase.errors import FanbaseError
from fanbase.errors import InvalidRule
from fanbase.schemas.common import plain_message
from fanbase.schemas.fans import Fan
from fanbase.schemas.segments import Preview
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import Segment
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.segments import SegmentPatch
from fanbase.schemas.users import SignedInUser
from fanbase.services import previews
from fanbase.services import segments
from fanbase.web import data
from fanbase.web.builder_model import GroupNode
from fanbase.web.builder_model import UnsupportedRule
from fanbase.web.builder_model import clear_feedback
from fanbase.web.builder_model import compile_tree
from fanbase.web.builder_model import tree_from_json
from fanbase.web.components.builder import ConditionBuilder
from fanbase.web.components.common import action_button
from fanbase.web.state import current
from fanbase.web.state import in_thread

PREVIEW_DEBOUNCE_SECONDS = 0.3
_POSITION_RE = re.compile(r"line (\d+), column (\d+)")
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def _validation_text(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {plain_message(item['msg'])}" for item in error.errors()
    )


class SegmentDialog:
    def __init__(
        self, user: SignedInUser, *, segment: Segment | None = None, on_saved: Callable[[Segment], None]
    ) -> None:
        self.user = user
        self.segment = segment
        self.on_saved = on_saved
        workspace_id = user.workspace_id
        self.catalogue = data.catalogue(workspace_id)
        self.text_mode = False
        self.dirty = True
        self.last_change = 0.0
        self.is_previewing = False
        self.compiled = compile_tree(GroupNode(), self.catalogue)
        self.last_preview: Preview | None = None
        root = GroupNode(kind="all")
        initial_text = ""
        if segment is not None and segment.rule is not None:
            try:
                root = tree_from_json(segment.rule)
            except UnsupportedRule:
                self.text_mode = True
            initial_text = segment.rule_text or ""
        other_segments = [s.name for s in data.all_segments(workspace_id) if segment is None or s.id != segment.id]

        with (
            # Full screen on a phone (fb-dialog-full, below 600 px); Escape closes it, a stray click beside it
            # does not (it would lose the rule being written).
            ui.dialog().props("no-backdrop-dismiss") as self.dialog,
            ui.card()
            .classes("q-pa-md fb-dialog-full")
            .style("width: min(1100px, 96vw); max-width: 96vw")
            .props('data-testid="segment-dialog"'),
        ):
            with ui.row().classes("items-center w-full"):
                ui.label("Edit Segment" if segment else "Create Segment").classes("text-h6")
                ui.space()
                ui.button(icon="close", on_click=self.dialog.close).props('flat round dense aria-label="Close"')
            if segment is None:
                self.template_select = (
                    ui.select(
                        {t.key: f"{t.name} — {t.rule_text}" for t in segments.list_templates()},
                        label="Start from a template (optional)",
                        on_change=self.use_template,
                        with_input=True,
                    )
                    .props('dense outlined clearable data-testid="template-select"')
                    .classes("w-full")
                )
            with ui.row().classes("w-full gap-3 items-start"):
                self.name = (
                    ui.input(
                        "Name",
                        value=segment.name if segment else "",
                        validation={"Give the segment a name": lambda v: bool(v.strip())},
                    )
                    .props('outlined dense autofocus data-testid="segment-name"')
                    .classes("col-grow min-w-[14rem]")
                )
                self.kind = ui.toggle(
                    {"dynamic": "Dynamic", "static": "Static"},
                    value=segment.kind if segment else "dynamic",
                    on_change=self.kind_changed,
                ).props('no-caps toggle-color="indigo-8" data-testid="segment-type"')
                if segment is not None:
                    self.kind.disable()
            self.description = (
                ui.textarea("Description (optional)", value=(segment.description or "") if segment else "")
                .props('outlined dense autogrow data-testid="segment-description"')
                .classes("w-full")
            )
            self.form_error = ui.label("").classes("fb-error").props('role="alert" data-testid="form-error"')
            self.form_error.set_visibility(False)

            with ui.column().classes("w-full gap-2") as self.dynamic_section:
                with ui.row().classes("items-center w-full"):
                    ui.label("Conditions").classes("text-subtitle1 text-weight-medium")
                    ui.space()
                    self.mode_switch = ui.switch("Text form", value=self.text_mode, on_change=self.toggle_text).props(
                        'data-testid="text-toggle"'
                    )
                with ui.row().classes("w-full gap-4 items-start no-wrap-md"):
                    with ui.column().classes("col-grow gap-2 min-w-0").style("flex: 1 1 560px"):
                        with ui.column().classes("w-full") as self.builder_box:
                            self.builder = ConditionBuilder(
                                root,
                                catalogue=self.catalogue,
                                tags=data.tag_names(workspace_id),
                                lists=data.list_names(workspace_id),
                                segments=other_segments,
                                currency_symbol=CURRENCY_SYMBOLS.get(user.currency, user.currency + " "),
                                seen=data.seen_values(workspace_id),
                                on_change=self.mark_dirty,
                            )
                        with ui.column().classes("w-full gap-1") as self.text_box:
                            self.text = (
                                ui.textarea(
                                    "Rule (text form)",
                                    value=initial_text,
                                    on_change=self.mark_dirty,
                                    placeholder='e.g. total_spent > 100 and (tag "VIP" or list "Fan Club")',
                                )
                                .props('outlined autogrow input-class="fb-mono" data-testid="rule-text"')
                                .classes("w-full")
                            )
                            self.text_error = (
                                ui.html("", sanitize=False).classes("fb-error w-full").props('data-testid="text-error"')
                            )
                    with (
                        ui.card()
                        .classes("q-pa-md bg-indigo-1")
                        .style("flex: 0 1 280px; min-width: 240px")
                        .props('flat data-testid="preview-panel"')
                    ):
                        ui.label("Live preview").classes("text-overline fb-muted")
                        with ui.row().classes("items-center gap-2"):
                            self.count_label = (
                                ui.label("—")
                                .classes("text-h4 text-weight-bold text-indigo-9")
                                .props('data-testid="preview-count" aria-live="polite"')
                            )
                            ui.label("fans").classes("fb-muted")
                            self.spinner = ui.spinner(size="sm")
                            self.spinner.set_visibility(False)
                        self.english = ui.label("").classes("text-body2")
                        # Names the workspace has not seen (an event type, an order category): likely misspelt.
                        self.hints = (
                            ui.label("").classes("text-body2 text-orange-10").props('data-testid="preview-hints"')
                        )
                        self.impact_label = (
                            ui.label("").classes("text-body2 text-weight-medium").props('data-testid="impact"')
                        )
                        self.sample = (
                            ui.row().classes("items-center gap-x-2 gap-y-0").props('data-testid="preview-sample"')
                        )
            with ui.row().classes("w-full justify-end gap-2 q-mt-sm"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
                self.save_button = action_button(
                    "Save segment" if segment else "Create segment",
                    icon="check",
                    on_click=self.save,
                    testid="save-segment",
                    is_main=True,
                )
            ui.timer(0.1, self.tick)
        self.show_mode()
        self.kind_changed()

    def show_sample(self, sample: Sequence[Fan]) -> None:
        """A few matching fans, each a link to their page (in a new tab: the dialog keeps the unsaved rule)."""
        self.sample.clear()
        if not sample:
            return
        with self.sample:
            ui.label("e.g.").classes("text-caption fb-muted")
            for fan in sample:
                ui.link(fan.email, f"/fans/{fan.id}", new_tab=True).classes("text-caption text-indigo-8")

    # --- state ----------------------------------------------------------------------------------------------

    def open(self) -> None:
        self.dialog.open()

    def mark_dirty(self, *_args: Any) -> None:
        self.dirty = True
        self.last_change = time.monotonic()

    def kind_changed(self, *_args: Any) -> None:
        self.dynamic_section.set_visibility(self.kind.value == "dynamic")

    def show_mode(self) -> None:
        self.builder_box.set_visibility(not self.text_mode)
        self.text_box.set_visibility(self.text_mode)

    def rule_input(self) -> RuleIn | None:
        if self.text_mode:
            text = (self.text.value or "").strip()
            return RuleIn(rule_text=text) if text else None
        self.compiled = compile_tree(self.builder.root, self.catalogue)
        return RuleIn(rule=self.compiled.rule) if self.compiled.rule is not None else None

    def use_template(self, event: Any) -> None:
        template = next((t for t in segments.list_templates() if t.key == event.value), None)
        if template is None:
            return
        self.name.value = template.name
        self.description.value = template.description
        self.kind.value = "dynamic"
        self.set_text_rule(template.rule_text)

    def set_text_rule(self, text: str) -> None:
        self.text.value = text
        try:
            self.builder.root = tree_from_json(rule_to_json(parse_rule_text(text)))
        except (InvalidRule, UnsupportedRule):
            self.text_mode = True
            self.mode_switch.value = True
        self.builder.redraw()
        self.show_mode()
        self.mark_dirty()

    def toggle_text(self, event: Any) -> None:
        wants_text = bool(event.value)
        if wants_text == self.text_mode:
            return
        if wants_text:
            compiled = compile_tree(self.builder.root, self.catalogue)
            if compiled.rule is not None:
                try:
                    self.text.value = format_rule(parse_rule_json(compiled.rule))
                except InvalidRule:
                    # Incomplete conditions cannot be written as text yet: the last good preview's text, if any.
                    self.text.value = self.last_preview.rule_text if self.last_preview else ""
            else:
                self.text.value = ""
            self.text_mode = True
        else:
            text = (self.text.value or "").strip()
            try:
                self.builder.root = tree_from_json(rule_to_json(parse_rule_text(text)) if text else None)
            except InvalidRule as error:
                self.show_text_errors(error)
                self.mode_switch.value = True
                return
            except UnsupportedRule as error:
                ui.notify(f"This rule can only be edited as text ({error}).", type="warning")
                self.mode_switch.value = True
                return
            self.builder.redraw()
            self.text_mode = False
        self.show_mode()
        self.mark_dirty()

    # --- preview ----------------------------------------------------------------------------------------------

    async def tick(self) -> None:
        if not self.dialog.value or not self.dirty or self.is_previewing:
            return
        if time.monotonic() - self.last_change < PREVIEW_DEBOUNCE_SECONDS:
            return
        if self.kind.value != "dynamic":
            return
        self.dirty = False
        await self.run_preview()

    async def run_preview(self) -> None:
        clear_feedback(self.builder.root)
        self.text_error.set_content("")
        self.hints.set_text("")
        try:
            rule_in = self.rule_input()
        except ValidationError as error:
            self.count_label.set_text("—")
            self.english.set_text(_validation_text(error))
            return
        if rule_in is None:
            self.count_label.set_text("—")
            self.english.set_text("Add a condition to see who matches.")
            self.impact_label.set_text("")
            self.sample.clear()
            self.builder.show_feedback()
            return
        self.is_previewing = True
        self.spinner.set_visibility(True)
        state = current()
        workspace_id = self.user.workspace_id
        try:
            preview = await in_thread(previews.preview, state.database, workspace_id, rule_in, now=state.now())
            impact = None
            if self.segment is not None and self.segment.kind == "dynamic":
                impact = await in_thread(data.impact, workspace_id, self.segment.id, rule_in, now=state.now())
        except InvalidRule as error:
            self.count_label.set_text("—")
            # A condition just added has no value yet: not a mistake to paint red while the user is still typing
            # (saving still refuses it, and then says so).
            problems = [problem for problem in error.errors if not problem.message.endswith(MISSING_VALUE)]
            if not problems:
                self.english.set_text("Give the new condition a value to see who matches.")
                self.builder.show_feedback()
                return
            self.english.set_text("Fix the highlighted conditions.")
            self.show_rule_errors(InvalidRule(problems))
            return
        except FanbaseError as error:
            self.count_label.set_text("—")
            self.english.set_text(str(error))
            return
        finally:
            self.is_previewing = False
            self.spinner.set_visibility(False)
        self.last_preview = preview
        self.count_label.set_text(f"{preview.count:,}")
        self.english.set_text(preview.rule_english)
        self.hints.set_text("; ".join(hint.message[:1].upper() + hint.message[1:] + "." for hint in preview.hints))
        self.show_sample(preview.sample[:3])
        if impact is not None:
            self.impact_label.set_text(f"{impact.joining:,} would join, {impact.leaving:,} would leave")
        elif self.segment is not None:
            self.impact_label.set_text("")
        if not self.text_mode:
            counts = {condition.path: condition.count for condition in preview.conditions}
            children = self.builder.root.children
            for index, child in enumerate(children):
                # A single condition is the whole rule (path ""), see compile_tree.
                child.count = counts.get("" if len(children) == 1 else f"{self.builder.root.kind}[{index}]")
            self.builder.show_feedback()

    def show_rule_errors(self, error: InvalidRule) -> None:
        if self.text_mode:
            self.show_text_errors(error)
            return
        for problem in error.errors:
            node = self.compiled.node_at(problem.path)
            target = node or self.builder.root
            target.errors.append(problem.message if node is not None else str(problem))
        self.builder.show_feedback()

    def show_text_errors(self, error: InvalidRule) -> None:
        """Each problem under the text, with the line it is on and a caret under its column when it has one."""
        text = self.text.value or ""
        lines = text.splitlines() or [""]
        parts: list[str] = []
        for problem in error.errors:
            message = _escape(str(problem))
            match = _POSITION_RE.search(problem.message)
            if match:
                line, column = int(match.group(1)), int(match.group(2))
                source = lines[line - 1] if 0 < line <= len(lines) else ""
                caret = " " * max(column - 1, 0) + "^"
                parts.append(
                    f'<div>{message}</div><pre class="fb-mono q-ma-none" style="white-space: pre-wrap">'
                    f"{_escape(source)}\n{caret}</pre>"
                )
            else:
                parts.append(f"<div>{message}</div>")
        self.text_error.set_content("".join(parts))

    # --- save ---------------------------------------------------------------------------------------------------

    async def save(self) -> None:
        self.form_error.set_visibility(False)
        self.name.error = None
        state = current()
        workspace_id = self.user.workspace_id
        name = (self.name.value or "").strip()
        description = (self.description.value or "").strip() or None
        try:
            rule_in = self.rule_input() if self.kind.value == "dynamic" else None
            if self.kind.value == "dynamic" and rule_in is None:
                self.show_form_error("Add at least one condition (or choose Static).")
                return
            rule = rule_in.rule if rule_in else None
            rule_text = rule_in.rule_text if rule_in else None
            self.save_button.props("loading")
            if self.segment is None:
                data_in = SegmentIn(
                    name=name, description=description, kind=self.kind.value, rule=rule, rule_text=rule_text
                )
                saved = await in_thread(segments.create_segment, state.database, workspace_id, data_in, now=state.now())
            else:
                patch = SegmentPatch(name=name, description=description, rule=rule, rule_text=rule_text)
                saved = await in_thread(
                    segments.update_segment, state.database, workspace_id, self.segment.id, patch, now=state.now()
                )
        except ValidationError as error:
            if all(item["loc"][:1] == ("name",) for item in error.errors()):
                self.name.error = "; ".join(plain_message(item["msg"]) for item in error.errors())
            else:
                self.show_form_error(_validation_text(error))
            return
        except InvalidRule as error:
            self.show_form_error("The rule has problems: see the highlighted conditions.")
            self.show_rule_errors(error)
            return
        except (Conflict, FanbaseError) as error:
            if error.field == "name":
                self.name.error = str(error)  # at its field: a duplicate name on the Name input
            else:
                self.show_form_error(str(error))
            return
        finally:
            self.save_button.props(remove="loading")
        ui.notify(f"Segment “{saved.name}” saved: {saved.size:,} fans.", type="positive")
        self.dialog.close()
        self.on_saved(saved)

    def show_form_error(self, message: str) -> None:
        self.form_error.set_text(message)
        self.form_error.set_visibility(True)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
