"""The condition builder's model: a mutable tree the dialog edits, to and from the rule's JSON form.

It is driven by the field catalogue and the one operator table (``operators_for`` / ``ValueShape``), so a new
field type or operator shows up here without a second copy. Validation stays in the services: the editor only
turns inputs into JSON and remembers where each node sits, so an ``InvalidRule`` path such as ``all[1].not.value``
lands on the condition it names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any
from typing import Literal

from fanbase.core.fields import MEASURING_AGGREGATES
from fanbase.core.fields import SOURCE_FIELDS
from fanbase.core.fields import Aggregate
from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.core.fields import Source
from fanbase.core.fields import aggregate_result_spec
from fanbase.core.operators import OPERATORS
from fanbase.core.operators import Op
from fanbase.core.operators import ValueShape
from fanbase.core.operators import operators_for
from fanbase.core.time import TimeUnit

TIME_UNITS: tuple[str, ...] = tuple(unit.value for unit in TimeUnit)
_AGO_RE = re.compile(r"^\s*(\d+)\s+(\w+?)s?\s+ago\s*$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s+(\w+?)s?\s*$")
# What a freshly picked field starts with: the comparison people reach for first.
_DEFAULT_OPS: dict[FieldType, Op] = {
    FieldType.DATETIME: Op.WITHIN_LAST,
    FieldType.ENUM: Op.IN,
    FieldType.NUMBER: Op.GT,
    FieldType.MONEY: Op.GT,
    FieldType.TEXT: Op.EQ,
    FieldType.BOOLEAN: Op.IS_TRUE,
    FieldType.ANY: Op.EQ,
}


class UnsupportedRule(ValueError):
    """A rule the builder cannot show (e.g. nested groups inside a behaviour filter): edit it as text."""


def _unit(word: str) -> str:
    word = word.lower().rstrip("s")
    for unit in TIME_UNITS:
        if unit.rstrip("s") == word:
            return unit
    return "days"


@dataclass
class TimeValue:
    """A time point ("30 days ago" or a date) or a duration ("30 days"), as the inputs hold it."""

    mode: Literal["ago", "date"] = "ago"
    amount: int | None = 30
    unit: str = "days"
    date: str = ""

    def point_json(self) -> str | None:
        if self.mode == "date":
            return self.date.strip() or None
        return None if self.amount is None else f"{int(self.amount)} {self.unit} ago"

    def duration_json(self) -> str | None:
        return None if self.amount is None else f"{int(self.amount)} {self.unit}"

    @classmethod
    def parse(cls, raw: object) -> TimeValue:
        text = str(raw) if raw is not None else ""
        if match := _AGO_RE.match(text):
            return cls(mode="ago", amount=int(match.group(1)), unit=_unit(match.group(2)))
        if match := _DURATION_RE.match(text):
            return cls(mode="ago", amount=int(match.group(1)), unit=_unit(match.group(2)))
        return cls(mode="date", amount=30, date=text)


def _number(raw: Any, *, is_money: bool = False) -> Any:
    if raw is None or raw == "":
        return None
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        return raw  # let validation name the problem
    if amount == amount.to_integral_value():
        return int(amount)
    # JSON numbers: validation keeps money to 2 decimal places and 15 significant digits, which a double holds.
    return float(amount.quantize(Decimal("0.01"))) if is_money else float(amount)


def _loose_scalar(raw: Any) -> Any:
    """An event property's value: its JSON type is the user's text read as a boolean, a number or a text."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _number(text)
    return raw


@dataclass
class Comparison:
    """An operator and its value inputs; which inputs are used depends on the operator's value shape."""

    op: str = "="
    value: Any = None
    items: list[Any] = field(default_factory=list)
    low: Any = None
    high: Any = None
    time: TimeValue = field(default_factory=TimeValue)
    time_high: TimeValue = field(default_factory=lambda: TimeValue(amount=0))

    @property
    def shape(self) -> ValueShape:
        return OPERATORS[Op(self.op)].shape

    def reset_for(self, spec: FieldSpec, *, keep_op: bool = False) -> None:
        """Fresh inputs for a newly chosen field: its type's usual operator (or the current one, if it applies)."""
        allowed = [row.op.value for row in operators_for(spec.type)]
        if not keep_op or self.op not in allowed:
            default = _DEFAULT_OPS.get(spec.type, Op.EQ).value
            self.op = default if default in allowed else allowed[0]
        self.value, self.items, self.low, self.high = None, [], None, None
        if spec.type is FieldType.ENUM and spec.choices:
            self.value = spec.choices[0]
        if spec.type is FieldType.BOOLEAN:
            self.value = True

    def scalar(self, spec: FieldSpec, raw: Any) -> Any:
        match spec.type:
            case FieldType.NUMBER:
                return _number(raw)
            case FieldType.MONEY:
                return _number(raw, is_money=True)
            case FieldType.ANY:
                return _loose_scalar(raw)
            case FieldType.BOOLEAN:
                return raw if isinstance(raw, bool) else str(raw).lower() == "true"
            case _:
                return raw

    def to_json(self, spec: FieldSpec) -> dict[str, Any]:
        shape = self.shape
        value: Any
        match shape:
            case ValueShape.NONE:
                return {"op": self.op}
            case ValueShape.SCALAR:
                value = self.scalar(spec, self.value)
            case ValueShape.LIST:
                value = [self.scalar(spec, item) for item in self.items]
            case ValueShape.RANGE:
                if spec.type is FieldType.DATETIME:
                    value = [self.time.point_json(), self.time_high.point_json()]
                else:
                    value = [self.scalar(spec, self.low), self.scalar(spec, self.high)]
            case ValueShape.TIME_POINT:
                value = self.time.point_json()
            case ValueShape.RELATIVE_TIME:
                value = None if self.time.amount is None else f"{int(self.time.amount)} {self.time.unit} ago"
            case ValueShape.DURATION:
                value = self.time.duration_json()
        return {"op": self.op, "value": value}

    @classmethod
    def from_json(cls, op: str, value: Any) -> Comparison:
        comparison = cls(op=op)
        match comparison.shape:
            case ValueShape.NONE:
                pass
            case ValueShape.SCALAR:
                comparison.value = value
            case ValueShape.LIST:
                comparison.items = list(value or [])
            case ValueShape.RANGE:
                low, high = [*value, None, None][:2] if isinstance(value, list) else (None, None)
                comparison.low, comparison.high = low, high
                comparison.time, comparison.time_high = TimeValue.parse(low), TimeValue.parse(high)
            case ValueShape.TIME_POINT | ValueShape.RELATIVE_TIME | ValueShape.DURATION:
                comparison.time = TimeValue.parse(value)
        return comparison


@dataclass(eq=False)
class Node:
    is_negated: bool = False
    errors: list[str] = field(default_factory=list)
    count: int | None = None  # this condition's own size (top-level conditions only)


@dataclass(eq=False)
class FieldNode(Node):
    field_name: str = "lifecycle_stage"
    comparison: Comparison = field(default_factory=Comparison)


@dataclass(eq=False)
class TagNode(Node):
    tag: str = ""


@dataclass(eq=False)
class ListNode(Node):
    list_name: str = ""
    status: str = "subscribed"


@dataclass(eq=False)
class SegmentNode(Node):
    segment: str = ""


@dataclass(eq=False)
class BehaviourNode(Node):
    aggregate: str = "count"
    source: str = "orders"
    measure: str | None = None  # sum/min/max read this field
    where: list[FieldNode] = field(default_factory=list)
    where_kind: Literal["all", "any"] = "all"
    # No silent time window: "all time" unless the user picks one.
    window: Literal["all_time", "within", "between"] = "all_time"
    within: TimeValue = field(default_factory=lambda: TimeValue(amount=365))
    between_low: TimeValue = field(default_factory=lambda: TimeValue(amount=90))
    between_high: TimeValue = field(default_factory=lambda: TimeValue(amount=0))
    comparison: Comparison = field(default_factory=lambda: Comparison(op=">=", value=1))


@dataclass(eq=False)
class GroupNode(Node):
    kind: Literal["all", "any"] = "all"
    children: list[Node] = field(default_factory=list)


ConditionKind = Literal["field", "tag", "list", "segment", "behaviour", "group"]


def source_fields(source: str) -> tuple[FieldSpec, ...]:
    return SOURCE_FIELDS[Source(source)]


def source_field(catalogue: Catalogue, source: str, name: str) -> FieldSpec | None:
    return catalogue.source_field(Source(source), name)


def result_spec(catalogue: Catalogue, node: BehaviourNode) -> FieldSpec:
    """What a behaviour condition's result is compared as (count: a whole number; sum: money; last: a time)."""
    aggregate = Aggregate(node.aggregate)
    measured = None
    if aggregate in MEASURING_AGGREGATES:
        measured = source_field(catalogue, node.source, node.measure or "") or FieldSpec(
            name="amount", type=FieldType.MONEY
        )
    return aggregate_result_spec(aggregate, measured)


# What a behaviour condition is about, in the guide's words: key → (words after "has", aggregate, source, measure).
# Every aggregate of every source is here, so any stored rule has its sentence.
BEHAVIOURS: dict[str, tuple[str, str, str, str | None]] = {
    "activity": ("done an activity", "count", "events", None),
    "orders": ("placed orders", "count", "orders", None),
    "spent": ("spent in total", "sum", "orders", "amount"),
    "largest": ("placed a largest order of", "max", "orders", "amount"),
    "smallest": ("placed a smallest order of", "min", "orders", "amount"),
    "first_order": ("placed a first order", "first", "orders", None),
    "last_order": ("placed a last order", "last", "orders", None),
    "first_activity": ("had a first activity", "first", "events", None),
    "last_activity": ("had a last activity", "last", "events", None),
    "refunds": ("had refunds", "count", "refunds", None),
    "refunded": ("been refunded in total", "sum", "refunds", "amount"),
    "largest_refund": ("had a largest refund of", "max", "refunds", "amount"),
    "smallest_refund": ("had a smallest refund of", "min", "refunds", "amount"),
    "first_refund": ("had a first refund", "first", "refunds", None),
    "last_refund": ("had a last refund", "last", "refunds", None),
}
# The filter a behaviour sentence names in its first line: an activity's type, orders' (or refunds') category.
MAIN_FILTERS = {"events": "type", "orders": "category", "refunds": "category"}


def behaviour_what(node: BehaviourNode) -> str:
    """The key of ``BEHAVIOURS`` that a behaviour condition is."""
    for key, (_, aggregate, source, _measure) in BEHAVIOURS.items():
        if (aggregate, source) == (node.aggregate, node.source):
            return key
    raise ValueError(f"no words for {node.aggregate} of {node.source}")


def apply_what(node: BehaviourNode, key: str, catalogue: Catalogue) -> None:
    """Make a behaviour condition the one ``key`` names; a new source starts without filters."""
    _, aggregate, source, measure = BEHAVIOURS[key]
    if source != node.source:
        node.where = []
    node.aggregate, node.source, node.measure = aggregate, source, measure
    node.comparison.reset_for(result_spec(catalogue, node))
    if aggregate == "count":
        node.comparison.op, node.comparison.value = ">=", 1


def main_filter(node: BehaviourNode) -> FieldNode | None:
    """The filter the sentence's first line shows: ``type = …`` of an activity, ``category = …`` of orders — when
    the filters are all required (an "any" of several would make it one alternative among others)."""
    field_name = MAIN_FILTERS.get(node.source)
    if field_name is None or (node.where_kind == "any" and len(node.where) > 1):
        return None
    for child in node.where:
        if child.field_name == field_name and child.comparison.op == "=" and not child.is_negated:
            return child
    return None


def set_main_filter(node: BehaviourNode, field_name: str, value: str) -> None:
    """Choose the activity's type or the orders' category (``""``: any)."""
    current = main_filter(node)
    if not value:
        if current is not None:
            node.where.remove(current)
        return
    if current is None:
        node.where.insert(0, FieldNode(field_name=field_name, comparison=Comparison(op="=", value=value)))
    else:
        current.comparison.value = value


def fan_spec(catalogue: Catalogue, name: str) -> FieldSpec:
    return catalogue.fan_field(name) or FieldSpec(name=name, type=FieldType.TEXT)


def new_condition(kind: ConditionKind, catalogue: Catalogue) -> Node:
    match kind:
        case "field":
            node = FieldNode(field_name="total_spent")
            node.comparison.reset_for(fan_spec(catalogue, node.field_name))
            return node
        case "tag":
            return TagNode()
        case "list":
            return ListNode()
        case "segment":
            return SegmentNode()
        case "behaviour":
            return BehaviourNode()
        case "group":
            return GroupNode(kind="any")


# --------------------------------------------------------------------------------------------------------------
# To JSON (remembering where each node lands) and back.
# --------------------------------------------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass
class Compiled:
    rule: dict[str, Any] | None
    paths: list[tuple[str, Node]]  # the path of each node's own JSON (inside its "not", if negated)

    def node_at(self, error_path: str) -> Node | None:
        """The innermost node an error path falls in."""
        best: tuple[int, Node] | None = None
        for path, node in self.paths:
            if (
                path == ""
                or error_path == path
                or error_path.startswith(path + ".")
                or error_path.startswith(path + "[")
            ) and (best is None or len(path) > best[0]):
                best = (len(path), node)
        return best[1] if best else None


class _RuleAssembler:
    """Turns the builder tree into rule JSON, noting the JSON path of every node (to place errors on it)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.paths: list[tuple[str, Node]] = []

    def wrap(self, node: Node, path: str, build: Any) -> dict[str, Any]:
        inner_path = _join(path, "not") if node.is_negated else path
        self.paths.append((inner_path, node))
        inner: dict[str, Any] = build(inner_path)
        return {"not": inner} if node.is_negated else inner

    def node(self, node: Node, path: str) -> dict[str, Any]:
        return self.wrap(node, path, lambda inner: self.inner(node, inner))

    def inner(self, node: Node, path: str) -> dict[str, Any]:
        match node:
            case GroupNode():
                return {
                    node.kind: [
                        self.node(child, f"{_join(path, node.kind)}[{i}]") for i, child in enumerate(node.children)
                    ]
                }
            case FieldNode():
                spec = fan_spec(self.catalogue, node.field_name)
                return {"field": node.field_name, **node.comparison.to_json(spec)}
            case TagNode():
                return {"tag": node.tag}
            case ListNode():
                return {"list": node.list_name, "status": node.status}
            case SegmentNode():
                return {"segment": node.segment}
            case BehaviourNode():
                return self.behaviour(node, path)
            case _:
                raise TypeError(f"unknown node {node!r}")

    def where_node(self, node: FieldNode, source: str, path: str) -> dict[str, Any]:
        spec = source_field(self.catalogue, source, node.field_name) or FieldSpec(
            name=node.field_name, type=FieldType.TEXT
        )
        return self.wrap(node, path, lambda _inner: {"field": node.field_name, **node.comparison.to_json(spec)})

    def behaviour(self, node: BehaviourNode, path: str) -> dict[str, Any]:
        query_path = _join(path, node.aggregate)
        query: dict[str, Any] = {"of": node.source}
        if Aggregate(node.aggregate) in MEASURING_AGGREGATES:
            query["field"] = node.measure or "amount"
        if len(node.where) == 1:
            query["where"] = self.where_node(node.where[0], node.source, _join(query_path, "where"))
        elif node.where:
            group_path = _join(_join(query_path, "where"), node.where_kind)
            query["where"] = {
                node.where_kind: [
                    self.where_node(child, node.source, f"{group_path}[{i}]") for i, child in enumerate(node.where)
                ]
            }
        if node.window == "within":
            query["within"] = node.within.duration_json()
        elif node.window == "between":
            query["between"] = [node.between_low.point_json(), node.between_high.point_json()]
        return {node.aggregate: query, **node.comparison.to_json(result_spec(self.catalogue, node))}


def compile_tree(root: GroupNode, catalogue: Catalogue) -> Compiled:
    """The rule JSON of the tree (None while it has no condition) and where each node sits in it."""
    if not root.children:
        return Compiled(rule=None, paths=[])
    assembler = _RuleAssembler(catalogue)
    if len(root.children) == 1 and not root.is_negated:
        # A group of one is just its condition: the text form stays as written ("x > 1", not "all(x > 1)").
        rule = assembler.node(root.children[0], "")
    else:
        rule = assembler.node(root, "")
    return Compiled(rule=rule, paths=assembler.paths)


def _unwrap_not(data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    if set(data) == {"not"} and isinstance(data["not"], dict):
        inner = data["not"]
        if set(inner) == {"not"}:
            return {"all": [inner]}, True  # not not x: keep both, as a group of one
        return inner, True
    return data, False


def _where_from_json(data: dict[str, Any]) -> tuple[list[FieldNode], Literal["all", "any"]]:
    def field_node(item: dict[str, Any]) -> FieldNode:
        inner, negated = _unwrap_not(item)
        if "field" not in inner:
            raise UnsupportedRule("nested groups inside a behaviour filter")
        return FieldNode(
            is_negated=negated,
            field_name=inner["field"],
            comparison=Comparison.from_json(inner["op"], inner.get("value")),
        )

    if "all" in data:
        return [field_node(item) for item in data["all"]], "all"
    if "any" in data:
        return [field_node(item) for item in data["any"]], "any"
    return [field_node(data)], "all"


def node_from_json(data: dict[str, Any]) -> Node:
    inner, negated = _unwrap_not(data)
    node: Node
    if "all" in inner or "any" in inner:
        kind: Literal["all", "any"] = "all" if "all" in inner else "any"
        node = GroupNode(kind=kind, children=[node_from_json(child) for child in inner[kind]])
    elif "field" in inner:
        node = FieldNode(field_name=inner["field"], comparison=Comparison.from_json(inner["op"], inner.get("value")))
    elif "tag" in inner:
        node = TagNode(tag=inner["tag"])
    elif "list" in inner:
        node = ListNode(list_name=inner["list"], status=inner.get("status", "subscribed"))
    elif "segment" in inner:
        node = SegmentNode(segment=inner["segment"])
    else:
        aggregate = next((a.value for a in Aggregate if a.value in inner), None)
        if aggregate is None:
            raise UnsupportedRule(f"unknown condition {sorted(inner)}")
        query = inner[aggregate]
        behaviour = BehaviourNode(
            aggregate=aggregate,
            source=query["of"],
            measure=query.get("field"),
            comparison=Comparison.from_json(inner["op"], inner.get("value")),
        )
        if "where" in query:
            behaviour.where, behaviour.where_kind = _where_from_json(query["where"])
        if "within" in query:
            behaviour.window, behaviour.within = "within", TimeValue.parse(query["within"])
        elif "between" in query:
            behaviour.window = "between"
            behaviour.between_low, behaviour.between_high = (TimeValue.parse(v) for v in query["between"])
        else:
            behaviour.window = "all_time"
        node = behaviour
    node.is_negated = negated
    return node


def tree_from_json(rule: dict[str, Any] | None) -> GroupNode:
    """The builder's tree for a rule: the top level is always a group (a lone condition becomes a group of one)."""
    if rule is None:
        return GroupNode(kind="all")
    node = node_from_json(rule)
    if isinstance(node, GroupNode) and not node.is_negated:
        return node
    return GroupNode(kind="all", children=[node])


def walk_nodes(node: Node) -> Iterator[Node]:
    """The node and every node below it (a group's children, a behaviour's where conditions), parents first."""
    yield node
    if isinstance(node, GroupNode):
        for child in node.children:
            yield from walk_nodes(child)
    if isinstance(node, BehaviourNode):
        for child in node.where:
            yield from walk_nodes(child)


def clear_feedback(node: Node) -> None:
    for each in walk_nodes(node):
        each.errors = []
        each.count = None
