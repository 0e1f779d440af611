"""How SQLite and PostgreSQL spell the same thing: SQLAlchemy constructs compiled per dialect (``@compiles``), so the
rule walk builds one expression and never asks which database it is for.

Each construct's SQLite spelling is also the default one (``str()``, a statement compiled without a dialect).
"""

from __future__ import annotations

from typing import Any
from typing import TypeVar
from typing import assert_never

from sqlalchemy import Boolean
from sqlalchemy import ColumnElement
from sqlalchemy import Integer
from sqlalchemy import Numeric
from sqlalchemy import String
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import null
from sqlalchemy import type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.elements import literal_column
from sqlalchemy.sql.operators import custom_op
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeEngine

from fanbase.core.fields import FieldType
from fanbase.db.rule_sql.stored import StoredDateTimeText

# The dialects rules compile for, by their SQLAlchemy names.
SQLITE = "sqlite"
POSTGRESQL = "postgresql"
DIALECTS = frozenset({SQLITE, POSTGRESQL})

SQL = ColumnElement[Any]
_T = TypeVar("_T")


class PerDialect(ColumnElement[_T]):
    """A construct SQLite and PostgreSQL spell differently: a subclass gives each spelling as an expression of its
    own (``sqlite()`` is also the default spelling), and is compiled to whichever the statement is compiled for."""

    inherit_cache = True

    def sqlite(self) -> SQL:
        raise NotImplementedError

    def postgresql(self) -> SQL:
        raise NotImplementedError


@compiles(PerDialect)
def _sqlite_spelling(element: PerDialect[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.sqlite(), **kw)


@compiles(PerDialect, POSTGRESQL)
def _postgresql_spelling(element: PerDialect[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.postgresql(), **kw)


class AsciiFolded(PerDialect[str]):
    """``lower(text)`` folding ASCII A-Z only, like the core's ``fold_text``: SQLite's ``lower()`` does nothing else,
    PostgreSQL's does under the ``"C"`` collation."""

    inherit_cache = True
    _traverse_internals = [("text", InternalTraversal.dp_clauseelement)]

    def __init__(self, text: SQL) -> None:
        self.text = text
        self.type = String()

    def sqlite(self) -> SQL:
        return func.lower(self.text, type_=String())

    def postgresql(self) -> SQL:
        return func.lower(self.text.collate("C"), type_=String())


class TextPosition(PerDialect[int]):
    """The 1-based position of ``fragment`` in ``text``, 0 when absent: ``instr`` (SQLite), ``strpos`` (PostgreSQL).
    Neither gives ``%`` or ``_`` a meaning, so fragments need no escaping."""

    inherit_cache = True
    _traverse_internals = [
        ("text", InternalTraversal.dp_clauseelement),
        ("fragment", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, text: SQL, fragment: SQL) -> None:
        self.text = text
        self.fragment = fragment
        self.type = Integer()

    def sqlite(self) -> SQL:
        return func.instr(self.text, self.fragment)

    def postgresql(self) -> SQL:
        return func.strpos(self.text, self.fragment)


class TextTail(PerDialect[str]):
    """The last ``length`` characters of ``text``: ``substr(text, -length)`` (SQLite), ``right`` (PostgreSQL)."""

    inherit_cache = True
    _traverse_internals = [
        ("text", InternalTraversal.dp_clauseelement),
        ("length", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, text: SQL, length: SQL) -> None:
        self.text = text
        self.length = length
        self.type = String()

    def sqlite(self) -> SQL:
        return func.substr(self.text, -self.length, type_=String())

    def postgresql(self) -> SQL:
        return func.right(self.text, self.length, type_=String())


class WithoutIndexRange(PerDialect[Any]):
    """A column's value, written so that SQLite does not read a test on it as an index range: ``(+column)``.

    For a missing-value guard: SQLite would take ``column IS NOT NULL`` as the range ``column > NULL`` and scan it
    instead of seeking the comparison's own values (``country IN (…)``: one seek per code instead of a range over
    every fan with a country). PostgreSQL's planner makes no such choice: the bare column.

    Also where SQLite 3.40 answers wrongly: an index range on the column after an ``IN`` on the index column before
    it, in the inner loop of a join, returned rows outside the range (``recipients_repo.claim``)."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: SQL) -> None:
        self.column = column
        self.type = column.type

    def sqlite(self) -> SQL:
        unary = UnaryExpression(self.column, operator=custom_op("+"), type_=self.column.type)
        return Grouping(unary)

    def postgresql(self) -> SQL:
        return self.column


class Likely(PerDialect[bool]):
    """``condition``, with the share of rows it keeps told to SQLite's planner (``likelihood``, which returns its
    first argument); PostgreSQL has its own statistics: the bare condition.

    Without STAT4 (Debian's SQLite has none) SQLite takes any range to keep about a quarter of the rows, so for a
    long window it would read the (workspace, type, time, fan) range and sort it by fan, where reading the type's
    rows in fan order from (workspace, type, fan, time) needs no sort."""

    inherit_cache = True
    _traverse_internals = [
        ("condition", InternalTraversal.dp_clauseelement),
        ("share", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, condition: SQL, share: float) -> None:
        self.condition = condition
        # Written into the SQL (a planner hint, not a value): its text is part of the statement's cache key.
        self.share: ColumnElement[Any] = literal_column(f"{share:.2f}")
        self.type = Boolean()

    def sqlite(self) -> SQL:
        return func.likelihood(self.condition, self.share, type_=Boolean())

    def postgresql(self) -> SQL:
        return self.condition


# --------------------------------------------------------------------------------------------------------------
# Typed views of JSON values (custom fields and event properties).
# --------------------------------------------------------------------------------------------------------------

# JSON types, as SQLite's json_type names them, that each view accepts.
_SQLITE_JSON_TYPES: dict[FieldType, tuple[str, ...]] = {
    FieldType.TEXT: ("text",),
    FieldType.ENUM: ("text",),
    FieldType.DATETIME: ("text",),
    FieldType.NUMBER: ("integer", "real"),
    # Money is stored as integer cents.
    FieldType.MONEY: ("integer",),
}


def _view_sql_type(view: FieldType) -> TypeEngine[Any]:
    match view:
        case FieldType.TEXT | FieldType.ENUM | FieldType.ANY:
            return String()
        case FieldType.DATETIME:
            return StoredDateTimeText()
        case FieldType.NUMBER | FieldType.MONEY:
            return Numeric()
        case FieldType.BOOLEAN:
            return Boolean()
        case _:
            assert_never(view)


class JsonView(PerDialect[Any]):
    """``document[key]`` as the comparison type ``view`` sees it: NULL when absent or of another JSON type, never
    coerced (``json_type`` on SQLite, ``jsonb_typeof`` on PostgreSQL). ``view`` ANY is the raw presence test used by
    is_set / is_not_set: NULL when absent or JSON null."""

    inherit_cache = True
    _traverse_internals = [
        ("document", InternalTraversal.dp_clauseelement),
        ("json_path", InternalTraversal.dp_clauseelement),
        ("json_key", InternalTraversal.dp_clauseelement),
        ("view", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, document: SQL, key: str, view: FieldType) -> None:
        self.document = document
        # Both spellings' parameters are made here, so the statement's cache key holds their values.
        self.json_path = literal(f"$.{key}", String())
        self.json_key = literal(key, String())
        self.view = view
        self.type = _view_sql_type(view)

    def sqlite(self) -> SQL:
        view = self.view
        json_type = func.json_type(self.document, self.json_path, type_=String())
        value = func.json_extract(self.document, self.json_path)
        spelled: SQL
        match view:
            case FieldType.ANY:
                spelled = func.nullif(json_type, _text("null"), type_=String())
            case FieldType.BOOLEAN:
                # json_extract gives 1/0 for true/false: read the JSON type instead.
                spelled = case(
                    (json_type == _text("true"), literal(True, Boolean())),
                    (json_type == _text("false"), literal(False, Boolean())),
                    else_=null(),
                )
            case FieldType.TEXT | FieldType.ENUM | FieldType.NUMBER | FieldType.MONEY | FieldType.DATETIME:
                accepted = [_text(name) for name in _SQLITE_JSON_TYPES[view]]
                spelled = case((json_type.in_(accepted), type_coerce(value, self.type)), else_=null())
            case _:
                assert_never(view)
        return spelled

    def postgresql(self) -> SQL:
        json_type = func.jsonb_typeof(self.document.op("->")(self.json_key), type_=String())
        text = self.document.op("->>", return_type=String())(self.json_key)
        is_string = json_type == _text("string")
        spelled: SQL
        match self.view:
            case FieldType.ANY:
                spelled = func.nullif(json_type, _text("null"), type_=String())
            case FieldType.BOOLEAN:
                spelled = case((json_type == _text("boolean"), cast(text, Boolean())), else_=null())
            case FieldType.TEXT | FieldType.ENUM:
                spelled = case((is_string, text), else_=null())
            case FieldType.DATETIME:
                # Fixed-width text compares as time only bytewise; "C" keeps any locale from weighing punctuation.
                spelled = case((is_string, text.collate("C")), else_=null())
            case FieldType.NUMBER:
                # numeric keeps integers exact; against a double constant PostgreSQL compares as doubles, like Python.
                spelled = case((json_type == _text("number"), cast(text, Numeric())), else_=null())
            case FieldType.MONEY:
                # Cents are JSON integers; SQLite's json_type tells 5 from 5.0 and so must we.
                is_integer = text.op("~", return_type=Boolean())(_text(r"^-?[0-9]+$"))
                spelled = case((and_(json_type == _text("number"), is_integer), cast(text, Numeric())), else_=null())
            case _:
                assert_never(self.view)
        return spelled


def _text(value: str) -> SQL:
    return literal(value, String())
