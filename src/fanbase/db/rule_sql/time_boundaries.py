"""When time alone can change a rule's truth: the fans whose time-dependent conditions may have flipped between two
ticks, and the next moment one can flip for somebody."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import union_all
from sqlalchemy.sql import Select

from fanbase.core.dependencies import TimeDependency
from fanbase.core.dependencies import TimeDependencyKind
from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldType
from fanbase.core.rules import BehaviourQuery
from fanbase.db.rule_sql.base import NO_REFERENCES
from fanbase.db.rule_sql.per_fan import PerFanWalk
from fanbase.db.rule_sql.spelling import SQL
from fanbase.db.tables import fans


@dataclass(frozen=True)
class _StoredTimes:
    """The stored times t a dependency names (a fan field, or the times of a source's rows — which also bound
    first()/last()), with the filter that selects them and the fan each belongs to."""

    time: SQL
    conditions: tuple[SQL, ...]
    fan_id: SQL
    is_fan_field: bool

    def select(self, column: SQL, *conditions: SQL) -> Select[Any]:
        return select(column).where(*self.conditions, *conditions)


def _stored_times(dependencies: Sequence[TimeDependency], walk: PerFanWalk) -> Iterator[tuple[_StoredTimes, timedelta]]:
    """Each (stored times, offset) pair of the dependencies; a fan field missing from the catalogue has none."""
    for dependency in dependencies:
        stored: _StoredTimes
        if dependency.kind is TimeDependencyKind.FIELD:
            assert dependency.field is not None
            spec = walk.catalogue.fan_field(dependency.field)
            if spec is None:
                continue
            value = walk.fan_field(spec, FieldType.DATETIME)
            stored = _StoredTimes(
                time=value, conditions=(fans.c.workspace_id == walk.workspace(),), fan_id=fans.c.id, is_fan_field=True
            )
        else:
            assert dependency.source is not None
            # No join to fans: the (workspace_id, fan_id) foreign key already ties every row to a fan of this
            # workspace, and without the join the minimum is the first entry of a (workspace_id, time) index.
            rows = walk.rows(BehaviourQuery(of=dependency.source), correlated=False)
            stored = _StoredTimes(time=rows.time, conditions=(rows.condition,), fan_id=rows.fan_id, is_fan_field=False)
        for offset in dependency.offsets:
            yield stored, offset


def _walk(*, workspace_id: int, now: datetime, catalogue: Catalogue, dialect: str) -> PerFanWalk:
    return PerFanWalk(
        workspace_id=workspace_id, now=now, catalogue=catalogue, references=NO_REFERENCES, dialect=dialect
    )


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

    A ``TimeDependency`` says "this condition can only flip when now reaches t + offset" for the times t it names.
    So the fans to re-evaluate for (since, until] are those with some t in [since - offset, until - offset]: a
    superset (re-evaluating a fan whose membership did not change writes nothing), found by index range scans
    instead of a pass over every fan.

    Shape: ``fans.id IN (SELECT … UNION ALL SELECT …)``, one uncorrelated range query per (dependency, offset), so
    the database looks up the few fans that crossed by primary key. (An OR of correlated EXISTS made PostgreSQL probe
    the activity indexes once per fan of the workspace.)
    """
    walk = _walk(workspace_id=workspace_id, now=until, catalogue=catalogue, dialect=dialect)
    bind = walk.primitives.bind
    queries: list[Select[Any]] = []
    for stored, offset in _stored_times(dependencies, walk):
        low, high = since - offset, until - offset
        query = stored.select(
            stored.fan_id, stored.time >= bind(stored.time, low), stored.time <= bind(stored.time, high)
        )
        queries.append(query.correlate_except(fans) if stored.is_fan_field else query)
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
    walk = _walk(workspace_id=workspace_id, now=now, catalogue=catalogue, dialect=dialect)
    bind = walk.primitives.bind
    return [
        (stored.select(func.min(stored.time), stored.time > bind(stored.time, now - offset)), offset)
        for stored, offset in _stored_times(dependencies, walk)
    ]
