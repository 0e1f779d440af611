"""The operator table is backend-neutral: a toy backend that prints SQL-like text shows what the SQL compiler
receives (resolved datetimes, folded constants, money through ``money``, the missing-value guard)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from decimal import Decimal

import pytest

from fanbase.core.fields import FieldType
from fanbase.core.operators import OPERATORS
from fanbase.core.operators import Constant
from fanbase.core.operators import Op
from fanbase.core.operators import RuleValue
from fanbase.core.operators import ValueShape
from fanbase.core.operators import build_condition
from fanbase.core.operators import operators_for
from fanbase.core.rule_values import parse_value
from fanbase.core.text import grammar_text

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class TextPrimitives:
    """``Primitives[str]``: prints expressions, with money in cents like the SQL side."""

    def _constant(self, value: Constant | tuple[Constant, ...]) -> str:
        if isinstance(value, tuple):
            return "(" + ", ".join(self._constant(item) for item in value) + ")"
        if isinstance(value, datetime):
            return f"'{value.isoformat()}'"
        return repr(value)

    def eq(self, left: str, right: Constant) -> str:
        return f"{left} = {self._constant(right)}"

    def ne(self, left: str, right: Constant) -> str:
        return f"{left} != {self._constant(right)}"

    def lt(self, left: str, right: Constant) -> str:
        return f"{left} < {self._constant(right)}"

    def le(self, left: str, right: Constant) -> str:
        return f"{left} <= {self._constant(right)}"

    def gt(self, left: str, right: Constant) -> str:
        return f"{left} > {self._constant(right)}"

    def ge(self, left: str, right: Constant) -> str:
        return f"{left} >= {self._constant(right)}"

    def in_(self, left: str, choices: tuple[Constant, ...]) -> str:
        return f"{left} IN {self._constant(choices)}"

    def is_null(self, value: str) -> str:
        return f"{value} IS NULL"

    def not_null(self, value: str) -> str:
        return f"{value} IS NOT NULL"

    def guard(self, value: str) -> str:
        return self.not_null(value)

    def fold(self, value: str) -> str:
        return f"lower({value})"

    def contains(self, text: str, fragment: str) -> str:
        return f"instr({text}, {fragment!r}) > 0"

    def starts_with(self, text: str, prefix: str) -> str:
        return f"substr({text}, 1, {len(prefix)}) = {prefix!r}"

    def ends_with(self, text: str, suffix: str) -> str:
        return f"substr({text}, -{len(suffix)}) = {suffix!r}"

    def and_(self, *parts: str) -> str:
        return "(" + " AND ".join(parts) + ")"

    def or_(self, *parts: str) -> str:
        return "(" + " OR ".join(parts) + ")"

    def not_(self, part: str) -> str:
        return f"NOT {part}"

    def true(self) -> str:
        return "1"

    def false(self) -> str:
        return "0"

    def money(self, amount: Decimal) -> Constant:
        return int(amount * 100)


@pytest.mark.parametrize(
    ("field_type", "op", "value", "expected"),
    [
        (FieldType.TEXT, Op.NE, "FR", "(c IS NOT NULL AND lower(c) != 'fr')"),
        (FieldType.TEXT, Op.IS_EMPTY, None, "(lower(c) IS NULL OR lower(c) = '')"),
        (FieldType.TEXT, Op.CONTAINS, "@Gmail", "(c IS NOT NULL AND instr(lower(c), '@gmail') > 0)"),
        (FieldType.MONEY, Op.GT, Decimal("100.50"), "(c IS NOT NULL AND c > 10050)"),
        (FieldType.NUMBER, Op.BETWEEN, (1, Decimal("2.5")), "(c IS NOT NULL AND (c >= 1 AND c <= 2.5))"),
        (FieldType.ENUM, Op.NOT_IN, ("lead",), "(c IS NOT NULL AND NOT c IN ('lead'))"),
        (FieldType.DATETIME, Op.IS_SET, None, "c IS NOT NULL"),
        (
            FieldType.DATETIME,
            Op.WITHIN_LAST,
            "30 days",
            "(c IS NOT NULL AND (c >= '2026-05-02T12:00:00+00:00' AND c <= '2026-06-01T12:00:00+00:00'))",
        ),
        (FieldType.DATETIME, Op.MORE_THAN, "1 day ago", "(c IS NOT NULL AND c < '2026-05-31T12:00:00+00:00')"),
        (FieldType.DATETIME, Op.AFTER, "2024-01-01", "(c IS NOT NULL AND c > '2024-01-01T23:59:59.999999+00:00')"),
        (
            FieldType.DATETIME,
            Op.BETWEEN,
            ("2024-01-01", "2024-06-30"),
            "(c IS NOT NULL AND (c >= '2024-01-01T00:00:00+00:00' AND c <= '2024-06-30T23:59:59.999999+00:00'))",
        ),
        (FieldType.BOOLEAN, Op.IS_FALSE, None, "(c IS NOT NULL AND c = False)"),
    ],
)
def test_build_condition_for_a_backend(field_type: FieldType, op: Op, value: object, expected: str) -> None:
    rule_value: RuleValue = parse_value(OPERATORS[op].shape, value)
    assert build_condition(TextPrimitives(), "c", field_type=field_type, op=op, value=rule_value, now=NOW) == expected


def test_every_type_has_is_set_and_every_operator_is_in_the_grammar() -> None:
    grammar = grammar_text()
    for field_type in FieldType:
        assert {Op.IS_SET, Op.IS_NOT_SET} <= {row.op for row in operators_for(field_type)}
    for row in OPERATORS.values():
        assert f'"{row.keyword}"' in grammar
        assert row.shape in ValueShape
        assert row.phrase
