"""The core's ``Primitives`` over SQLAlchemy expressions: what ``build_condition`` builds every leaf from."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import Column
from sqlalchemy import Float
from sqlalchemy import Integer
from sqlalchemy import Numeric
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import true
from sqlalchemy.types import TypeEngine

from fanbase.core.operators import Constant
from fanbase.db.rule_sql.spelling import SQL
from fanbase.db.rule_sql.spelling import AsciiFolded
from fanbase.db.rule_sql.spelling import TextPosition
from fanbase.db.rule_sql.spelling import TextTail
from fanbase.db.rule_sql.spelling import WithoutIndexRange
from fanbase.db.rule_sql.stored import StoredDateTimeText
from fanbase.db.rule_sql.stored import ascii_upper
from fanbase.db.rule_sql.stored import is_stored_folded
from fanbase.db.rule_sql.stored import is_stored_upper
from fanbase.db.types import UTCDateTime

_DATETIME_TYPES = (UTCDateTime, StoredDateTimeText)


def _has_nul(value: Constant) -> bool:
    return isinstance(value, str) and "\x00" in value


def _constant_type(left: SQL, value: Constant) -> TypeEngine[Any]:
    """The type to bind ``value`` with so that it compares with ``left`` as stored."""
    if isinstance(value, datetime):
        return left.type if isinstance(left.type, _DATETIME_TYPES) else UTCDateTime()
    if isinstance(value, bool):
        return Boolean()
    if isinstance(value, int):
        return BigInteger()
    if isinstance(value, float):
        return Float()
    if isinstance(value, Decimal):
        return Numeric()
    return String()


class SQLPrimitives:
    """``Primitives`` over SQLAlchemy expressions, the same for every dialect (``spelling`` writes them per dialect).

    Text constants containing NUL are decided here rather than bound: PostgreSQL cannot bind them, and no stored
    text can hold one (every writer refuses NUL), so such a constant equals, contains and starts nothing.
    """

    def __init__(self) -> None:
        # Expressions known never to be NULL (count, coalesced sum), by identity: SQLAlchemy overloads ==.
        self._never_null: dict[int, SQL] = {}
        # Folded expressions of upper-case columns, by identity, with their column (see STORED_UPPER).
        self._upper_columns: dict[int, SQL] = {}

    def mark_never_null(self, value: SQL) -> SQL:
        self._never_null[id(value)] = value
        return value

    def is_never_null(self, value: SQL) -> bool:
        # A NOT NULL column or a marked expression: the missing-value guard would only repeat it (for a subquery,
        # make the database run it twice).
        # Only a base table's column: a derived table's column proxies its source's NOT NULL, but after the LEFT
        # JOIN that brings it to fans it is NULL for every fan without a row there.
        return id(value) in self._never_null or (
            isinstance(value, Column) and isinstance(value.table, Table) and not value.nullable
        )

    def bind(self, left: SQL, value: Constant) -> SQL:
        """A bound parameter for ``value``, typed so that it compares with ``left`` as stored. Anonymous: rules
        compiled apart may be combined in one statement."""
        return literal(value, _constant_type(left, value))

    def _as_stored(self, left: SQL, right: Constant) -> tuple[SQL, Constant]:
        """The folded text of an upper-case column is compared as the column against the constant upper-cased."""
        column = self._upper_columns.get(id(left))
        if column is not None and isinstance(right, str):
            return column, ascii_upper(right)
        return left, right

    def eq(self, left: SQL, right: Constant) -> SQL:
        if _has_nul(right):
            return false()
        left, right = self._as_stored(left, right)
        return left == self.bind(left, right)

    def ne(self, left: SQL, right: Constant) -> SQL:
        if _has_nul(right):
            return true()
        left, right = self._as_stored(left, right)
        return left != self.bind(left, right)

    def lt(self, left: SQL, right: Constant) -> SQL:
        return left < self.bind(left, right)

    def le(self, left: SQL, right: Constant) -> SQL:
        return left <= self.bind(left, right)

    def gt(self, left: SQL, right: Constant) -> SQL:
        return left > self.bind(left, right)

    def ge(self, left: SQL, right: Constant) -> SQL:
        return left >= self.bind(left, right)

    def in_(self, left: SQL, choices: tuple[Constant, ...]) -> SQL:
        kept = [choice for choice in choices if not _has_nul(choice)]
        if not kept:
            return false()
        stored = [self._as_stored(left, choice) for choice in kept]
        column = stored[0][0]
        return column.in_([self.bind(column, choice) for _, choice in stored])

    def is_null(self, value: SQL) -> SQL:
        return false() if self.is_never_null(value) else value.is_(None)

    def not_null(self, value: SQL) -> SQL:
        return true() if self.is_never_null(value) else value.is_not(None)

    def guard(self, value: SQL) -> SQL:
        if self.is_never_null(value):
            return true()
        if isinstance(value, Column):
            # Leaves the index to the comparison the guard sits beside (see WithoutIndexRange).
            return WithoutIndexRange(value).is_not(None)
        return value.is_not(None)

    def fold(self, value: SQL) -> SQL:
        if is_stored_folded(value):
            return value
        folded = AsciiFolded(value)
        if is_stored_upper(value):
            self._upper_columns[id(folded)] = value
        return folded

    def contains(self, text: SQL, fragment: str) -> SQL:
        if "\x00" in fragment:
            return false()
        return TextPosition(text, literal(fragment, String())) > 0

    def starts_with(self, text: SQL, prefix: str) -> SQL:
        if "\x00" in prefix:
            return false()
        return func.substr(text, 1, literal(len(prefix), Integer()), type_=String()) == literal(prefix, String())

    def ends_with(self, text: SQL, suffix: str) -> SQL:
        if "\x00" in suffix:
            return false()
        return TextTail(text, literal(len(suffix), Integer())) == literal(suffix, String())

    def and_(self, *parts: SQL) -> SQL:
        return and_(*parts)

    def or_(self, *parts: SQL) -> SQL:
        return or_(*parts)

    def not_(self, part: SQL) -> SQL:
        return not_(part)

    def true(self) -> SQL:
        return true()

    def false(self) -> SQL:
        return false()

    def money(self, amount: Decimal) -> Constant:
        return int(amount * 100)


class NamedTimePrimitives(SQLPrimitives):
    """For a statement executed again at other moments (``BatchStatement``): every time constant gets a named
    parameter, recorded in ``times`` in the order bound, so it can be re-aimed at another ``now``."""

    def __init__(self, times: dict[str, datetime]) -> None:
        super().__init__()
        # Shared by every compile of one statement: the names keep counting across them.
        self.times = times

    def bind(self, left: SQL, value: Constant) -> SQL:
        if not isinstance(value, datetime):
            return super().bind(left, value)
        key = f"time_{len(self.times)}"
        self.times[key] = value
        return bindparam(key, value, type_=_constant_type(left, value))
