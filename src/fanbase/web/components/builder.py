"""The condition builder: nested AND/OR groups with NOT, field/tag/list/segment/behaviour conditions.

Inputs write straight into the ``builder_model`` tree and call ``on_change``; a structural change (a condition added
or removed, a field or operator with another kind of value) redraws the tree. Errors and counts are updated in
place, so typing is never interrupted by a redraw.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.core.fields import ListStatus
from fanbase.core.fields import Source
from fanbase.core.operators import OPERATORS
from fanbase.core.operators import Op
from fanbase.core.operators import ValueShape
from fanbase.core.operators import operators_for
from fanbase.schemas.analytics import SeenValues
from fanbase.web.builder_model import BEHAVIOURS
from fanbase.web.builder_model import MAIN_FILTERS
from fanbase.web.builder_model import TIME_UNITS
from fanbase.web.builder_model import BehaviourNode
from fanbase.web.builder_model import Comparison
from fanbase.web.builder_model import ConditionKind
from fanbase.web.builder_model import FieldNode
from fanbase.web.builder_model import GroupNode
from fanbase.web.builder_model import ListNode
from fanbase.web.builder_model import Node
from fanbase.web.builder_model import SegmentNode
from fanbase.web.builder_model import TagNode
from fanbase.web.builder_model import TimeValue
from fanbase.web.builder_model import apply_what
from fanbase.web.builder_model import behaviour_what
from fanbase.web.builder_model import fan_spec
from fanbase.web.builder_model import main_filter
from fanbase.web.builder_model import new_condition
from fanbase.web.builder_model import result_spec
from fanbase.web.builder_model import set_main_filter
from fanbase.web.builder_model import source_field
from fanbase.web.builder_model import source_fields
from fanbase.web.builder_model import walk_nodes
from fanbase.web.components.common import action_button
from fanbase.web.words import AMOUNT_WORDS
from fanbase.web.words import COUNT_WORDS
from fanbase.web.words import field_title
from fanbase.web.words import filter_title
from fanbase.web.words import humanize

# The buttons that add a condition to a group, in order: each is labelled with its kind ("Field") and shows its icon.
ADD_ICONS: dict[ConditionKind, str] = {
    "field": "tune",
    "tag": "sell",
    "list": "list",
    "segment": "donut_small",
    "behaviour": "shopping_cart",
    "group": "account_tree",
}


def op_label(op: Op) -> str:
    """The operator in words, from the operator table's English phrase ("is more than {value}" → "is more than")."""
    if op is Op.IN:
        return "is any of"
    if op is Op.NOT_IN:
        return "is none of"
    return OPERATORS[op].phrase.replace(" {value}", "").replace(" {low} and {high}", "").replace("_", " ")


@dataclass
class _Feedback:
    errors: ui.label
    count: ui.badge | None


class ConditionBuilder:
    """Draws and edits a ``GroupNode`` tree; ``on_change`` is called after every edit."""

    def __init__(
        self,
        root: GroupNode,
        *,
        catalogue: Catalogue,
        tags: list[str],
        lists: list[str],
        segments: list[str],
        currency_symbol: str,
        seen: SeenValues,
        on_change: Callable[[], None],
    ) -> None:
        self.root = root
        self.seen = seen
        self.catalogue = catalogue
        self.tags, self.lists, self.segments = tags, lists, segments
        self.currency_symbol = currency_symbol
        self.on_change = on_change
        self.feedback: dict[int, _Feedback] = {}
        self._pending_count: ui.badge | None = None
        self.container = ui.column().classes("w-full gap-2").props('data-testid="condition-builder"')
        self.redraw()

    # --- drawing ---------------------------------------------------------------------------------------------

    def redraw(self) -> None:
        self.feedback.clear()
        self.container.clear()
        with self.container:
            self.draw_group(self.root, parent=None)

    def changed(self) -> None:
        self.on_change()

    def structural(self) -> None:
        self.redraw()
        self.changed()

    def show_feedback(self) -> None:
        """Put each node's errors and count (set by the dialog after a preview) on screen, without a redraw."""
        for node_id, feedback in self.feedback.items():
            node = self._nodes.get(node_id)
            if node is None:
                continue
            feedback.errors.set_text("; ".join(node.errors))
            feedback.errors.set_visibility(bool(node.errors))
            if feedback.count is not None:
                feedback.count.set_text("…" if node.count is None else f"{node.count:,}")

    @property
    def _nodes(self) -> dict[int, Node]:
        return {id(node): node for node in walk_nodes(self.root)}

    def _not_toggle(self, node: Node) -> None:
        def flip(event: Any) -> None:
            node.is_negated = bool(event.value)
            self.changed()

        ui.checkbox("NOT", value=node.is_negated, on_change=flip).props('dense data-testid="not-toggle"').tooltip(
            "Negate: match fans for whom this is not true"
        )

    def _remove_button(self, parent: GroupNode | BehaviourNode, node: Node) -> None:
        def remove() -> None:
            if isinstance(parent, GroupNode):
                parent.children.remove(node)
            elif isinstance(node, FieldNode):
                parent.where.remove(node)
            self.structural()
            # The keyboard stays in the builder: on the group's "Add: Field" button, where the next condition goes.
            self._focus('[data-testid="add-field"]')

        ui.button(icon="close", on_click=remove).props(
            'flat round dense aria-label="Remove condition" data-testid="remove-condition"'
        ).classes("fb-target").tooltip("Remove")

    def draw_group(self, group: GroupNode, *, parent: GroupNode | None) -> None:
        css = "fb-group w-full gap-2" + (" fb-group-any" if group.kind == "any" else "")
        with ui.column().classes(css).props(f'data-testid="group-{group.kind}"'):
            with ui.row().classes("items-center gap-2 w-full"):
                if parent is not None:
                    self._not_toggle(group)
                ui.label("Match").classes("fb-muted")

                def set_kind(event: Any) -> None:
                    group.kind = event.value
                    self.structural()

                ui.toggle({"all": "ALL (and)", "any": "ANY (or)"}, value=group.kind, on_change=set_kind).props(
                    'dense no-caps toggle-color="indigo-8" data-testid="group-kind"'
                ).classes("fb-target")
                ui.label("of these conditions").classes("fb-muted")
                ui.space()
                if parent is not None:
                    self._remove_button(parent, group)
            errors = ui.label("").classes("fb-error")
            errors.set_visibility(False)
            self.feedback[id(group)] = _Feedback(errors=errors, count=None)
            for child in group.children:
                self.draw_child(child, parent=group, is_top=parent is None)
            with ui.row().classes("gap-1 items-center"):
                ui.label("Add:").classes("fb-muted text-caption")
                for kind, icon in ADD_ICONS.items():
                    action_button(
                        kind.capitalize(),
                        icon=icon,
                        on_click=lambda _e, k=kind: self.add(group, k),
                        testid=f"add-{kind}",
                        is_dense=True,
                    ).classes("fb-target")

    def add(self, group: GroupNode, kind: ConditionKind) -> None:
        node = new_condition(kind, self.catalogue)
        if isinstance(node, TagNode) and self.tags:
            node.tag = self.tags[0]
        if isinstance(node, ListNode) and self.lists:
            node.list_name = self.lists[0]
        if isinstance(node, SegmentNode) and self.segments:
            node.segment = self.segments[0]
        if isinstance(node, GroupNode):
            node.children.append(new_condition("field", self.catalogue))
        group.children.append(node)
        self.structural()
        # The keyboard goes on to the new condition's first control (a redraw would otherwise drop focus).
        self._focus(f'[data-node="{id(node)}"] input, [data-node="{id(node)}"] [tabindex="0"]')

    def _focus(self, selector: str) -> None:
        # Through the client: the button that asked may be gone with the redraw (its slot with it).
        self.container.client.run_javascript(
            f"setTimeout(() => {{ const element = document.querySelector({json.dumps(selector)}); "
            "if (element) element.focus(); }, 50)"
        )

    def draw_child(self, node: Node, *, parent: GroupNode, is_top: bool) -> None:
        if isinstance(node, GroupNode):
            self.draw_group(node, parent=parent)
            return
        with ui.column().classes("fb-cond w-full gap-1").props(f'data-testid="condition" data-node="{id(node)}"'):
            with ui.row().classes("items-center gap-2 w-full no-wrap"):
                with ui.row().classes("items-center gap-2 col"):
                    self._not_toggle(node)
                    match node:
                        case FieldNode():
                            self.draw_field(node)
                        case TagNode():
                            self.draw_tag(node)
                        case ListNode():
                            self.draw_list(node)
                        case SegmentNode():
                            self.draw_segment(node)
                        case BehaviourNode():
                            self.draw_behaviour(node)
                if is_top:
                    self._feedback_row_count_only(node)
                self._remove_button(parent, node)
            self._errors_only(node)

    def _feedback_row_count_only(self, node: Node) -> None:
        count = (
            ui.badge("…", color="indigo-1", text_color="indigo-9")
            .classes("fb-count q-px-sm")
            .props('data-testid="condition-count"')
        )
        count.tooltip("Fans matching this condition alone")
        self._pending_count = count

    def _errors_only(self, node: Node) -> None:
        errors = ui.label("; ".join(node.errors)).classes("fb-error w-full").props('data-testid="condition-error"')
        errors.set_visibility(bool(node.errors))
        count, self._pending_count = self._pending_count, None
        self.feedback[id(node)] = _Feedback(errors=errors, count=count)

    # --- one condition each ----------------------------------------------------------------------------------

    def field_options(self) -> dict[str, str]:
        return {
            spec.name: field_title(self.catalogue, spec) + (" (custom)" if self.catalogue.is_custom(spec.name) else "")
            for spec in self.catalogue.fan_fields
        }

    def draw_field(self, node: FieldNode) -> None:
        def set_field(event: Any) -> None:
            node.field_name = event.value
            node.comparison.reset_for(fan_spec(self.catalogue, node.field_name))
            self.structural()

        ui.select(self.field_options(), value=node.field_name, with_input=True, on_change=set_field).props(
            'dense outlined options-dense data-testid="field-select" aria-label="Field"'
        ).classes("min-w-[11rem]")
        self.draw_comparison(node.comparison, fan_spec(self.catalogue, node.field_name))

    def draw_comparison(
        self, comparison: Comparison, spec: FieldSpec, *, words: Mapping[str, str] | None = None
    ) -> None:
        """The operator and its value inputs; ``words`` names (and narrows) the operators, e.g. "at least" for a
        count."""
        options = {row.op.value: op_label(row.op) for row in operators_for(spec.type)}
        if words is not None:
            options = {op: words[op] for op in options if op in words}
        if comparison.op not in options:
            comparison.reset_for(spec, keep_op=True)

        def set_op(event: Any) -> None:
            before = comparison.shape
            comparison.op = event.value
            if comparison.shape is not before:
                self.structural()
            else:
                self.changed()

        ui.select(options, value=comparison.op, on_change=set_op).props(
            'dense outlined options-dense data-testid="op-select" aria-label="Operator"'
        ).classes("min-w-[9rem]")
        self.draw_value(comparison, spec)

    def _setter(self, target: Any, attribute: str) -> Callable[[Any], None]:
        def set_value(event: Any) -> None:
            setattr(target, attribute, event.value)
            self.changed()

        return set_value

    def _scalar_input(self, target: Any, attribute: str, spec: FieldSpec, *, label: str = "Value") -> None:
        value = getattr(target, attribute)
        on_change = self._setter(target, attribute)
        props = f'dense outlined data-testid="value-input" aria-label="{label}"'
        match spec.type:
            case FieldType.ENUM:
                ui.select(
                    list(spec.choices), value=value if value in spec.choices else None, on_change=on_change
                ).props(props).classes("min-w-[9rem]")
            case FieldType.BOOLEAN:
                ui.select({True: "true", False: "false"}, value=bool(value), on_change=on_change).props(props)
            case FieldType.NUMBER:
                ui.number(label, value=value, on_change=on_change, step=1 if spec.is_integer else 0.1).props(
                    props
                ).classes("w-28")
            case FieldType.MONEY:
                ui.number(label, value=value, on_change=on_change, step=0.01, format="%.2f").props(
                    f'{props} prefix="{self.currency_symbol}"'
                ).classes("w-32")
            case _:
                ui.input(label, value="" if value is None else str(value), on_change=on_change).props(props).classes(
                    "w-40"
                )

    def _time_input(self, time: TimeValue, *, is_point: bool, suffix: str = "ago") -> None:
        def redraw_mode(event: Any) -> None:
            time.mode = event.value
            self.structural()

        if is_point:
            ui.select({"ago": "relative", "date": "date"}, value=time.mode, on_change=redraw_mode).props(
                'dense outlined options-dense aria-label="Relative or absolute"'
            ).classes("w-28")
        if is_point and time.mode == "date":
            with (
                ui.input("Date", value=time.date, on_change=self._setter(time, "date"))
                .props('dense outlined placeholder="YYYY-MM-DD" data-testid="date-input"')
                .classes("w-40") as date_input,
                date_input.add_slot("append"),
            ):
                icon = ui.icon("event").classes("cursor-pointer")
                with ui.menu() as menu, ui.date(on_change=lambda: menu.close()).bind_value(date_input):
                    pass
                icon.on("click", menu.open)
            return
        # The number, its unit and "ago" stay on one line ("days" used to wrap under its number).
        with ui.row().classes("items-center gap-2 no-wrap").props('data-testid="time-span"'):
            ui.number("N", value=time.amount, min=0, step=1, on_change=self._setter(time, "amount")).props(
                'dense outlined aria-label="Amount" data-testid="time-amount"'
            ).classes("w-20")
            ui.select(list(TIME_UNITS), value=time.unit, on_change=self._setter(time, "unit")).props(
                'dense outlined options-dense aria-label="Unit"'
            ).classes("w-28")
            if suffix:
                ui.label(suffix).classes("fb-muted")

    def draw_value(self, comparison: Comparison, spec: FieldSpec) -> None:
        shape = comparison.shape
        match shape:
            case ValueShape.NONE:
                pass
            case ValueShape.SCALAR:
                self._scalar_input(comparison, "value", spec)
            case ValueShape.LIST:
                if spec.type is FieldType.ENUM:
                    ui.select(
                        list(spec.choices),
                        value=[item for item in comparison.items if item in spec.choices],
                        multiple=True,
                        on_change=self._setter(comparison, "items"),
                    ).props('dense outlined use-chips data-testid="value-input" aria-label="Values"').classes(
                        "min-w-[12rem]"
                    )
                else:
                    ui.input_chips(
                        "Values",
                        value=[str(item) for item in comparison.items],
                        on_change=self._setter(comparison, "items"),
                    ).props('dense outlined data-testid="value-input"').classes("min-w-[12rem]")
            case ValueShape.RANGE:
                if spec.type is FieldType.DATETIME:
                    self._time_input(comparison.time, is_point=True)
                    ui.label("and").classes("fb-muted")
                    self._time_input(comparison.time_high, is_point=True)
                else:
                    self._scalar_input(comparison, "low", spec, label="From")
                    ui.label("and").classes("fb-muted")
                    self._scalar_input(comparison, "high", spec, label="To")
            case ValueShape.TIME_POINT:
                self._time_input(comparison.time, is_point=True)
            case ValueShape.RELATIVE_TIME:
                self._time_input(comparison.time, is_point=False, suffix="ago")
            case ValueShape.DURATION:
                self._time_input(comparison.time, is_point=False, suffix="")

    def _name_select(self, node: Any, attribute: str, names: list[str], *, label: str) -> None:
        current = getattr(node, attribute)
        options = list(names) if current in names or not current else [*names, current]
        ui.select(options, value=current or None, with_input=True, on_change=self._setter(node, attribute)).props(
            f'dense outlined options-dense data-testid="{label.lower()}-select" aria-label="{label}"'
        ).classes("min-w-[12rem]")
        if not names:
            ui.label(f"(no {label.lower()}s yet)").classes("fb-muted text-caption")

    def draw_tag(self, node: TagNode) -> None:
        ui.label("has tag").classes("text-weight-medium")
        self._name_select(node, "tag", self.tags, label="Tag")

    def draw_list(self, node: ListNode) -> None:
        ui.label("on list").classes("text-weight-medium")
        self._name_select(node, "list_name", self.lists, label="List")
        ui.select(
            [status.value for status in ListStatus], value=node.status, on_change=self._setter(node, "status")
        ).props('dense outlined options-dense aria-label="Subscription status"').classes("w-36")

    def draw_segment(self, node: SegmentNode) -> None:
        ui.label("in segment").classes("text-weight-medium")
        self._name_select(node, "segment", self.segments, label="Segment")

    def draw_behaviour(self, node: BehaviourNode) -> None:
        """A behaviour condition as a sentence in the guide's words: "has [done an activity] [gig attended] [at
        least] [2] times [in the last] [365] [days]", "has [spent in total] on [merch] [more than] [$100]"."""
        what = behaviour_what(node)

        def set_what(event: Any) -> None:
            apply_what(node, str(event.value), self.catalogue)
            self.structural()

        def set_window(event: Any) -> None:
            node.window = event.value
            self.structural()

        with ui.column().classes("gap-1 w-full"):
            with ui.row().classes("items-center gap-2"):
                ui.label("has").classes("text-weight-medium")
                ui.select(
                    {key: words for key, (words, *_rest) in BEHAVIOURS.items()}, value=what, on_change=set_what
                ).props(
                    'dense outlined options-dense aria-label="What the fan did" data-testid="behaviour-what"'
                ).classes("min-w-[11rem]")
                main_field = MAIN_FILTERS.get(node.source)
                if main_field is not None:
                    self._main_filter_select(node, main_field)
                words = COUNT_WORDS if node.aggregate == "count" else AMOUNT_WORDS if node.measure else None
                self.draw_comparison(node.comparison, result_spec(self.catalogue, node), words=words)
                if node.aggregate == "count":
                    ui.label("times").classes("fb-muted")
                ui.select(
                    {"all_time": "all time", "within": "in the last", "between": "between"},
                    value=node.window,
                    on_change=set_window,
                ).props('dense outlined options-dense aria-label="When" data-testid="behaviour-window"').classes("w-32")
                if node.window == "within":
                    self._time_input(node.within, is_point=False, suffix="")
                elif node.window == "between":
                    self._time_input(node.between_low, is_point=True)
                    ui.label("and").classes("fb-muted")
                    self._time_input(node.between_high, is_point=True)
            for child in node.where:
                if child is not main_filter(node):
                    self.draw_where(node, child)
            with ui.row().classes("items-center gap-2"):
                if len(node.where) > 1:
                    ui.toggle(
                        {"all": "all", "any": "any"}, value=node.where_kind, on_change=self._setter(node, "where_kind")
                    ).props("dense no-caps").classes("fb-target")
                action_button(
                    "and where…",
                    icon="filter_alt",
                    on_click=lambda: self.add_where(node),
                    testid="add-where",
                    is_dense=True,
                ).classes("fb-target")

    def _main_filter_select(self, node: BehaviourNode, field_name: str) -> None:
        """The event type of an activity, or the category of orders: picked from what the workspace has seen (with
        counts), or typed; "any" when none is chosen."""
        seen = self.seen.event_types if field_name == "type" else self.seen.categories
        unit = "fans" if field_name == "type" else "orders"
        options: dict[str, str] = {"": "any type" if field_name == "type" else "any category"}
        options.update({item.value: f"{humanize(item.value)} ({item.count:,} {unit})" for item in seen})
        chosen = main_filter(node)
        value = str(chosen.comparison.value) if chosen is not None and chosen.comparison.value is not None else ""
        if value and value not in options:
            options[value] = humanize(value)

        def choose(event: Any) -> None:
            set_main_filter(node, field_name, str(event.value or ""))
            self.changed()

        if field_name == "category":
            ui.label("on").classes("fb-muted")
        label = "Event type" if field_name == "type" else "Category"
        ui.select(options, value=value, with_input=True, new_value_mode="add-unique", on_change=choose).props(
            f'dense outlined options-dense aria-label="{label}" data-testid="{field_name}-picker"'
        ).classes("min-w-[12rem]")

    def add_where(self, node: BehaviourNode) -> None:
        first = next(spec for spec in source_fields(node.source) if spec.name != MAIN_FILTERS.get(node.source))
        child = FieldNode(field_name=first.name)
        child.comparison.reset_for(first)
        node.where.append(child)
        self.structural()

    def draw_where(self, node: BehaviourNode, child: FieldNode) -> None:
        names = {spec.name: filter_title(spec.name) for spec in source_fields(node.source)}
        if node.source == Source.EVENTS.value:
            names.update({f"properties.{key}": filter_title(f"properties.{key}") for key in self.seen.event_properties})
        if child.field_name not in names:
            names[child.field_name] = filter_title(child.field_name)

        def set_field(event: Any) -> None:
            child.field_name = str(event.value)
            spec = source_field(self.catalogue, node.source, child.field_name)
            if spec is not None:
                child.comparison.reset_for(spec)
            self.structural()

        spec = source_field(self.catalogue, node.source, child.field_name) or FieldSpec(
            name=child.field_name, type=FieldType.TEXT
        )
        with ui.column().classes("gap-0 w-full q-pl-md"):
            # The remove button ends the filter's own line (it used to wrap onto a line of its own).
            with ui.row().classes("items-center gap-2 w-full no-wrap"):
                with ui.row().classes("items-center gap-2 col"):
                    ui.label("and where").classes("fb-muted")
                    self._not_toggle(child)
                    hint = ' hint="or type properties.<key>"' if node.source == Source.EVENTS.value else ""
                    ui.select(
                        names,
                        value=child.field_name,
                        with_input=True,
                        new_value_mode="add-unique",
                        on_change=set_field,
                    ).props(f'dense outlined options-dense aria-label="Filter field"{hint}').classes("w-40")
                    self.draw_comparison(child.comparison, spec)
                self._remove_button(node, child)
            self._errors_only(child)
