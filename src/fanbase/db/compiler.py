"""Rule → one SQLAlchemy Core boolean expression over ``fans``: the fast path for sizes, lists and refreshes.

The compiler implements the core's ``Primitives`` over SQLAlchemy expressions and calls ``build_condition`` for
every leaf, so the one operator table decides what SQL is built. Its result is used as
``select(fans.c.id).where(fans.c.workspace_id == workspace_id, compile_rule(...))`` and is exactly as true as
``fanbase.core.evaluate.evaluate`` on the same data (the property tests in ``tests/db`` hold it to that).

How the core's semantics are met in SQL, on SQLite and PostgreSQL alike:

- **Two-valued.** Every leaf is guarded by ``build_condition`` (``subject IS NOT NULL AND …``), aggregates that
  can be empty are coalesced (count, sum) or guarded (min, max, first, last), references are ``EXISTS``: the
  expression is never NULL, so ``NOT`` is exact.
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

Behaviour conditions are correlated scalar subqueries on ``orders``/``events`` that lead with ``workspace_id`` and
``fan_id = fans.id`` (the ``(workspace_id, fan_id, …)`` indexes serve them); ``count >= 1`` and its relatives
become ``EXISTS`` / ``NOT EXISTS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeAlias, assert_never

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Dialect,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.types import TypeDecorator, TypeEngine

from fanbase.core.dependencies import TimeDependency, TimeDependencyKind
from fanbase.core.fields import (
    SOURCE_ORDER_STATUS,
    Aggregate,
    Catalogue,
    FieldSpec,
    FieldType,
    ListStatus,
    Source,
    aggregate_result_spec,
    property_key,
)
from fanbase.core.operators import Constant, Op, build_condition, combine, comparison_type
from fanbase.core.rules import (
    AllOf,
    AnyOf,
    BehaviourCondition,
    BehaviourQuery,
    CountOf,
    FieldCondition,
    FirstOf,
    HasTag,
    InList,
    InSegment,
    LastOf,
    MaxOf,
    MinOf,
    Not,
    Rule,
    SumOf,
    Where,
    WhereAllOf,
    WhereAnyOf,
    WhereNot,
    reference_key,
)
from fanbase.core.time import require_aware, resolve_between, resolve_last
from fanbase.db.tables import events, fan_tags, fans, list_members, orders, segment_members
from fanbase.db.types import UTCDateTime

SQL: TypeAlias = ColumnElement[Any]

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
DIALECTS = frozenset({SQLITE, POSTGRESQL})

# The stored form of a custom datetime (fixed width, so it sorts as text); the same format as
# ``fanbase.services.custom_fields.DATETIME_STORAGE``, which writes it (a test holds the two equal).
STORED_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def format_stored_datetime(value: datetime) -> str:
    return require_aware(value).astimezone(UTC).strftime(STORED_DATETIME_FORMAT)


def parse_stored_datetime(value: str) -> datetime:
    return datetime.strptime(value, STORED_DATETIME_FORMAT).replace(tzinfo=UTC)


class StoredDateTimeText(TypeDecorator[datetime]):
    """A custom datetime as its stored JSON text: datetimes bound against it are written in the same format."""

    impl = String()
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return format_stored_datetime(value)
        raise TypeError(f"a custom datetime compares with datetimes, got {value!r}")


@dataclass(frozen=True)
class ResolvedReferences:
    """The ids of the tags, lists and segments a rule names, keyed by ``reference_key(name)``.

    A name missing here (deleted since the rule was saved) compiles to false, as the fan cannot have it.
    """

    tags: Mapping[str, int]
    lists: Mapping[str, int]
    segments: Mapping[str, int]


_DATETIME_TYPES = (UTCDateTime, StoredDateTimeText)


def _has_nul(value: Constant) -> bool:
    return isinstance(value, str) and "\x00" in value


class SQLPrimitives:
    """``Primitives`` over SQLAlchemy expressions for one dialect.

    Text constants containing NUL are decided here rather than bound: PostgreSQL cannot bind them, and no stored
    text can hold one (every writer refuses NUL), so such a constant equals, contains and starts nothing.
    """

    def __init__(self, dialect: str) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"no rule compiler for the {dialect!r} dialect (expected one of {sorted(DIALECTS)})")
        self.dialect = dialect
        # Expressions known never to be NULL (count, coalesced sum), by identity: SQLAlchemy overloads ==.
        self._never_null: dict[int, SQL] = {}

    def mark_never_null(self, value: SQL) -> SQL:
        self._never_null[id(value)] = value
        return value

    def is_never_null(self, value: SQL) -> bool:
        # A NOT NULL column or a marked expression: the missing-value guard would only repeat it (for a subquery,
        # make the database run it twice).
        return id(value) in self._never_null or (isinstance(value, Column) and not value.nullable)

    def bind(self, left: SQL, value: Constant) -> SQL:
        """A bound parameter for ``value``, typed so that it compares with ``left`` as stored."""
        type_: TypeEngine[Any]
        if isinstance(value, datetime):
            type_ = left.type if isinstance(left.type, _DATETIME_TYPES) else UTCDateTime()
        elif isinstance(value, bool):
            type_ = Boolean()
        elif isinstance(value, int):
            type_ = BigInteger()
        elif isinstance(value, float):
            type_ = Float()
        elif isinstance(value, Decimal):
            type_ = Numeric()
        else:
            type_ = String()
        return literal(value, type_)

    def eq(self, left: SQL, right: Constant) -> SQL:
        return false() if _has_nul(right) else left == self.bind(left, right)

    def ne(self, left: SQL, right: Constant) -> SQL:
        return true() if _has_nul(right) else left != self.bind(left, right)

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
        return left.in_([self.bind(left, choice) for choice in kept])

    def is_null(self, value: SQL) -> SQL:
        return false() if self.is_never_null(value) else value.is_(None)

    def not_null(self, value: SQL) -> SQL:
        return true() if self.is_never_null(value) else value.is_not(None)

    def fold(self, value: SQL) -> SQL:
        if self.dialect == POSTGRESQL:
            # lower() under "C" folds A-Z only, like SQLite's lower() and the core's fold_text.
            return func.lower(value.collate("C"), type_=String())
        return func.lower(value, type_=String())

    def contains(self, text: SQL, fragment: str) -> SQL:
        if "\x00" in fragment:
            return false()
        position = func.strpos if self.dialect == POSTGRESQL else func.instr
        return position(text, literal(fragment, String())) > 0

    def starts_with(self, text: SQL, prefix: str) -> SQL:
        if "\x00" in prefix:
            return false()
        return func.substr(text, 1, literal(len(prefix), Integer()), type_=String()) == literal(prefix, String())

    def ends_with(self, text: SQL, suffix: str) -> SQL:
        if "\x00" in suffix:
            return false()
        length = literal(len(suffix), Integer())
        if self.dialect == POSTGRESQL:
            tail = func.right(text, length, type_=String())
        else:
            tail = func.substr(text, -length, type_=String())
        return tail == literal(suffix, String())

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


# --------------------------------------------------------------------------------------------------------------
# Typed views of JSON values (custom fields and event properties).
# --------------------------------------------------------------------------------------------------------------

# JSON types, as json_type (SQLite) and jsonb_typeof (PostgreSQL) name them, that each view accepts.
_SQLITE_JSON_TYPES: dict[FieldType, tuple[str, ...]] = {
    FieldType.TEXT: ("text",),
    FieldType.ENUM: ("text",),
    FieldType.DATETIME: ("text",),
    FieldType.NUMBER: ("integer", "real"),
    # Money is stored as integer cents.
    FieldType.MONEY: ("integer",),
}


def _json_view(document: ColumnClause[Any], key: str, view: FieldType, dialect: str) -> SQL:
    """``document[key]`` as the comparison type ``view`` sees it: NULL when absent or of another JSON type.

    ``view`` ANY is the raw presence test used by is_set / is_not_set: NULL when absent or JSON null.
    """
    if dialect == SQLITE:
        path = literal(f"$.{key}", String())
        json_type = func.json_type(document, path, type_=String())
        value = func.json_extract(document, path)
        match view:
            case FieldType.ANY:
                return func.nullif(json_type, literal("null", String()), type_=String())
            case FieldType.BOOLEAN:
                # json_extract gives 1/0 for true/false: read the JSON type instead.
                return case(
                    (json_type == literal("true", String()), literal(True, Boolean())),
                    (json_type == literal("false", String()), literal(False, Boolean())),
                    else_=null(),
                )
            case FieldType.TEXT | FieldType.ENUM | FieldType.NUMBER | FieldType.MONEY | FieldType.DATETIME:
                result_type: TypeEngine[Any] = _view_sql_type(view)
                accepted = [literal(name, String()) for name in _SQLITE_JSON_TYPES[view]]
                return case((json_type.in_(accepted), type_coerce(value, result_type)), else_=null())
            case _:
                assert_never(view)
    key_parameter = literal(key, String())
    element = document.op("->")(key_parameter)
    json_type = func.jsonb_typeof(element, type_=String())
    text = document.op("->>", return_type=String())(key_parameter)
    match view:
        case FieldType.ANY:
            return func.nullif(json_type, literal("null", String()), type_=String())
        case FieldType.BOOLEAN:
            return case((json_type == literal("boolean", String()), cast(text, Boolean())), else_=null())
        case FieldType.TEXT | FieldType.ENUM:
            return case((json_type == literal("string", String()), text), else_=null())
        case FieldType.DATETIME:
            # Fixed-width text compares as time only bytewise; "C" keeps any locale from weighing punctuation.
            return type_coerce(
                case((json_type == literal("string", String()), text.collate("C")), else_=null()),
                StoredDateTimeText(),
            )
        case FieldType.NUMBER:
            # numeric keeps integers exact; against a double constant PostgreSQL compares as doubles, like Python.
            return case((json_type == literal("number", String()), cast(text, Numeric())), else_=null())
        case FieldType.MONEY:
            # Cents are JSON integers; SQLite's json_type tells 5 from 5.0 and so must we.
            is_integer = text.op("~", return_type=Boolean())(literal(r"^-?[0-9]+$", String()))
            return case(
                (and_(json_type == literal("number", String()), is_integer), cast(text, Numeric())), else_=null()
            )
        case _:
            assert_never(view)


def _view_sql_type(view: FieldType) -> TypeEngine[Any]:
    match view:
        case FieldType.TEXT | FieldType.ENUM:
            return String()
        case FieldType.DATETIME:
            return StoredDateTimeText()
        case FieldType.NUMBER | FieldType.MONEY:
            return Numeric()
        case FieldType.BOOLEAN:
            return Boolean()
        case FieldType.ANY:
            return String()
        case _:
            assert_never(view)


# --------------------------------------------------------------------------------------------------------------
# The compiler.
# --------------------------------------------------------------------------------------------------------------

# Fan fields whose column is not named like the field.
_FAN_COLUMNS: dict[str, str] = {"total_spent": "total_spent_cents"}
_ORDER_COLUMNS: dict[str, str] = {"amount": "amount_cents"}


@dataclass(frozen=True)
class _Rows:
    """The rows a behaviour condition aggregates: their table, time column and the filter that selects them."""

    table: Table
    time: SQL
    condition: SQL
    group_key: SQL


class _Compiler:
    def __init__(
        self,
        *,
        workspace_id: int,
        now: datetime,
        catalogue: Catalogue,
        references: ResolvedReferences,
        dialect: str,
    ) -> None:
        self.p = SQLPrimitives(dialect)
        self.dialect = dialect
        self.workspace_id = workspace_id
        self.now = require_aware(now, what="now")
        self.catalogue = catalogue
        self.references = references

    def workspace(self) -> SQL:
        return literal(self.workspace_id, BigInteger())

    def rule(self, rule: Rule) -> SQL:
        match rule:
            case AllOf(rules=children):
                return combine(self.p, [self.rule(child) for child in children], is_all=True)
            case AnyOf(rules=children):
                return combine(self.p, [self.rule(child) for child in children], is_all=False)
            case Not(rule=child):
                return not_(self.rule(child))
            case FieldCondition(field=name, op=op, value=value):
                spec = self.catalogue.fan_field(name)
                if spec is None:
                    raise ValueError(f"unknown field {name!r}: validate the rule against this catalogue first")
                compared_as = comparison_type(spec, op, value)
                subject = self.fan_field(spec, compared_as)
                return build_condition(self.p, subject, field_type=compared_as, op=op, value=value, now=self.now)
            case HasTag(tag=name):
                tag_id = self.references.tags.get(reference_key(name))
                if tag_id is None:
                    return false()
                return exists().where(
                    fan_tags.c.workspace_id == self.workspace(),
                    fan_tags.c.tag_id == literal(tag_id, BigInteger()),
                    fan_tags.c.fan_id == fans.c.id,
                )
            case InList(list_name=name, status=status):
                list_id = self.references.lists.get(reference_key(name))
                if list_id is None:
                    return false()
                conditions = [
                    list_members.c.workspace_id == self.workspace(),
                    list_members.c.list_id == literal(list_id, BigInteger()),
                    list_members.c.fan_id == fans.c.id,
                ]
                if status is not ListStatus.ANY:
                    conditions.append(list_members.c.status == literal(status.value, String()))
                return exists().where(*conditions)
            case InSegment(segment=name):
                # The other segment's stored membership: never its rule (no recursion, no cycles at run time).
                segment_id = self.references.segments.get(reference_key(name))
                if segment_id is None:
                    return false()
                return exists().where(
                    segment_members.c.workspace_id == self.workspace(),
                    segment_members.c.segment_id == literal(segment_id, BigInteger()),
                    segment_members.c.fan_id == fans.c.id,
                )
            case CountOf() | SumOf() | MinOf() | MaxOf() | FirstOf() | LastOf():
                return self.behaviour(rule)
            case _:
                assert_never(rule)

    def fan_field(self, spec: FieldSpec, compared_as: FieldType) -> SQL:
        if self.catalogue.is_custom(spec.name):
            return _json_view(fans.c.custom_fields, spec.name, compared_as, self.dialect)
        return fans.c[_FAN_COLUMNS.get(spec.name, spec.name)]

    # --- behaviour ------------------------------------------------------------------------------------------

    def rows(self, query: BehaviourQuery, *, correlated: bool = True) -> _Rows:
        """``correlated``: the rows of the fan in the enclosing query (``fan_id = fans.id``); else every fan's."""
        conditions: list[SQL]
        match query.of:
            case Source.ORDERS | Source.REFUNDS:
                table = orders
                time: SQL = orders.c.placed_at
                group_key: SQL = orders.c.fan_id
                conditions = [
                    orders.c.workspace_id == self.workspace(),
                    orders.c.status == literal(SOURCE_ORDER_STATUS[query.of], String()),
                ]
            case Source.EVENTS:
                table = events
                time = events.c.occurred_at
                group_key = events.c.fan_id
                conditions = [events.c.workspace_id == self.workspace()]
            case _:
                assert_never(query.of)
        if correlated:
            conditions.insert(1, group_key == fans.c.id)
        window: tuple[datetime, datetime] | None = None
        if query.within is not None:
            window = resolve_last(query.within, now=self.now)
        elif query.between is not None:
            window = resolve_between(*query.between, now=self.now)
        if window is not None:
            conditions += [time >= self.p.bind(time, window[0]), time <= self.p.bind(time, window[1])]
        if query.where is not None:
            conditions.append(self.where(query.where, query.of))
        return _Rows(table=table, time=time, condition=and_(*conditions), group_key=group_key)

    def row_field(self, source: Source, spec: FieldSpec, compared_as: FieldType) -> SQL:
        if source is Source.EVENTS:
            key = property_key(spec.name)
            if key is not None:
                return _json_view(events.c.properties, key, compared_as, self.dialect)
            return events.c[spec.name]
        return orders.c[_ORDER_COLUMNS.get(spec.name, spec.name)]

    def where(self, where: Where, source: Source) -> SQL:
        match where:
            case WhereAllOf(conditions=children):
                return combine(self.p, [self.where(child, source) for child in children], is_all=True)
            case WhereAnyOf(conditions=children):
                return combine(self.p, [self.where(child, source) for child in children], is_all=False)
            case WhereNot(condition=child):
                return not_(self.where(child, source))
            case FieldCondition(field=name, op=op, value=value):
                spec = self.catalogue.source_field(source, name)
                if spec is None:
                    raise ValueError(f"unknown {source} field {name!r}: validate the rule first")
                compared_as = comparison_type(spec, op, value)
                subject = self.row_field(source, spec, compared_as)
                return build_condition(self.p, subject, field_type=compared_as, op=op, value=value, now=self.now)
            case _:
                assert_never(where)

    def behaviour(self, condition: BehaviourCondition) -> SQL:
        aggregate, query = condition.aggregate, condition.query
        rows = self.rows(query)
        if aggregate is Aggregate.COUNT and (shortcut := _existence(condition.op, condition.value)) is not None:
            found = exists().where(rows.condition)
            return found if shortcut else not_(found)
        measured = None if query.field is None else self.catalogue.source_field(query.of, query.field)
        result_spec = aggregate_result_spec(aggregate, measured)
        subject: SQL
        match aggregate:
            case Aggregate.COUNT:
                subject = self.p.mark_never_null(
                    select(func.count()).select_from(rows.table).where(rows.condition).scalar_subquery()
                )
            case Aggregate.SUM:
                assert measured is not None
                column = self.row_field(query.of, measured, measured.type)
                # Sum over no rows is 0, as total_spent is for a fan with no orders.
                subject = self.p.mark_never_null(
                    select(func.coalesce(func.sum(column), literal(0, BigInteger())))
                    .where(rows.condition)
                    .scalar_subquery()
                )
            case Aggregate.MIN | Aggregate.MAX | Aggregate.FIRST | Aggregate.LAST:
                if aggregate in (Aggregate.MIN, Aggregate.MAX):
                    assert measured is not None
                    column = self.row_field(query.of, measured, measured.type)
                else:
                    column = rows.time
                extreme = func.min if aggregate in (Aggregate.MIN, Aggregate.FIRST) else func.max
                # GROUP BY fan_id changes nothing (one fan: one row or none, i.e. NULL) but keeps SQLite's
                # min/max optimisation from walking a workspace-wide time index backwards for every fan.
                subject = select(extreme(column)).where(rows.condition).group_by(rows.group_key).scalar_subquery()
            case _:
                assert_never(aggregate)
        return build_condition(
            self.p, subject, field_type=result_spec.type, op=condition.op, value=condition.value, now=self.now
        )


def _existence(op: Op, value: object) -> bool | None:
    """For ``count op value``: True when it means "some row", False when "no row", None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if (op is Op.GE and value == 1) or (op is Op.GT and value == 0) or (op is Op.NE and value == 0):
        return True
    if (op is Op.EQ and value == 0) or (op is Op.LT and value == 1) or (op is Op.LE and value == 0):
        return False
    return None


def compile_rule(
    rule: Rule,
    *,
    workspace_id: int,
    now: datetime,
    catalogue: Catalogue,
    references: ResolvedReferences,
    dialect: str,
) -> ColumnElement[bool]:
    """The (validated) rule as one boolean expression correlated to ``fans``; never NULL.

    Use it as ``select(fans.c.id).where(fans.c.workspace_id == workspace_id, expression)``. ``dialect`` is the
    engine's dialect name (``"sqlite"`` or ``"postgresql"``); ``now`` resolves every relative time.
    """
    compiler = _Compiler(
        workspace_id=workspace_id, now=now, catalogue=catalogue, references=references, dialect=dialect
    )
    expression: ColumnElement[bool] = compiler.rule(rule)
    return expression


def time_crossings(
    dependencies: Sequence[TimeDependency],
    *,
    workspace_id: int,
    since: datetime,
    until: datetime,
    catalogue: Catalogue,
    dialect: str,
) -> ColumnElement[bool]:
    """Fans for whom some time-dependent condition may have changed truth between two ticks.

    A ``TimeDependency`` says "this condition can only flip when now reaches t + offset" for the times t it names
    (a fan field, or the times of a source's rows — which also bound first()/last()). So the fans to re-evaluate for
    (since, until] are those with some t in [since - offset, until - offset]: a superset (re-evaluating a fan whose
    membership did not change writes nothing), found by index range scans instead of a pass over every fan.

    Shape: ``fans.id IN (SELECT … UNION ALL SELECT …)``, one uncorrelated range query per (dependency, offset), so
    the database looks up the few fans that crossed by primary key. (An OR of correlated EXISTS made PostgreSQL probe
    the activity indexes once per fan of the workspace: seconds per tick at 20,000 fans.)
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unsupported dialect {dialect!r}")
    compiler = _Compiler(
        workspace_id=workspace_id,
        now=until,
        catalogue=catalogue,
        references=ResolvedReferences(tags={}, lists={}, segments={}),
        dialect=dialect,
    )
    queries: list[Select[Any]] = []
    for dependency in dependencies:
        for offset in dependency.offsets:
            low, high = since - offset, until - offset
            if dependency.kind is TimeDependencyKind.FIELD:
                assert dependency.field is not None
                spec = catalogue.fan_field(dependency.field)
                if spec is None:
                    continue
                value = compiler.fan_field(spec, FieldType.DATETIME)
                queries.append(
                    select(fans.c.id)
                    .where(
                        fans.c.workspace_id == compiler.workspace(),
                        value >= compiler.p.bind(value, low),
                        value <= compiler.p.bind(value, high),
                    )
                    .correlate_except(fans)
                )
            else:
                assert dependency.source is not None
                rows = compiler.rows(BehaviourQuery(of=dependency.source), correlated=False)
                queries.append(
                    select(rows.group_key).where(
                        rows.condition,
                        rows.time >= compiler.p.bind(rows.time, low),
                        rows.time <= compiler.p.bind(rows.time, high),
                    )
                )
    if not queries:
        return false()
    return fans.c.id.in_(queries[0] if len(queries) == 1 else union_all(*queries))


def next_boundary_queries(
    dependencies: Sequence[TimeDependency],
    *,
    workspace_id: int,
    now: datetime,
    catalogue: Catalogue,
    dialect: str,
) -> list[tuple[Select[Any], timedelta]]:
    """Queries for the earliest stored time t with t + offset after ``now``, one per (dependency, offset): the
    next moment a time-dependent condition can flip for somebody is the least ``t + offset`` they return."""
    compiler = _Compiler(
        workspace_id=workspace_id,
        now=now,
        catalogue=catalogue,
        references=ResolvedReferences(tags={}, lists={}, segments={}),
        dialect=dialect,
    )
    queries: list[tuple[Select[Any], timedelta]] = []
    for dependency in dependencies:
        for offset in dependency.offsets:
            bound = now - offset
            if dependency.kind is TimeDependencyKind.FIELD:
                assert dependency.field is not None
                spec = catalogue.fan_field(dependency.field)
                if spec is None:
                    continue
                value = compiler.fan_field(spec, FieldType.DATETIME)
                query = select(func.min(value)).where(
                    fans.c.workspace_id == compiler.workspace(), value > compiler.p.bind(value, bound)
                )
            else:
                assert dependency.source is not None
                # No join to fans: the (workspace_id, fan_id) foreign key already ties every row to a fan of this
                # workspace, and without the join the minimum is the first entry of a (workspace_id, time) index.
                rows = compiler.rows(BehaviourQuery(of=dependency.source), correlated=False)
                query = select(func.min(rows.time)).where(rows.condition, rows.time > compiler.p.bind(rows.time, bound))
            queries.append((query, offset))
    return queries
