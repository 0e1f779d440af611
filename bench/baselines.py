"""Hand-written SQL for the benchmark rules: the database's own limit that fanbase's compiled queries are held to.

Each baseline is one parametrised statement that runs unchanged on PostgreSQL and SQLite; times are bound through
``UTCDateTime`` so SQLite receives its stored text form. Later phases add the remaining rules here, by name, so the
compiled rule and its baseline are measured side by side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Literal

from sqlalchemy import Connection
from sqlalchemy import TextClause
from sqlalchemy import bindparam
from sqlalchemy import text

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


# --- the 50 bench segments -------------------------------------------------------------------------------------
#
# Each entry is a query returning the member fan ids, written as one would by hand for the database: GROUP BY /
# HAVING over the activity tables, anti-joins for "none", INTERSECT-like composition through ``id IN (…)`` for
# segments of segments (the referenced segment's own SQL, inlined: the database's limit, not stored membership).
# Text compares as stored (the data is already in the case the rules name), so no folding is needed.

Dialect = Literal["postgresql", "sqlite"]
DIALECTS: tuple[Dialect, ...] = ("postgresql", "sqlite")
TIME_PARAMETERS = ("now", "d7", "d30", "d90", "d180", "d365", "y2025_start", "y2025_end")
_PARAMETER_RE = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


def _both(sql: str) -> dict[Dialect, str]:
    return dict.fromkeys(DIALECTS, sql)


def _per(*, postgresql: str, sqlite: str) -> dict[Dialect, str]:
    return {"postgresql": postgresql, "sqlite": sqlite}


def _fans(where: str) -> dict[Dialect, str]:
    return _both(f"SELECT id FROM fans WHERE workspace_id = :workspace_id AND {where}")


def _custom(*, postgresql: str, sqlite: str) -> dict[Dialect, str]:
    base = "SELECT id FROM fans WHERE workspace_id = :workspace_id AND "
    return _per(postgresql=base + postgresql, sqlite=base + sqlite)


def _events(where: str, having: str) -> dict[Dialect, str]:
    return _both(
        f"SELECT fan_id FROM events WHERE workspace_id = :workspace_id AND {where} GROUP BY fan_id HAVING {having}"
    )


def _orders(status: str, where: str, having: str) -> dict[Dialect, str]:
    return _both(
        f"SELECT fan_id FROM orders WHERE workspace_id = :workspace_id AND status = '{status}' AND {where} "
        f"GROUP BY fan_id HAVING {having}"
    )


def _tag(key: str) -> str:
    return (
        "SELECT fan_id FROM fan_tags WHERE workspace_id = :workspace_id AND tag_id = "
        f"(SELECT id FROM tags WHERE workspace_id = :workspace_id AND name_key = '{key}')"
    )


def _list(key: str, status: str = "subscribed") -> str:
    return (
        "SELECT fan_id FROM list_members WHERE workspace_id = :workspace_id AND status = "
        f"'{status}' AND list_id = (SELECT id FROM lists WHERE workspace_id = :workspace_id AND name_key = '{key}')"
    )


def _compose(where: str, **parts: dict[Dialect, str]) -> dict[Dialect, str]:
    """Fans matching ``where``, in which ``{name}`` stands for ``id IN (that part's SQL)`` — per dialect."""
    return {
        dialect: "SELECT id FROM fans WHERE workspace_id = :workspace_id AND "
        + where.format(**{name: f"id IN ({sql[dialect]})" for name, sql in parts.items()})
        for dialect in DIALECTS
    }


_ACTIVE_30D = "last_active_at >= :d30 AND last_active_at <= :now"
SEGMENT_SQL: dict[str, dict[Dialect, str]] = {
    "Spent over 100": _fans("total_spent_cents > 10000"),
    "High-Spenders": _fans("total_spent_cents > 20000"),
    "Buyers": _fans("lifecycle_stage IN ('customer', 'advocate')"),
    "Advocates": _fans("lifecycle_stage = 'advocate'"),
    "Repeat buyers": _fans("purchase_count >= 2"),
    "Frequent buyers": _fans("purchase_count > 5"),
    "From subscription": _fans("source = 'subscription'"),
    "US fans": _fans("country = 'US'"),
    "European fans": _fans("country IN ('GB', 'DE', 'FR', 'NL', 'SE', 'ES', 'IT', 'IE')"),
    "Gmail users": _fans("email LIKE '%@gmail.com'"),
    "Rock fans": _custom(
        postgresql="custom_fields->>'favourite_genre' = 'rock'",
        sqlite="json_extract(custom_fields, '$.favourite_genre') = 'rock'",
    ),
    "Fan club flag": _custom(
        postgresql="custom_fields->'fan_club_member' = 'true'::jsonb",
        sqlite="json_type(custom_fields, '$.fan_club_member') = 'true'",
    ),
    "Merch credit": _custom(
        postgresql="(custom_fields->>'merch_credit')::bigint > 2000",
        sqlite="json_extract(custom_fields, '$.merch_credit') > 2000",
    ),
    "No city": _fans("city IS NULL"),
    "Seen 3 shows": _custom(
        postgresql="(custom_fields->>'shows_seen')::numeric >= 3",
        sqlite="json_extract(custom_fields, '$.shows_seen') >= 3",
    ),
    "Active 7d": _fans("last_active_at >= :d7 AND last_active_at <= :now"),
    "Active 30d": _fans(_ACTIVE_30D),
    "Inactive": _fans(f"NOT coalesce({_ACTIVE_30D}, false) AND created_at < :d30"),
    "New this month": _fans("created_at >= :d30 AND created_at <= :now"),
    "Lapsed buyers": _fans("purchase_count > 0 AND last_purchase_at < :d180"),
    "Joined in 2025": _fans("created_at >= :y2025_start AND created_at <= :y2025_end"),
    # The stored custom datetime is fixed-width text: compared as text, bytewise.
    "Early VIPs": _custom(
        postgresql="custom_fields->>'vip_since' COLLATE \"C\" < '2025-06-01T00:00:00.000000+00:00'",
        sqlite="json_extract(custom_fields, '$.vip_since') < '2025-06-01T00:00:00.000000+00:00'",
    ),
    "Gig goers": _events("type = 'gig_attended' AND occurred_at >= :d365 AND occurred_at <= :now", "count(*) >= 2"),
    "Engaged Fans": _events("occurred_at >= :d30 AND occurred_at <= :now", "count(*) >= 3"),
    "Openers 30d": _both(
        "SELECT DISTINCT fan_id FROM events WHERE workspace_id = :workspace_id AND type = 'email_opened' "
        "AND occurred_at >= :d30 AND occurred_at <= :now"
    ),
    "Silent 90d": _fans(
        "NOT EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = :workspace_id AND e.fan_id = fans.id "
        "AND e.occurred_at >= :d90 AND e.occurred_at <= :now)"
    ),
    "Course completers": _both(
        "SELECT DISTINCT fan_id FROM events WHERE workspace_id = :workspace_id AND type = 'course_completed'"
    ),
    "Merch spenders": _orders("completed", "category = 'merch'", "sum(amount_cents) > 10000"),
    "Ticket buyers 180d": _orders(
        "completed", "category = 'ticket' AND placed_at >= :d180 AND placed_at <= :now", "count(*) >= 2"
    ),
    "Refunders": _both("SELECT DISTINCT fan_id FROM orders WHERE workspace_id = :workspace_id AND status = 'refunded'"),
    "Serial refunders": _orders("refunded", "placed_at >= :d365 AND placed_at <= :now", "count(*) >= 2"),
    "Big order": _both(
        "SELECT DISTINCT fan_id FROM orders WHERE workspace_id = :workspace_id AND status = 'completed' "
        "AND amount_cents >= 10000"
    ),
    "Recent buyers": _orders("completed", "1 = 1", "max(placed_at) >= :d30 AND max(placed_at) <= :now"),
    "Paris gig": _per(
        postgresql="SELECT DISTINCT fan_id FROM events WHERE workspace_id = :workspace_id AND type = 'gig_attended' "
        "AND properties->>'city' = 'Paris'",
        sqlite="SELECT DISTINCT fan_id FROM events WHERE workspace_id = :workspace_id AND type = 'gig_attended' "
        "AND json_extract(properties, '$.city') = 'Paris'",
    ),
    "Clickers not openers": _both(
        "SELECT fan_id FROM events WHERE workspace_id = :workspace_id AND occurred_at >= :d90 "
        "AND occurred_at <= :now AND type IN ('link_clicked', 'email_opened') GROUP BY fan_id "
        "HAVING sum(CASE WHEN type = 'link_clicked' THEN 1 ELSE 0 END) >= 2 "
        "AND sum(CASE WHEN type = 'email_opened' THEN 1 ELSE 0 END) = 0"
    ),
    "Course and club spend": _orders(
        "completed",
        "category IN ('course', 'membership') AND placed_at >= :d365 AND placed_at <= :now",
        "sum(amount_cents) >= 15000",
    ),
    "First order in 2025": _orders(
        "completed", "1 = 1", "min(placed_at) >= :y2025_start AND min(placed_at) <= :y2025_end"
    ),
    "VIP tagged": _both(_tag("vip")),
    "Discord superfans": _both(f"{_tag('superfan')} INTERSECT {_tag('discord')}"),
    "Presale list": _both(_list("presale")),
    "Newsletter bounced": _both(_list("newsletter", "bounced")),
    "Tour alerts only": _both(f"{_list('tour alerts')} EXCEPT {_list('newsletter')}"),
    "Lapsed merch VIPs": _both(
        "SELECT id FROM fans WHERE workspace_id = :workspace_id AND lifecycle_stage IN ('customer', 'advocate') "
        "AND total_spent_cents > 10000 AND last_active_at < :d30 "
        f"AND (id IN ({_tag('vip')}) OR id IN ({_list('fan club')})) "
        "AND id IN (SELECT fan_id FROM orders WHERE workspace_id = :workspace_id AND status = 'completed' "
        "AND category = 'merch' AND placed_at >= :d365 AND placed_at <= :now GROUP BY fan_id HAVING count(*) >= 2)"
    ),
    "Anglo gig goers": _both(
        "SELECT id FROM fans WHERE workspace_id = :workspace_id AND country IN ('US', 'GB') "
        "AND id IN (SELECT fan_id FROM events WHERE workspace_id = :workspace_id AND type = 'gig_attended' "
        "AND occurred_at >= :d180 AND occurred_at <= :now) "
        f"AND id NOT IN ({_tag('press')})"
    ),
    "Win-back": _both(
        "SELECT id FROM fans WHERE workspace_id = :workspace_id AND purchase_count >= 2 "
        "AND NOT coalesce(last_active_at >= :d90 AND last_active_at <= :now, false) "
        f"AND id IN ({_list('newsletter')})"
    ),
}
SEGMENT_SQL["High value active"] = _compose(
    "{high} AND {engaged}", high=SEGMENT_SQL["High-Spenders"], engaged=SEGMENT_SQL["Engaged Fans"]
)
SEGMENT_SQL["VIPs at risk"] = _compose(
    "{vip} AND {inactive}", vip=SEGMENT_SQL["VIP tagged"], inactive=SEGMENT_SQL["Inactive"]
)
SEGMENT_SQL["European gig goers"] = _compose(
    "{europe} AND {gigs}", europe=SEGMENT_SQL["European fans"], gigs=SEGMENT_SQL["Gig goers"]
)
# Both parts are conditions on fans: written as one would, in one WHERE. (As "id NOT IN (…)" PostgreSQL plans an
# unhashed subplan once the active fans no longer fit in work_mem: a scan of them per fan, which ran for over
# 9 minutes at 1M fans before it was cancelled.)
SEGMENT_SQL["Buyers gone quiet"] = _fans(
    f"lifecycle_stage IN ('customer', 'advocate') AND NOT coalesce({_ACTIVE_30D}, false)"
)
SEGMENT_SQL["Champions"] = _compose(
    "({high} OR {discord} OR {europe})",
    high=SEGMENT_SQL["High value active"],
    discord=SEGMENT_SQL["Discord superfans"],
    europe=SEGMENT_SQL["European gig goers"],
)


def segment_parameters(*, workspace_id: int, now: datetime) -> dict[str, Any]:
    day = timedelta(days=1)
    return {
        "workspace_id": workspace_id,
        "now": now,
        **{f"d{days}": now - days * day for days in (7, 30, 90, 180, 365)},
        "y2025_start": datetime(2025, 1, 1, tzinfo=UTC),
        "y2025_end": datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    }


def segment_statement(name: str, dialect: str, *, count: bool) -> TextClause:
    """The hand-written member query of a bench segment (or its count), with times bound as stored."""
    sql = SEGMENT_SQL[name][dialect]  # type: ignore[index]
    if count:
        sql = f"SELECT count(*) FROM ({sql}) AS members"
    used = set(_PARAMETER_RE.findall(sql))
    return _statement(sql, *(name for name in TIME_PARAMETERS if name in used))


def segment_member_ids(connection: Connection, name: str, *, workspace_id: int, now: datetime) -> set[int]:
    statement = segment_statement(name, connection.dialect.name, count=False)
    return set(connection.execute(statement, segment_parameters(workspace_id=workspace_id, now=now)).scalars())


def segment_count(connection: Connection, name: str, *, workspace_id: int, now: datetime) -> int:
    statement = segment_statement(name, connection.dialect.name, count=True)
    return int(connection.execute(statement, segment_parameters(workspace_id=workspace_id, now=now)).scalar_one())


# The rate limiter stays on in the bench (its per-request counting is part of the write path a client sees), with
# limits no bench run reaches.
BENCH_RATE_LIMITS = {"rate_limit_per_key": 10**9, "rate_limit_per_address": 10**9}
