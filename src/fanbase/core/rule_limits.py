"""How large a rule may be: bounds checked on input, before any work, so that no rule reaches the database in a
shape it refuses (SQLite's expression depth of 1,000, PostgreSQL's 1,664 columns) or makes every write slow.

- ``MAX_DEPTH``: groups (all/any/not) nested in one another, counted from the rule's top.
- ``MAX_CONDITIONS``: conditions in all, each behaviour condition's own where-conditions included.
- ``MAX_BEHAVIOURS``: behaviour conditions (aggregates over orders or events), the costliest to keep true.

A person's rule is far inside them (the guide's longest has 4 conditions, 2 levels); a rule beyond them is refused
with a 422 that names the limit. The raw JSON and the text form are bounded too, before they are parsed, so a
deeply nested input is refused cheaply rather than recursed into. Stored rules are never re-checked: a limit lowered
later does not break a segment saved under the old one.
"""

from __future__ import annotations

from fanbase.core.rules import AllOf
from fanbase.core.rules import AnyOf
from fanbase.core.rules import BehaviourAggregate
from fanbase.core.rules import Not
from fanbase.core.rules import Rule
from fanbase.core.rules import Where
from fanbase.core.rules import WhereAllOf
from fanbase.core.rules import WhereAnyOf
from fanbase.core.rules import WhereNot
from fanbase.errors import InvalidRule
from fanbase.errors import RuleError

MAX_DEPTH = 10
MAX_CONDITIONS = 100
MAX_BEHAVIOURS = 20
# The raw JSON: nesting of objects and arrays (a behaviour condition adds 4-5 levels under its group), and values in
# all (a condition is at most ~12); anything beyond cannot be a rule inside the limits above.
MAX_JSON_DEPTH = 4 * MAX_DEPTH + 10
MAX_JSON_VALUES = 20 * MAX_CONDITIONS


def _refuse(message: str) -> InvalidRule:
    return InvalidRule([RuleError("", message)])


def check_rule_json(value: object) -> None:
    """Refuse raw rule JSON nested or sized beyond what any rule inside the limits needs (iteratively: no recursion
    on hostile input)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > MAX_JSON_VALUES:
            raise _refuse(f"the rule is too large: at most {MAX_CONDITIONS} conditions")
        if depth > MAX_JSON_DEPTH:
            raise _refuse(f"the rule is nested too deeply: at most {MAX_DEPTH} groups inside one another")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)


def check_rule_text(text: str) -> None:
    """Refuse a text rule whose parentheses nest deeper than any rule inside the limits (quoted text ignored)."""
    depth = deepest = 0
    quote: str | None = None
    escaped = False
    for char in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    # A behaviour condition takes two levels of its own: count( … where ( … )).
    if deepest > MAX_DEPTH + 2:
        raise _refuse(f"the rule is nested too deeply: at most {MAX_DEPTH} groups inside one another")


def check_rule_size(rule: Rule) -> None:
    """Refuse a parsed rule beyond MAX_DEPTH, MAX_CONDITIONS or MAX_BEHAVIOURS."""
    conditions = behaviours = deepest = 0
    stack: list[tuple[Rule, int]] = [(rule, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        match node:
            case AllOf(rules=children) | AnyOf(rules=children):
                stack.extend((child, depth + 1) for child in children)
            case Not(rule=child):
                stack.append((child, depth + 1))
            case BehaviourAggregate():
                behaviours += 1
                conditions += 1 + _where_conditions(node.query.where)
            case _:
                conditions += 1
    problems = []
    if deepest > MAX_DEPTH:
        problems.append(f"groups nest {deepest} deep; the limit is {MAX_DEPTH}")
    if conditions > MAX_CONDITIONS:
        problems.append(f"it has {conditions} conditions; the limit is {MAX_CONDITIONS}")
    if behaviours > MAX_BEHAVIOURS:
        problems.append(f"it has {behaviours} behaviour conditions; the limit is {MAX_BEHAVIOURS}")
    if problems:
        raise _refuse("the rule is too large: " + "; ".join(problems))


def _where_conditions(where: Where | None) -> int:
    count = 0
    stack: list[Where] = [] if where is None else [where]
    while stack:
        match stack.pop():
            case WhereAllOf(conditions=children) | WhereAnyOf(conditions=children):
                stack.extend(children)
            case WhereNot(condition=child):
                stack.append(child)
            case _:
                count += 1
    return count
