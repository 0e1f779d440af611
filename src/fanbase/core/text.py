"""The text form of rules: ``parse_rule_text`` and ``format_rule`` (grammar in ``rules.lark``).

Syntax, by example::

    lifecycle_stage in (customer, advocate) and total_spent > 100 and (tag "VIP" or list "Fan Club")
      and count(orders where category = "merch" within 365 days) >= 2 and last_active_at more_than 30 days ago
    not segment "Refund Abusers"
    sum(amount of orders where category = "merch") > 100
    max(amount of refunds between 2024-01-01 and 2024-06-30) >= 50
    last(events where type = "gig_attended" and properties.city = "Paris") within_last 90 days
    count(events where type = "email_opened" within 30 days) = 0
    last_active_at before 30 days ago          created_at between 2024-01-01 and 2024-06-30
    email contains "@gmail"                    city is_set
    created_at after 2024-03-01T12:00:00Z      newsletter_opt_in is_true
    list "Newsletter" status bounced           all(tag "VIP")   any(a, b)

- ``or`` binds loosest, then ``and``, then ``not``; parentheses group.
- A condition is ``field operator value``; the operator keywords are those of the operator table
  (``= != > >= < <= between contains starts_with ends_with is_empty in not_in before after within_last
  more_than is_true is_false is_set is_not_set``). ``between`` takes ``low and high``; ``in`` takes
  ``(a, b, …)``; ``within_last`` takes ``N units``; ``more_than`` takes ``N units ago``.
- Values: ``"text"`` (JSON string escapes), numbers (``100``, ``100.50``, ``-3``), ``true``/``false``, dates
  ``2024-01-31``, UTC datetimes ``2024-01-31T18:00:00Z``, ``N units ago`` (units: hour(s), day(s), week(s),
  month(s) — a month is 30 days). A bare word (``customer``) is a text value.
- Tags, lists and segments are quoted names (a bare word works too); a list's status defaults to subscribed.
- Behaviour: ``count|first|last(SOURCE [where FILTER] [WINDOW])`` and ``sum|min|max(FIELD of SOURCE [where
  FILTER] [WINDOW])``, where SOURCE is orders, refunds or events, FILTER is and/or/not of conditions on the
  rows' fields (``properties.key`` for event properties) and WINDOW is ``within N units`` or
  ``between A and B``. Then an operator and a value, as for a field.
- A field whose name is a keyword (``count``, ``tag``…) is written in backquotes: `` `count` > 3 ``.
- ``all(a, b, …)`` / ``any(a, b, …)`` write groups explicitly; ``format_rule`` uses them only for one-member
  groups, so that ``parse_rule_text(format_rule(rule)) == rule`` for every rule.
"""

from __future__ import annotations

import json
import re
from datetime import date
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any
from typing import assert_never

from lark import Lark
from lark import Token
from lark import Transformer
from lark import v_args
from lark.exceptions import UnexpectedCharacters
from lark.exceptions import UnexpectedEOF
from lark.exceptions import UnexpectedInput
from lark.exceptions import UnexpectedToken
from lark.exceptions import VisitError
from lark.lexer import PatternStr
from pydantic import ValidationError

from fanbase.core.fields import PROPERTY_PREFIX
from fanbase.core.fields import Aggregate
from fanbase.core.fields import ListStatus
from fanbase.core.operators import OPERATORS
from fanbase.core.operators import Op
from fanbase.core.operators import RuleValue
from fanbase.core.operators import ValueShape
from fanbase.core.operators import operators_with_shape
from fanbase.core.rule_builders import where_from_rule
from fanbase.core.rule_limits import check_rule_text
from fanbase.core.rules import BEHAVIOUR_CLASSES
from fanbase.core.rules import AllOf
from fanbase.core.rules import AnyOf
from fanbase.core.rules import BehaviourAggregate
from fanbase.core.rules import BehaviourCondition
from fanbase.core.rules import BehaviourQuery
from fanbase.core.rules import FieldCondition
from fanbase.core.rules import HasTag
from fanbase.core.rules import InList
from fanbase.core.rules import InSegment
from fanbase.core.rules import Not
from fanbase.core.rules import Rule
from fanbase.core.rules import Where
from fanbase.core.rules import WhereAllOf
from fanbase.core.rules import WhereAnyOf
from fanbase.core.rules import WhereNot
from fanbase.core.rules import rule_errors_from_validation
from fanbase.core.time import UNIT_SPELLINGS
from fanbase.core.time import Duration
from fanbase.core.time import RelativeTime
from fanbase.core.time import format_time_point
from fanbase.core.time import parse_time_point
from fanbase.errors import InvalidRule
from fanbase.errors import RuleError

_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# The grammar rule that reads each value shape; text.py appends one alternative per operator to it.
_SHAPE_RULES: dict[ValueShape, str] = {
    ValueShape.NONE: "no_value_op",
    ValueShape.SCALAR: "scalar_op",
    ValueShape.LIST: "list_op",
    ValueShape.RANGE: "range_op",
    ValueShape.TIME_POINT: "time_point_op",
    ValueShape.RELATIVE_TIME: "relative_time_op",
    ValueShape.DURATION: "duration_op",
}

# How the parser's terminals are named in "expected …" messages.
_TERMINAL_DESCRIPTIONS: dict[str, str] = {
    "NAME": "a name",
    "QUOTED_NAME": "a `quoted` field name",
    "STRING": 'a "quoted text"',
    "NUMBER": "a number",
    "DATE": "a date (2024-01-31)",
    "DATETIME": "a UTC datetime (2024-01-31T18:00:00Z)",
    "UNIT": "a time unit (hours, days, weeks, months)",
    "$END": "the end of the rule",
}


def grammar_text() -> str:
    """rules.lark plus the operator rules generated from the operator table."""
    base = resources.files("fanbase.core").joinpath("rules.lark").read_text(encoding="utf-8")
    operator_rules = []
    for shape, rule_name in _SHAPE_RULES.items():
        keywords = " | ".join(json.dumps(row.keyword) for row in operators_with_shape(shape))
        operator_rules.append(f"!{rule_name}: {keywords}")
    return base + "\n// Generated from fanbase.core.operators.OPERATORS\n" + "\n".join(operator_rules) + "\n"


@cache
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", propagate_positions=True, maybe_placeholders=True)


@cache
def reserved_words() -> frozenset[str]:
    """Words that cannot be a bare field name or value: the grammar's keywords and the time units."""
    keywords = {
        terminal.pattern.value
        for terminal in _parser().terminals
        if isinstance(terminal.pattern, PatternStr) and _IDENTIFIER_RE.match(terminal.pattern.value)
    }
    return frozenset(keywords | set(UNIT_SPELLINGS))


# --------------------------------------------------------------------------------------------------------------
# Parsing.
# --------------------------------------------------------------------------------------------------------------


class _TextProblem(Exception):
    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def _problem_from_validation(error: ValidationError) -> str:
    return "; ".join(
        f"{problem.path}: {problem.message}" if problem.path else problem.message
        for problem in rule_errors_from_validation(error)
    )


def _at(meta: Any, problem: str) -> _TextProblem:
    line = getattr(meta, "line", None)
    column = getattr(meta, "column", None)
    return _TextProblem(problem, line=line, column=column)


def _amount(token: Token) -> int:
    if not re.fullmatch(r"\d+", str(token)):
        raise _TextProblem(f"an amount of time is a whole number, got {token}", line=token.line, column=token.column)
    return int(token)


@v_args(inline=True)
class _ToRule(Transformer[Token, Rule]):
    """Parse tree → rule tree. Subjects are a field name (str) or an (aggregate, query) pair."""

    # Values.
    def text_value(self, token: Token) -> str:
        return str(json.loads(token))

    def number_value(self, token: Token) -> int | Decimal:
        return Decimal(str(token)) if "." in token else int(token)

    def date_value(self, token: Token) -> date:
        try:
            return date.fromisoformat(str(token))
        except ValueError:
            raise _TextProblem(f"{token} is not a valid date", line=token.line, column=token.column) from None

    def datetime_value(self, token: Token) -> datetime:
        try:
            point = parse_time_point(str(token))
        except ValueError as error:
            raise _TextProblem(str(error), line=token.line, column=token.column) from None
        assert isinstance(point, datetime)
        return point

    def true_value(self) -> bool:
        return True

    def false_value(self) -> bool:
        return False

    def word_value(self, token: Token) -> str:
        return str(token)

    def relative_time(self, amount: Token, unit: Token) -> RelativeTime:
        return RelativeTime(_amount(amount), UNIT_SPELLINGS[str(unit)])

    def duration(self, amount: Token, unit: Token) -> Duration:
        return Duration(_amount(amount), UNIT_SPELLINGS[str(unit)])

    def name(self, token: Token) -> str:
        return str(json.loads(token)) if token.type == "STRING" else str(token)

    def field_name(self, token: Token) -> str:
        return str(token)[1:-1] if token.type == "QUOTED_NAME" else str(token)

    def field(self, *names: str) -> str:
        return ".".join(names)

    # Operators: one rule per value shape, generated from the operator table.
    def _op(self, token: Token) -> Op:
        return Op(str(token))

    no_value_op = scalar_op = list_op = range_op = time_point_op = relative_time_op = duration_op = _op

    # Conditions.
    @v_args(meta=True, inline=False)
    def no_value_condition(self, meta: Any, children: list[Any]) -> Rule:
        subject, op = children
        return self._compare(meta, subject, op, None)

    @v_args(meta=True, inline=False)
    def scalar_condition(self, meta: Any, children: list[Any]) -> Rule:
        subject, op, value = children
        return self._compare(meta, subject, op, value)

    time_point_condition = relative_time_condition = duration_condition = scalar_condition

    @v_args(meta=True, inline=False)
    def list_condition(self, meta: Any, children: list[Any]) -> Rule:
        subject, op, *values = children
        return self._compare(meta, subject, op, tuple(values))

    @v_args(meta=True, inline=False)
    def range_condition(self, meta: Any, children: list[Any]) -> Rule:
        subject, op, low, high = children
        return self._compare(meta, subject, op, (low, high))

    def _compare(self, meta: Any, subject: str | tuple[Aggregate, BehaviourQuery], op: Op, value: object) -> Rule:
        try:
            if isinstance(subject, str):
                return FieldCondition.model_validate({"field": subject, "op": op, "value": value})
            aggregate, query = subject
            return BEHAVIOUR_CLASSES[aggregate].model_validate({aggregate.value: query, "op": op, "value": value})
        except ValidationError as error:
            raise _at(meta, _problem_from_validation(error)) from None

    # Behaviour.
    @v_args(meta=True, inline=False)
    def source_query(self, meta: Any, children: list[Any]) -> BehaviourQuery:
        source, where, window = children
        data: dict[str, object] = {"of": str(source), "where": where}
        if window is not None:
            key, window_value = window
            data[key] = window_value
        try:
            return BehaviourQuery.model_validate(data)
        except ValidationError as error:
            raise _at(meta, _problem_from_validation(error)) from None

    @v_args(meta=True, inline=False)
    def where(self, meta: Any, children: list[Any]) -> Where:
        try:
            return where_from_rule(children[0])
        except ValueError as error:
            raise _at(meta, str(error)) from None

    def within_window(self, duration: Duration) -> tuple[str, object]:
        return "within", duration

    def between_window(self, low: object, high: object) -> tuple[str, object]:
        return "between", (low, high)

    def count_of(self, query: BehaviourQuery) -> tuple[Aggregate, BehaviourQuery]:
        return Aggregate.COUNT, query

    def first_of(self, query: BehaviourQuery) -> tuple[Aggregate, BehaviourQuery]:
        return Aggregate.FIRST, query

    def last_of(self, query: BehaviourQuery) -> tuple[Aggregate, BehaviourQuery]:
        return Aggregate.LAST, query

    def sum_of(self, field_name: str, query: BehaviourQuery) -> tuple[Aggregate, BehaviourQuery]:
        return Aggregate.SUM, query.model_copy(update={"field": field_name})

    def min_of(self, field_name: str, query: BehaviourQuery) -> tuple[Aggregate, BehaviourQuery]:
        return Aggregate.MIN, query.model_copy(update={"field": field_name})

    def max_of(self, field_name: str, query: BehaviourQuery) -> tuple[Aggregate, BehaviourQuery]:
        return Aggregate.MAX, query.model_copy(update={"field": field_name})

    # References.
    def has_tag(self, name: str) -> HasTag:
        return HasTag(tag=name)

    def in_list(self, name: str, status: Token | None) -> InList:
        if status is None:
            return InList(list_name=name)
        try:
            return InList(list_name=name, status=ListStatus(str(status)))
        except ValueError:
            choices = ", ".join(item.value for item in ListStatus)
            raise _TextProblem(
                f"list status is one of {choices}, got {status}", line=status.line, column=status.column
            ) from None

    def in_segment(self, name: str) -> InSegment:
        return InSegment(segment=name)

    # Structure.
    def disjunction(self, *rules: Rule) -> AnyOf:
        return AnyOf(rules=rules)

    def conjunction(self, *rules: Rule) -> AllOf:
        return AllOf(rules=rules)

    def all_group(self, *rules: Rule) -> AllOf:
        return AllOf(rules=tuple(rule for rule in rules if rule is not None))

    def any_group(self, *rules: Rule) -> AnyOf:
        return AnyOf(rules=tuple(rule for rule in rules if rule is not None))

    def negation(self, rule: Rule) -> Not:
        return Not(rule=rule)


def _describe_terminals(names: set[str]) -> str:
    parser = _parser()
    described = set()
    for name in names:
        if name in _TERMINAL_DESCRIPTIONS:
            described.add(_TERMINAL_DESCRIPTIONS[name])
            continue
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            described.add(name)
            continue
        described.add(f"'{pattern.value}'" if isinstance(pattern, PatternStr) else name.lower())
    return ", ".join(sorted(described))


def _syntax_problem(error: UnexpectedInput, text: str) -> str:
    match error:
        case UnexpectedToken():
            found = "the end of the rule" if error.token.type == "$END" else f"'{error.token}'"
            where = f"line {error.line}, column {error.column}"
            if error.token.type == "$END":
                lines = text.splitlines() or [""]
                where = f"line {len(lines)}, column {len(lines[-1]) + 1}"
            return f"{where}: unexpected {found}; expected one of: {_describe_terminals(set(error.expected))}"
        case UnexpectedCharacters():
            expected = _describe_terminals(set(error.allowed)) if error.allowed else "something else"
            return f"line {error.line}, column {error.column}: unexpected '{error.char}'; expected one of: {expected}"
        case UnexpectedEOF():
            lines = text.splitlines() or [""]
            return (
                f"line {len(lines)}, column {len(lines[-1]) + 1}: the rule ends too early; "
                f"expected one of: {_describe_terminals(set(error.expected))}"
            )
        case _:
            return str(error)


def parse_rule_text(text: str) -> Rule:
    """A rule from its text form (structure only; see ``validate_rule``). Raises ``InvalidRule``."""
    if not text.strip():
        raise InvalidRule([RuleError("", "the rule is empty")])
    check_rule_text(text)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise InvalidRule([RuleError("", _syntax_problem(error, text))]) from None
    try:
        rule: Rule = _ToRule().transform(tree)
    except VisitError as error:
        problem = error.orig_exc
        if isinstance(problem, _TextProblem):
            position = f"line {problem.line}, column {problem.column}: " if problem.line is not None else ""
            raise InvalidRule([RuleError("", f"{position}{problem.message}")]) from None
        if isinstance(problem, ValidationError):
            raise InvalidRule(rule_errors_from_validation(problem)) from None
        if isinstance(problem, ValueError):
            raise InvalidRule([RuleError("", str(problem))]) from None
        raise
    return rule


# --------------------------------------------------------------------------------------------------------------
# Formatting.
# --------------------------------------------------------------------------------------------------------------


def _is_bare_word(text: str) -> bool:
    return bool(_IDENTIFIER_RE.match(text)) and text not in reserved_words() and text not in ("true", "false")


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def format_field_name(name: str) -> str:
    def part(piece: str) -> str:
        return piece if _is_bare_word(piece) else f"`{piece}`"

    if name.startswith(PROPERTY_PREFIX):
        return "properties." + part(name.removeprefix(PROPERTY_PREFIX))
    return part(name)


def format_value(value: RuleValue, *, is_bare_allowed: bool = False) -> str:
    match value:
        case None:
            return ""
        case bool():
            return "true" if value else "false"
        case int():
            return str(value)
        case Decimal():
            return format(value, "f")
        case str():
            return value if is_bare_allowed and _is_bare_word(value) else _quoted(value)
        case datetime() | date() | RelativeTime():
            return format_time_point(value)
        case Duration():
            return str(value)
        case tuple():
            return ", ".join(format_value(item, is_bare_allowed=is_bare_allowed) for item in value)
        case _:
            assert_never(value)


def _format_comparison(subject: str, op: Op, value: RuleValue) -> str:
    shape = OPERATORS[op].shape
    match shape:
        case ValueShape.NONE:
            return f"{subject} {op}"
        case ValueShape.LIST:
            return f"{subject} {op} ({format_value(value, is_bare_allowed=True)})"
        case ValueShape.RANGE:
            assert isinstance(value, tuple) and len(value) == 2
            return f"{subject} {op} {format_value(value[0])} and {format_value(value[1])}"
        case ValueShape.SCALAR | ValueShape.TIME_POINT | ValueShape.RELATIVE_TIME | ValueShape.DURATION:
            return f"{subject} {op} {format_value(value)}"
        case _:
            assert_never(shape)


def format_behaviour_subject(condition: BehaviourCondition) -> str:
    aggregate, query = condition.aggregate, condition.query
    parts = [query.of.value]
    if query.field is not None:
        parts.insert(0, f"{format_field_name(query.field)} of")
    if query.where is not None:
        parts.append(f"where {_format(query.where, is_nested=False)}")
    if query.within is not None:
        parts.append(f"within {query.within}")
    if query.between is not None:
        low, high = query.between
        parts.append(f"between {format_time_point(low)} and {format_time_point(high)}")
    return f"{aggregate.value}({' '.join(parts)})"


def _format(node: Rule | Where, *, is_nested: bool) -> str:
    """A rule, or the where-condition of a behaviour query (the same grammar over fewer node types).
    ``is_nested``: the node is an operand of and/or/not, so a multi-member group needs parentheses."""
    match node:
        case (
            AllOf(rules=children)
            | AnyOf(rules=children)
            | WhereAllOf(conditions=children)
            | WhereAnyOf(conditions=children)
        ):
            # A group of one or none keeps its keyword: all(x), any().
            is_all = isinstance(node, AllOf | WhereAllOf)
            keyword, joiner = ("all", "and") if is_all else ("any", "or")
            members = [_format(child, is_nested=len(children) > 1) for child in children]
            if len(members) <= 1:
                return f"{keyword}({''.join(members)})"
            text = f" {joiner} ".join(members)
            return f"({text})" if is_nested else text
        case Not(rule=child) | WhereNot(condition=child):
            return f"not {_format(child, is_nested=True)}"
        case FieldCondition():
            return _format_comparison(format_field_name(node.field), node.op, node.value)
        case HasTag(tag=name):
            return f"tag {_quoted(name)}"
        case InList(list_name=name, status=status):
            suffix = "" if status is ListStatus.SUBSCRIBED else f" status {status.value}"
            return f"list {_quoted(name)}{suffix}"
        case InSegment(segment=name):
            return f"segment {_quoted(name)}"
        case BehaviourAggregate():
            return _format_comparison(format_behaviour_subject(node), node.op, node.value)
        case _:
            assert_never(node)


def format_rule(rule: Rule) -> str:
    """The canonical text of a rule; ``parse_rule_text(format_rule(rule)) == rule``."""
    return _format(rule, is_nested=False)
