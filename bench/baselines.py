"""Hand-written SQL for the benchmark rules: the database's own limit that fanbase's compiled queries are held to.

Each baseline is one parametrised statement that runs unchanged on PostgreSQL and SQLite; times are bound through
``UTCDateTime`` so SQLite receives its stored text form. Later phases add the remaining rules here, by name, so the
compiled rule and its baseline are measured side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, text

from fanbase.db.types import UTCDateTime


@dataclass(frozen=True)
class Baseline:
    name: str
    rule: str  # the rule in the text form, for the reader
    statement: TextClause

    def count(self, connection: Connection, *, workspace_id: int, now: datetime) -> int:
        # Statements ignore the parameters they do not name, so every baseline gets the same set.
        parameters: dict[str, Any] = {
            "workspace_id": workspace_id,
            "now": now,
            "since_365d": now - timedelta(days=365),
        }
        return int(connection.execute(self.statement, parameters).scalar_one())


def _statement(sql: str, *times: str) -> TextClause:
    return text(sql).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in times))


PROPERTY_SPENT = Baseline(
    name="property: total_spent > 100",
    rule="total_spent > 100",
    statement=_statement(
        "SELECT count(*) FROM fans WHERE workspace_id = :workspace_id AND total_spent_cents > 10000",
    ),
)

BEHAVIOUR_GIGS = Baseline(
    name="behaviour: >= 2 gigs in 365 days",
    rule='count(events where type = "gig_attended" within 365 days) >= 2',
    statement=_statement(
        "SELECT count(*) FROM ("
        " SELECT fan_id FROM events"
        " WHERE workspace_id = :workspace_id AND type = 'gig_attended'"
        " AND occurred_at >= :since_365d AND occurred_at <= :now"
        " GROUP BY fan_id HAVING count(*) >= 2"
        ") AS matching",
        "since_365d",
        "now",
    ),
)

BASELINES: tuple[Baseline, ...] = (PROPERTY_SPENT, BEHAVIOUR_GIGS)
