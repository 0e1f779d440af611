"""The walk over a rule tree shared by every compiled form: field conditions, tags, lists, segments, behaviour rows
and their filters, built from the one operator table (``build_condition``) over ``SQLPrimitives``.

What differs between the forms is how a condition that reads another table meets ``fans`` — ``fans_in`` (a tag, a
list, a segment's stored membership) and ``behaviour`` — which each form (``per_fan``, ``set_form``, ``batch``)
implements.
"""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from collections.abc import Hashable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import TypedDict
from typing import assert_never

from sqlalchemy import BigInteger
from sqlalchemy import Column
from sqlalchemy import ColumnElement
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import not_

from fanbase.core.evaluate import holds_without_rows
from fanbase.core.fields import SOURCE_ORDER_STATUS
from fanbase.core.fields import Aggregate
from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.core.fields import ListStatus
from fanbase.core.fields import Source
from fanbase.core.fields import aggregate_result_spec
from fanbase.core.fields import property_key
from fanbase.core.operators import Op
from fanbase.core.operators import build_condition
from fanbase.core.operators import combine
from fanbase.core.operators import comparison_type
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
from fanbase.core.rules import reference_key
from fanbase.core.time import require_aware
from fanbase.core.time import resolve_between
from fanbase.core.time import resolve_last
from fanbase.db.rule_sql.primitives import SQLPrimitives
from fanbase.db.rule_sql.spelling import DIALECTS
from fanbase.db.rule_sql.spelling import SQL
from fanbase.db.rule_sql.spelling import JsonView
from fanbase.db.rule_sql.spelling import Likely
from fanbase.db.tables import events
from fanbase.db.tables import fan_tags
from fanbase.db.tables import fans
from fanbase.db.tables import list_members
from fanbase.db.tables import orders
from fanbase.db.tables import segment_members


@dataclass(frozen=True)
class ResolvedReferences:
    """The ids of the tags, lists and segments a rule names, keyed by ``reference_key(name)``.

    A name missing here (deleted since the rule was saved) compiles to false, as the fan cannot have it.
    """

    tags: Mapping[str, int]
    lists: Mapping[str, int]
    segments: Mapping[str, int]


NO_REFERENCES = ResolvedReferences(tags={}, lists={}, segments={})

# Fan fields whose column is not named like the field.
_FAN_COLUMNS: dict[str, str] = {"total_spent": "total_spent_cents"}
# Money rules read the workspace-currency amount; ``currency`` is what the shop charged in (migration 0019).
_ORDER_COLUMNS: dict[str, str] = {"amount": "amount_cents", "currency": "original_currency"}
SOURCE_TABLES: dict[Source, Table] = {Source.ORDERS: orders, Source.REFUNDS: orders, Source.EVENTS: events}


@dataclass(frozen=True)
class SourceRows:
    """The rows a behaviour condition aggregates: their table, time column and the filter that selects them."""

    table: Table
    time: SQL
    condition: SQL
    fan_id: SQL


def count_means_existence(op: Op, value: object) -> bool | None:
    """For ``count op value``: True when it means "some row", False when "no row", None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if (op is Op.GE and value == 1) or (op is Op.GT and value == 0) or (op is Op.NE and value == 0):
        return True
    if (op is Op.EQ and value == 0) or (op is Op.LT and value == 1) or (op is Op.LE and value == 0):
        return False
    return None


def _window_share(length: timedelta) -> float:
    """A window's share of a source's rows, for the planner: activity spans about a year or two, so a window's
    length in years is a fair guess."""
    return min(1.0, max(0.05, length / timedelta(days=365)))


class CompileContext(TypedDict):
    """What a compile of rules is for: one workspace at one ``now`` (which resolves every relative time), its fields,
    the ids of the tags, lists and segments rules name, and the engine's dialect name (one of ``DIALECTS``)."""

    workspace_id: int
    now: datetime
    catalogue: Catalogue
    references: ResolvedReferences
    dialect: str


class RuleWalk(ABC):
    """One compile of rules for one workspace at one ``now``; each form subclasses it."""

    def __init__(
        self,
        *,
        workspace_id: int,
        now: datetime,
        catalogue: Catalogue,
        references: ResolvedReferences,
        dialect: str,
        primitives: SQLPrimitives | None = None,
    ) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"no rule compiler for the {dialect!r} dialect (expected one of {sorted(DIALECTS)})")
        self.primitives = primitives if primitives is not None else SQLPrimitives()
        self.dialect = dialect
        self.workspace_id = workspace_id
        self.now = require_aware(now, what="now")
        self.catalogue = catalogue
        self.references = references

    # --- what each form decides ------------------------------------------------------------------------------

    @abstractmethod
    def fans_in(self, key: Hashable, fan_id: ColumnElement[int], *conditions: SQL) -> SQL:
        """The fan has a row of a table keyed (workspace, thing, fan): a tag, a list membership, a segment's.
        ``conditions[0]`` is the workspace; ``key`` names what the conditions select."""

    @abstractmethod
    def behaviour(self, condition: BehaviourCondition) -> SQL:
        """The behaviour condition for the fan."""

    def segment(self, key: str) -> SQL:
        """ "In segment": the other segment's stored membership, never its rule (no recursion, no cycles at run
        time)."""
        return self.stored_membership(key)

    # --- the walk --------------------------------------------------------------------------------------------

    def workspace(self) -> SQL:
        return literal(self.workspace_id, BigInteger())

    def compare(self, subject: SQL, *, field_type: FieldType, op: Op, value: Any) -> SQL:
        return build_condition(self.primitives, subject, field_type=field_type, op=op, value=value, now=self.now)

    def rule(self, rule: Rule) -> SQL:
        match rule:
            case AllOf(rules=children):
                return combine(self.primitives, [self.rule(child) for child in children], is_all=True)
            case AnyOf(rules=children):
                return combine(self.primitives, [self.rule(child) for child in children], is_all=False)
            case Not(rule=child):
                return not_(self.rule(child))
            case FieldCondition(field=name, op=op, value=value):
                spec = self.catalogue.fan_field(name)
                if spec is None:
                    raise ValueError(f"unknown field {name!r}: validate the rule against this catalogue first")
                compared_as = comparison_type(spec, op, value)
                return self.compare(self.fan_field(spec, compared_as), field_type=compared_as, op=op, value=value)
            case HasTag(tag=name):
                return self.is_member("tag", fan_tags.c.tag_id, self.references.tags.get(reference_key(name)))
            case InList(list_name=name, status=status):
                list_id = self.references.lists.get(reference_key(name))
                return self.is_member("list", list_members.c.list_id, list_id, status=status)
            case InSegment(segment=name):
                return self.segment(reference_key(name))
            case BehaviourAggregate():
                return self.behaviour(rule)
            case _:
                assert_never(rule)

    def stored_membership(self, key: str) -> SQL:
        """The fan is a stored member of the segment with this reference key (false when there is none)."""
        return self.is_member("segment", segment_members.c.segment_id, self.references.segments.get(key))

    def is_member(
        self, kind: str, group: Column[int], group_id: int | None, *, status: ListStatus | None = None
    ) -> SQL:
        """The fan has a row in the membership table of ``group`` (fan_tags, list_members, segment_members) for the
        tag, list or segment ``group_id``, narrowed to a list ``status``; false when there is none (deleted since
        the rule was saved)."""
        if group_id is None:
            return false()
        members = group.table
        conditions = [members.c.workspace_id == self.workspace(), group == literal(group_id, BigInteger())]
        if status is not None and status is not ListStatus.ANY:
            conditions.append(members.c.status == literal(status.value, String()))
        key = (kind, group_id) if status is None else (kind, group_id, status)
        return self.fans_in(key, members.c.fan_id, *conditions)

    def fan_field(self, spec: FieldSpec, compared_as: FieldType) -> SQL:
        if self.catalogue.is_custom(spec.name):
            return JsonView(fans.c.custom_fields, spec.name, compared_as)
        return fans.c[_FAN_COLUMNS.get(spec.name, spec.name)]

    # --- behaviour ------------------------------------------------------------------------------------------

    def rows(self, query: BehaviourQuery, *, correlated: bool = True) -> SourceRows:
        """``correlated``: the rows of the fan in the enclosing query (``fan_id = fans.id``); else every fan's."""
        conditions: list[SQL]
        match query.of:
            case Source.ORDERS | Source.REFUNDS:
                table, time, fan_id = orders, orders.c.placed_at, orders.c.fan_id
                conditions = [
                    orders.c.workspace_id == self.workspace(),
                    orders.c.status == literal(SOURCE_ORDER_STATUS[query.of], String()),
                ]
            case Source.EVENTS:
                table, time, fan_id = events, events.c.occurred_at, events.c.fan_id
                conditions = [events.c.workspace_id == self.workspace()]
            case _:
                assert_never(query.of)
        if correlated:
            conditions.insert(1, fan_id == fans.c.id)
        window: tuple[datetime, datetime] | None = None
        if query.within is not None:
            window = resolve_last(query.within, now=self.now)
        elif query.between is not None:
            window = resolve_between(*query.between, now=self.now)
        if window is not None:
            bind = self.primitives.bind
            within: SQL = and_(time >= bind(time, window[0]), time <= bind(time, window[1]))
            if not correlated:
                # Read over many fans, the window's share steers the choice of index (see Likely).
                within = Likely(within, _window_share(window[1] - window[0]))
            conditions.append(within)
        if query.where is not None:
            conditions.append(self.where(query.where, query.of))
        return SourceRows(table=table, time=time, condition=and_(*conditions), fan_id=fan_id)

    def row_field(self, source: Source, spec: FieldSpec, compared_as: FieldType) -> SQL:
        if source is Source.EVENTS:
            key = property_key(spec.name)
            if key is not None:
                return JsonView(events.c.properties, key, compared_as)
            return events.c[spec.name]
        return orders.c[_ORDER_COLUMNS.get(spec.name, spec.name)]

    def measured_field(self, query: BehaviourQuery) -> SQL:
        """The field a sum, min or max measures, as stored."""
        measured = None if query.field is None else self.catalogue.source_field(query.of, query.field)
        assert measured is not None
        return self.row_field(query.of, measured, measured.type)

    def where(self, where: Where, source: Source) -> SQL:
        match where:
            case WhereAllOf(conditions=children):
                return combine(self.primitives, [self.where(child, source) for child in children], is_all=True)
            case WhereAnyOf(conditions=children):
                return combine(self.primitives, [self.where(child, source) for child in children], is_all=False)
            case WhereNot(condition=child):
                return not_(self.where(child, source))
            case FieldCondition(field=name, op=op, value=value):
                spec = self.catalogue.source_field(source, name)
                if spec is None:
                    raise ValueError(f"unknown {source} field {name!r}: validate the rule first")
                compared_as = comparison_type(spec, op, value)
                subject = self.row_field(source, spec, compared_as)
                return self.compare(subject, field_type=compared_as, op=op, value=value)
            case _:
                assert_never(where)

    def result_spec(self, condition: BehaviourCondition) -> FieldSpec:
        """The type an aggregate's result compares as."""
        query = condition.query
        measured = None if query.field is None else self.catalogue.source_field(query.of, query.field)
        return aggregate_result_spec(condition.aggregate, measured)

    def measure(self, condition: BehaviourCondition, rows: SourceRows) -> SQL:
        """The aggregate's SQL over ``rows`` (to be grouped by fan). Sum over no rows is 0, as total_spent is for a
        fan with no orders; min/max/first/last over none are NULL."""
        match condition.aggregate:
            case Aggregate.COUNT:
                return func.count()
            case Aggregate.SUM:
                return func.coalesce(func.sum(self.measured_field(condition.query)), literal(0, BigInteger()))
            case Aggregate.MIN:
                return func.min(self.measured_field(condition.query))
            case Aggregate.MAX:
                return func.max(self.measured_field(condition.query))
            case Aggregate.FIRST:
                return func.min(rows.time)
            case Aggregate.LAST:
                return func.max(rows.time)
            case _:
                assert_never(condition.aggregate)

    def compare_behaviour(self, condition: BehaviourCondition, value: SQL) -> SQL:
        """``value`` (the aggregate for the fan) compared as the condition says."""
        return self.compare(value, field_type=self.result_spec(condition).type, op=condition.op, value=condition.value)

    def absent_fans_match(self, condition: BehaviourCondition) -> bool:
        return holds_without_rows(condition, now=self.now, catalogue=self.catalogue)

    def coalesced_to_zero(self, value: SQL) -> SQL:
        """A count or sum read after a LEFT JOIN: 0 for a fan without rows."""
        return self.primitives.mark_never_null(func.coalesce(value, literal(0, BigInteger())))
