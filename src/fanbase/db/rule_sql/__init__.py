"""Rule → SQL: the fast path for sizes, lists and refreshes, in three forms over one walk of the rule tree.

- ``compile_rule`` (``per_fan``): one boolean expression correlated to ``fans``, for a few fans.
- ``compile_rule_for_workspace`` (``set_form``): derived tables joined to ``fans``, for a whole workspace.
- ``compile_batch`` (``batch``): one statement evaluating many segments' rules for a list of fans.

All three select exactly the fans ``fanbase.core.evaluate.evaluate`` selects on the same data (the property tests
in ``tests/db`` hold them to it). The walk (``base``) implements the core's ``Primitives`` (``primitives``) and calls
``build_condition`` for every leaf, so the one operator table decides what SQL is built; how SQLite and PostgreSQL
spell it is decided when the statement is compiled for one of them (``spelling``).

How the core's semantics are met in SQL, on SQLite and PostgreSQL alike:

- **Two-valued.** Every leaf is guarded by ``build_condition`` (``subject IS NOT NULL AND …``), aggregates that
  can be empty are coalesced (count, sum) or guarded (min, max, first, last), references are ``EXISTS`` or
  presence in a joined table: the expression is never NULL, so ``NOT`` is exact.
- **Typed views.** A value whose stored type is not the compared type is NULL (missing), never coerced: custom
  fields and event properties are read through ``json_type`` (SQLite) / ``jsonb_typeof`` (PostgreSQL) guards,
  which also keeps SQLite's ``json_extract`` from turning ``true`` into ``1``.
- **Text** folds ASCII only: SQLite's ``lower()`` does nothing else, and PostgreSQL's ``lower()`` under the ``"C"``
  collation neither. Substring tests use ``instr``/``strpos`` and ``substr``/``right``, so ``%`` and ``_`` are
  ordinary characters without any escaping.
- **Money** is compared in integer cents (``total_spent_cents``, ``amount_cents``, custom money stored as cents).
- **Times** of columns are bound through ``UTCDateTime``, so SQLite compares the same naive-UTC text it stores;
  custom datetimes are fixed-width text in JSON and are compared as text with constants bound in that format
  (PostgreSQL compares them under ``"C"`` so no locale can reorder the punctuation).
- **Parametrised.** Every constant, JSON path and status is a bound parameter.
"""

from fanbase.db.rule_sql.base import CompileContext
from fanbase.db.rule_sql.base import ResolvedReferences
from fanbase.db.rule_sql.batch import BatchStatement
from fanbase.db.rule_sql.batch import compile_batch
from fanbase.db.rule_sql.per_fan import compile_rule
from fanbase.db.rule_sql.set_form import CompiledRule
from fanbase.db.rule_sql.set_form import compile_rule_for_workspace
from fanbase.db.rule_sql.set_form import fans_joined
from fanbase.db.rule_sql.set_form import matching_fans_joined
from fanbase.db.rule_sql.spelling import DIALECTS
from fanbase.db.rule_sql.spelling import POSTGRESQL
from fanbase.db.rule_sql.spelling import SQLITE
from fanbase.db.rule_sql.spelling import WithoutIndexRange
from fanbase.db.rule_sql.stored import STORED_DATETIME_FORMAT
from fanbase.db.rule_sql.stored import StoredDateTimeText
from fanbase.db.rule_sql.stored import ascii_upper
from fanbase.db.rule_sql.stored import format_stored_datetime
from fanbase.db.rule_sql.stored import parse_stored_datetime
from fanbase.db.rule_sql.time_boundaries import next_boundary_queries
from fanbase.db.rule_sql.time_boundaries import time_crossings

__all__ = [
    "DIALECTS",
    "POSTGRESQL",
    "SQLITE",
    "STORED_DATETIME_FORMAT",
    "BatchStatement",
    "CompileContext",
    "CompiledRule",
    "ResolvedReferences",
    "StoredDateTimeText",
    "WithoutIndexRange",
    "ascii_upper",
    "compile_batch",
    "compile_rule",
    "compile_rule_for_workspace",
    "fans_joined",
    "format_stored_datetime",
    "matching_fans_joined",
    "next_boundary_queries",
    "parse_stored_datetime",
    "time_crossings",
]
