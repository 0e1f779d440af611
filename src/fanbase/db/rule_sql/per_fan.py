"""The per-fan form: the rule as one boolean expression correlated to ``fans``. Tags, lists, segments and behaviour
are subqueries on ``fan_id = fans.id``: right for a few fans (a scheduler tick's crossings, a page of fans), each
an index probe per fan."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Unpack
from typing import assert_never

from sqlalchemy import ColumnElement
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import not_
from sqlalchemy import select

from fanbase.core.fields import Aggregate
from fanbase.core.rules import BehaviourCondition
from fanbase.core.rules import Rule
from fanbase.db.rule_sql.base import CompileContext
from fanbase.db.rule_sql.base import RuleWalk
from fanbase.db.rule_sql.base import count_means_existence
from fanbase.db.rule_sql.spelling import SQL
from fanbase.db.tables import fans


def correlated_behaviour(walk: RuleWalk, condition: BehaviourCondition) -> SQL:
    """A behaviour condition as a subquery on the fan's rows (``fan_id = fans.id``, led by ``workspace_id``: the
    ``(workspace_id, fan_id, …)`` indexes serve it); "some row" and "no row" are ``EXISTS`` / ``NOT EXISTS``."""
    aggregate = condition.aggregate
    rows = walk.rows(condition.query)
    if aggregate is Aggregate.COUNT and (shortcut := count_means_existence(condition.op, condition.value)) is not None:
        # The table is named: a condition that folds to false (a constant with NUL) would leave no FROM at all.
        found = exists().select_from(rows.table).where(rows.condition)
        return found if shortcut else not_(found)
    subject: SQL
    match aggregate:
        case Aggregate.COUNT:
            subject = walk.primitives.mark_never_null(
                select(func.count()).select_from(rows.table).where(rows.condition).scalar_subquery()
            )
        case Aggregate.SUM:
            value = walk.measure(condition, rows)
            subject = walk.primitives.mark_never_null(select(value).where(rows.condition).scalar_subquery())
        case Aggregate.MIN | Aggregate.MAX | Aggregate.FIRST | Aggregate.LAST:
            # GROUP BY fan_id changes nothing (one fan: one row or none, i.e. NULL) but keeps SQLite's
            # min/max optimisation from walking a workspace-wide time index backwards for every fan.
            value = walk.measure(condition, rows)
            subject = select(value).where(rows.condition).group_by(rows.fan_id).scalar_subquery()
        case _:
            assert_never(aggregate)
    return walk.compare_behaviour(condition, subject)


class PerFanWalk(RuleWalk):
    def fans_in(self, key: Hashable, fan_id: ColumnElement[int], *conditions: SQL) -> SQL:
        return exists().where(*conditions, fan_id == fans.c.id)

    def behaviour(self, condition: BehaviourCondition) -> SQL:
        return correlated_behaviour(self, condition)


def compile_rule(rule: Rule, **context: Unpack[CompileContext]) -> ColumnElement[bool]:
    """The (validated) rule as one boolean expression correlated to ``fans`` (the per-fan form); never NULL.

    Use it as ``select(fans.c.id).where(fans.c.workspace_id == workspace_id, expression)``.
    """
    expression: ColumnElement[bool] = PerFanWalk(**context).rule(rule)
    return expression
