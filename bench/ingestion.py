"""Sustained ingestion (issue 13): batches of events through fanbase's write path, the service and HTTP, beside a
hand-written micro-batch that does the same work: the reference the write path is read against.

The reference (``MicroBatch.write``), per batch, in one transaction of hand-written SQL:

1. the events go in (PostgreSQL: ``COPY`` on the raw psycopg connection; SQLite: one executemany), and their fans'
   three latest times per event type (``fan_latest_events``, which the product keeps with every event insert and
   its rules read) are merged with them in one statement (``merge_latest_events``);
2. each fan's ``last_active_at`` moves forward to its latest event, never backward;
3. one statement evaluates the segments for the batch's fans only: each segment's hand-written member query
   (``bench.baselines.SEGMENT_SQL``) with every scan of fans, events, orders, tags and lists restricted to them,
   and a segment that segments of segments name evaluated once for them all (``evaluation_sql``);
4. one statement reads those fans' stored membership of those segments, and the differences are written: ledger
   rows (cause "write", the segment's rule version), leavers deleted, entrants inserted.

That keeps membership exact, as the write path does (the caller checks the segments against their hand-written
SQL afterwards), and commits as durably (the product's engine and settings). What the product does beyond it, the
reference leaves out: it returns no event ids, checks no fan id (the foreign key refuses an unknown one), takes no
fan locks (one writer; its UPDATE locks the fans it moves), queues no webhook (the bench subscribes none, so the
product writes none either) and stores no idempotency reply (the bench sends no key).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import Connection
from sqlalchemy import TextClause
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import ARRAY
from starlette.testclient import TestClient

from bench.baselines import BENCH_RATE_LIMITS
from bench.baselines import SEGMENT_SQL
from bench.baselines import TIME_PARAMETERS
from bench.baselines import segment_parameters
from bench.stats import summarise
from fanbase.api.app import create_app
from fanbase.db.engine import Database
from fanbase.db.tables import LATEST_EVENTS
from fanbase.db.tables import fans
from fanbase.db.tables import segment_membership_log
from fanbase.db.tables import segments
from fanbase.db.types import UTCDateTime
from fanbase.schemas.orders_events import EventIn
from fanbase.services import orders_events
from fanbase.settings import Settings

EVENT_TYPES = ("email_opened", "page_viewed", "link_clicked", "gig_attended")

# The bench segments an event can change: those whose rules read events, or last_active_at (which an event moves
# forward), and the segments of segments built on any of these. An event cannot change the others, so the
# reference skips them: property and date rules on what events never write (spend, purchase counts, country,
# email, custom fields, created_at), order and refund behaviour, tags and lists. Of the segments of segments none
# is skipped (each is built on one of these); the bench has no static segment. fanbase's write path evaluates
# exactly these too (``membership.affected_segments`` for an event; the smoke test holds the two equal). The
# throughput phase also runs the reference over every bench segment, to show what evaluating them all costs.
EVENT_SEGMENTS = frozenset(
    {
        # last_active_at
        "Active 7d",
        "Active 30d",
        "Inactive",
        "Lapsed merch VIPs",
        "Win-back",
        # events
        "Gig goers",
        "Engaged Fans",
        "Openers 30d",
        "Silent 90d",
        "Course completers",
        "Paris gig",
        "Clickers not openers",
        "Anglo gig goers",
        # built on the above
        "High value active",
        "VIPs at risk",
        "European gig goers",
        "Buyers gone quiet",
        "Champions",
    }
)


def random_event(rnd: random.Random, highest_fan: int) -> EventIn:
    """An event of one of the bench's types, by an existing fan (ids 1 to ``highest_fan``), at the write's now."""
    kind = rnd.choice(EVENT_TYPES)
    properties: dict[str, Any] = {"venue": "Bowery Ballroom", "city": "New York"} if kind == "gig_attended" else {}
    return EventIn(fan_id=rnd.randint(1, highest_fan), type=kind, properties=properties)


def highest_fan_id(database: Database, workspace_id: int) -> int:
    with database.engine.connect() as connection:
        return int(
            connection.execute(select(func.max(fans.c.id)).where(fans.c.workspace_id == workspace_id)).scalar_one()
        )


def latest_ledger_id(database: Database) -> int:
    """The ledger's highest row id: the rows a write added are those above it (cheaper than counting them all)."""
    with database.engine.connect() as connection:
        return int(connection.execute(select(func.coalesce(func.max(segment_membership_log.c.id), 0))).scalar_one())


def ledger_rows_since(database: Database, workspace_id: int, mark: int) -> int:
    with database.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).where(
                    segment_membership_log.c.id > mark, segment_membership_log.c.workspace_id == workspace_id
                )
            ).scalar_one()
        )


# --- the hand-written micro-batch ---------------------------------------------------------------------------------

_WORKSPACE_SCAN = re.compile(r"\bFROM (fans|events|orders|fan_tags|list_members) WHERE workspace_id = :workspace_id\b")

# "Silent 90d" for a batch: the baseline's NOT EXISTS, correlated per fan, is served on SQLite (once statistics are
# gathered) from the (workspace_id, occurred_at, fan_id) index, every event of the last 90 days for each fan: 0.93 s
# a batch at 5,000 fans. The same anti-join as NOT IN over the batch's own events reads those once.
MICRO_BATCH_SQL = {
    "Silent 90d": (
        "SELECT id FROM fans WHERE workspace_id = :workspace_id AND id NOT IN (SELECT fan_id FROM events "
        "WHERE workspace_id = :workspace_id AND occurred_at >= :d90 AND occurred_at <= :now)"
    ),
}


def _in_batch(dialect: str) -> str:
    # PostgreSQL: the ids as one array parameter; SQLite has no arrays: one JSON text, read by json_each.
    return "= ANY(:fan_ids)" if dialect == "postgresql" else "IN (SELECT value FROM json_each(:fan_ids))"


def _restricted(sql: str, *, dialect: str) -> str:
    """``sql`` with every scan of the workspace's fans, events, orders, tags and lists restricted to the batch's
    fans (``:fan_ids``). Exact, because every part composes fan by fan (IN, NOT IN, INTERSECT, EXCEPT of fan ids);
    the correlated NOT EXISTS of a baseline reads the events of the fan it is correlated with."""
    in_batch = _in_batch(dialect)

    def restrict(scan: re.Match[str]) -> str:
        column = "id" if scan[1] == "fans" else "fan_id"
        return f"{scan[0]} AND {column} {in_batch}"

    restricted, scans = _WORKSPACE_SCAN.subn(restrict, sql)
    if not scans:
        raise ValueError(f"no scan the reference knows how to restrict in: {sql}")
    return restricted


def evaluation_sql(arms: Sequence[tuple[int, str]], *, dialect: str) -> str:
    """One statement giving (segment id, fan id) for every member among the batch's fans of each (segment id, bench
    segment name) of ``arms``: the segments' hand-written SQL (``SEGMENT_SQL``, or ``MICRO_BATCH_SQL`` where it has
    one) restricted to the batch. The segments a segment of segments inlines (``id IN (<that segment's SQL>)``)
    become common table expressions it reads, so that a segment named by several is evaluated once for them all."""
    sql_of = {name: MICRO_BATCH_SQL.get(name) or SEGMENT_SQL[name][dialect] for name in SEGMENT_SQL}  # type: ignore[index]
    # Longest first: a segment inlined in another inlined one is then replaced inside that one's expression.
    by_length = sorted(sql_of, key=lambda name: -len(sql_of[name]))
    tables: dict[str, str] = {}
    definitions: list[str] = []

    def table_of(name: str) -> str:
        if name not in tables:
            body = sql_of[name]
            for other in by_length:
                inlined = f"id IN ({sql_of[other]})"
                if other != name and inlined in body:
                    body = body.replace(inlined, f"id IN (SELECT fan_id FROM {table_of(other)})")
            tables[name] = f"segment_{len(tables)}"
            definitions.append(f"{tables[name]}(fan_id) AS ({_restricted(body, dialect=dialect)})")
        return tables[name]

    selects = [f"SELECT {segment_id} AS segment_id, fan_id FROM {table_of(name)}" for segment_id, name in arms]
    return f"WITH {', '.join(definitions)} {' UNION ALL '.join(selects)}"


def _statement(sql: str, *, dialect: str) -> TextClause:
    times = [bindparam(name, type_=UTCDateTime()) for name in TIME_PARAMETERS if re.search(rf":{name}\b", sql)]
    ids = [bindparam("fan_ids", type_=ARRAY(BigInteger()))] if dialect == "postgresql" else []
    return text(sql).bindparams(*times, *ids)


def _sqlite_time(value: datetime) -> str:
    # The stored form of UTCDateTime on SQLite (SQLAlchemy's): naive UTC text, always with microseconds.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


_UPDATE_ACTIVITY_POSTGRESQL = (
    "UPDATE fans SET last_active_at = latest.at FROM unnest(%s::bigint[], %s::timestamptz[]) AS latest(fan_id, at) "
    "WHERE fans.workspace_id = %s AND fans.id = latest.fan_id "
    "AND (fans.last_active_at IS NULL OR fans.last_active_at < latest.at)"
)
_DELETE_MEMBERS_POSTGRESQL = (
    "DELETE FROM segment_members USING unnest(%s::bigint[], %s::bigint[]) AS leaving(segment_id, fan_id) "
    "WHERE segment_members.workspace_id = %s AND segment_members.segment_id = leaving.segment_id "
    "AND segment_members.fan_id = leaving.fan_id"
)
_UPDATE_ACTIVITY_SQLITE = (
    "UPDATE fans SET last_active_at = ? WHERE workspace_id = ? AND id = ? "
    "AND (last_active_at IS NULL OR last_active_at < ?)"
)
_DELETE_MEMBERS_SQLITE = "DELETE FROM segment_members WHERE workspace_id = ? AND segment_id = ? AND fan_id = ?"
# The batch's events, one row each: fan_id, type, at (PostgreSQL: three arrays; SQLite: one JSON array of triples).
_ARRIVING = {
    "postgresql": "SELECT fan_id, type, at, 1 AS is_arriving FROM unnest(CAST(:arriving_fans AS bigint[]), "
    "CAST(:arriving_types AS text[]), CAST(:arriving_times AS timestamptz[])) AS arriving(fan_id, type, at)",
    "sqlite": "SELECT json_extract(value, '$[0]') AS fan_id, json_extract(value, '$[1]') AS type, "
    "json_extract(value, '$[2]') AS at, 1 AS is_arriving FROM json_each(:arriving)",
}


def merge_latest_events(dialect: str) -> TextClause:
    """The batch's event times folded into their fans' three latest per type, in one statement: the arriving times
    and the stored ones ranked together per (fan, type), and written (inserted, or updated) only for the pairs whose
    three latest now include an arriving one. Times sort as they compare on both databases (timestamptz; UTC text
    of fixed width on SQLite)."""
    stored = " UNION ALL ".join(
        f"SELECT fan_id, type, t{rank}, 0 FROM fan_latest_events WHERE workspace_id = :workspace_id "
        f"AND fan_id {_in_batch(dialect)} AND t{rank} IS NOT NULL"
        for rank in range(1, LATEST_EVENTS + 1)
    )
    ranks = ", ".join(f"max(CASE WHEN nth = {rank} THEN at END)" for rank in range(1, LATEST_EVENTS + 1))
    columns = [f"t{rank}" for rank in range(1, LATEST_EVENTS + 1)]
    return _statement(
        f"INSERT INTO fan_latest_events (workspace_id, fan_id, type, {', '.join(columns)}) "
        f"SELECT :workspace_id, fan_id, type, {ranks} FROM ("
        "SELECT fan_id, type, at, is_arriving, row_number() OVER (PARTITION BY fan_id, type ORDER BY at DESC) AS nth "
        f"FROM ({_ARRIVING[dialect]} UNION ALL {stored}) AS times"
        f") AS ranked WHERE nth <= {LATEST_EVENTS} GROUP BY fan_id, type HAVING max(is_arriving) = 1 "
        "ON CONFLICT (workspace_id, fan_id, type) DO UPDATE SET "
        + ", ".join(f"{column} = excluded.{column}" for column in columns),
        dialect=dialect,
    )


_COLUMNS = {
    "events": ("workspace_id", "fan_id", "type", "properties", "occurred_at", "created_at"),
    "segment_membership_log": ("workspace_id", "segment_id", "fan_id", "entered", "at", "cause", "rule_version"),
    "segment_members": ("workspace_id", "segment_id", "fan_id", "since"),
}
Row = tuple[Any, ...]


def _postgresql_types(database: Database) -> dict[str, list[str]]:
    """The PostgreSQL type of every column the reference copies into (binary COPY needs them), from the database."""
    with database.engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT table_name, column_name, udt_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ANY(:tables)"
            ),
            {"tables": list(_COLUMNS)},
        ).all()
    types = {(table, column): udt for table, column, udt in found}
    return {table: [types[table, column] for column in columns] for table, columns in _COLUMNS.items()}


@dataclass(frozen=True)
class MicroBatch:
    """The hand-written micro-batch over some of a workspace's bench segments (built by ``prepare``)."""

    database: Database
    workspace_id: int
    rule_versions: dict[int, int]  # segment id -> rule version, of the segments evaluated
    evaluation: TextClause  # (segment id, fan id) of every member among the batch's fans
    stored: TextClause  # (segment id, fan id) stored for the batch's fans
    merge_latest: TextClause  # the batch's event times into fan_latest_events
    column_types: dict[str, list[str]]  # PostgreSQL only

    @classmethod
    def prepare(cls, database: Database, workspace_id: int, *, names: Iterable[str] | None = None) -> MicroBatch:
        """Over the workspace's dynamic segments that are bench segments (only ``names`` if given)."""
        wanted = set(SEGMENT_SQL if names is None else names)
        dialect = database.dialect
        with database.engine.connect() as connection:
            rows = connection.execute(
                select(segments.c.id, segments.c.name, segments.c.rule_version).where(
                    segments.c.workspace_id == workspace_id, segments.c.kind == "dynamic"
                )
            ).all()
        chosen = sorted((int(row.id), row.name, int(row.rule_version)) for row in rows if row.name in wanted)
        if not chosen:
            raise ValueError("the workspace has none of the named bench segments")
        # One statement for every segment: one round trip, one plan.
        evaluation = evaluation_sql([(segment_id, name) for segment_id, name, _ in chosen], dialect=dialect)
        listed = ", ".join(str(segment_id) for segment_id, _, _ in chosen)
        stored = (
            "SELECT segment_id, fan_id FROM segment_members WHERE workspace_id = :workspace_id "
            f"AND segment_id IN ({listed}) AND fan_id {_in_batch(dialect)}"
        )
        return cls(
            database=database,
            workspace_id=workspace_id,
            rule_versions={segment_id: version for segment_id, _, version in chosen},
            evaluation=_statement(evaluation, dialect=dialect),
            stored=_statement(stored, dialect=dialect),
            merge_latest=merge_latest_events(dialect),
            column_types=_postgresql_types(database) if dialect == "postgresql" else {},
        )

    def write(self, items: Sequence[EventIn], *, now: datetime) -> int:
        """Record the events and keep the segments exact, in one transaction; returns the ledger rows written."""
        workspace_id = self.workspace_id
        rows: list[Row] = []
        latest: dict[int, datetime] = {}
        for item in items:
            assert item.fan_id is not None, "the reference writes events of known fans"
            occurred_at = item.occurred_at or now
            rows.append((workspace_id, item.fan_id, item.type, dict(item.properties), occurred_at, now))
            latest[item.fan_id] = max(latest.get(item.fan_id, occurred_at), occurred_at)
        fan_ids = sorted(latest)
        is_postgresql = self.database.dialect == "postgresql"
        with self.database.transaction(workspace_id=None) as connection:
            if is_postgresql:
                self._record_activity_postgresql(connection, rows, latest)
            else:
                self._record_activity_sqlite(connection, rows, latest)
            self._merge_latest_events(connection, rows, fan_ids)
            should = self.members_among(connection, fan_ids, now=now)
            stored = self.stored_among(connection, fan_ids)
            leaving = sorted(stored - should)
            entering = sorted(should - stored)
            ledger = [
                (workspace_id, segment_id, fan_id, is_entry, now, "write", self.rule_versions[segment_id])
                for is_entry, moved in ((False, leaving), (True, entering))
                for segment_id, fan_id in moved
            ]
            members = [(workspace_id, segment_id, fan_id, now) for segment_id, fan_id in entering]
            if is_postgresql:
                self._write_membership_postgresql(connection, ledger, leaving, members)
            else:
                self._write_membership_sqlite(connection, ledger, leaving, members)
        return len(ledger)

    def _merge_latest_events(self, connection: Connection, rows: Sequence[Row], fan_ids: Sequence[int]) -> None:
        arriving: dict[str, Any]
        if self.database.dialect == "postgresql":
            arriving = {
                "arriving_fans": [row[1] for row in rows],
                "arriving_types": [row[2] for row in rows],
                "arriving_times": [row[4] for row in rows],
            }
        else:
            arriving = {"arriving": json.dumps([[row[1], row[2], _sqlite_time(row[4])] for row in rows])}
        connection.execute(self.merge_latest, {**self._among(fan_ids), **arriving})

    def _among(self, fan_ids: Sequence[int]) -> dict[str, Any]:
        listed = list(fan_ids)
        return {
            "workspace_id": self.workspace_id,
            "fan_ids": listed if self.database.dialect == "postgresql" else json.dumps(listed),
        }

    def members_among(self, connection: Connection, fan_ids: Sequence[int], *, now: datetime) -> set[tuple[int, int]]:
        """(segment id, fan id) of every member among the fans, by the hand-written SQL restricted to them."""
        parameters = {**segment_parameters(workspace_id=self.workspace_id, now=now), **self._among(fan_ids)}
        rows = connection.execute(self.evaluation, parameters)
        return {(int(segment_id), int(fan_id)) for segment_id, fan_id in rows}

    def stored_among(self, connection: Connection, fan_ids: Sequence[int]) -> set[tuple[int, int]]:
        """(segment id, fan id) of every stored member among the fans."""
        rows = connection.execute(self.stored, self._among(fan_ids))
        return {(int(segment_id), int(fan_id)) for segment_id, fan_id in rows}

    def _copy(self, cursor: Any, table: str, rows: Sequence[Row]) -> None:
        if not rows:
            return
        # Binary COPY: psycopg's text form of a datetime costs ~20x the binary one (bench/load.py measured it).
        with cursor.copy(f"COPY {table} ({', '.join(_COLUMNS[table])}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(self.column_types[table])
            for row in rows:
                copy.write_row(row)

    def _record_activity_postgresql(
        self, connection: Connection, rows: Sequence[Row], latest: dict[int, datetime]
    ) -> None:
        with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            self._copy(cursor, "events", rows)
            cursor.execute(_UPDATE_ACTIVITY_POSTGRESQL, (list(latest), list(latest.values()), self.workspace_id))

    def _write_membership_postgresql(
        self, connection: Connection, ledger: Sequence[Row], leaving: Sequence[Row], members: Sequence[Row]
    ) -> None:
        with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            self._copy(cursor, "segment_membership_log", ledger)
            if leaving:
                segment_ids, fan_ids = zip(*leaving, strict=True)
                cursor.execute(_DELETE_MEMBERS_POSTGRESQL, (list(segment_ids), list(fan_ids), self.workspace_id))
            self._copy(cursor, "segment_members", members)

    def _record_activity_sqlite(self, connection: Connection, rows: Sequence[Row], latest: dict[int, datetime]) -> None:
        connection.exec_driver_sql(
            f"INSERT INTO events ({', '.join(_COLUMNS['events'])}) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (workspace, fan_id, kind, json.dumps(properties), _sqlite_time(occurred), _sqlite_time(created))
                for workspace, fan_id, kind, properties, occurred, created in rows
            ],
        )
        connection.exec_driver_sql(
            _UPDATE_ACTIVITY_SQLITE,
            [(_sqlite_time(at), self.workspace_id, fan_id, _sqlite_time(at)) for fan_id, at in latest.items()],
        )

    def _write_membership_sqlite(
        self, connection: Connection, ledger: Sequence[Row], leaving: Sequence[Row], members: Sequence[Row]
    ) -> None:
        if ledger:
            connection.exec_driver_sql(
                f"INSERT INTO segment_membership_log ({', '.join(_COLUMNS['segment_membership_log'])}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*row[:3], int(row[3]), _sqlite_time(row[4]), *row[5:]) for row in ledger],
            )
        if leaving:
            connection.exec_driver_sql(
                _DELETE_MEMBERS_SQLITE, [(self.workspace_id, segment_id, fan_id) for segment_id, fan_id in leaving]
            )
        if members:
            connection.exec_driver_sql(
                f"INSERT INTO segment_members ({', '.join(_COLUMNS['segment_members'])}) VALUES (?, ?, ?, ?)",
                [(*row[:3], _sqlite_time(row[3])) for row in members],
            )


# --- the phase ------------------------------------------------------------------------------------------------


def _figures(samples: list[float], *, batch_size: int, ledger_rows: int) -> dict[str, Any]:
    return {
        "batches": len(samples),
        "batch_size": batch_size,
        "events_per_second": len(samples) * batch_size / (sum(samples) / 1000),
        "batch": summarise(samples),
        "ledger_rows_written": ledger_rows,
    }


def throughput(
    database: Database,
    workspace_id: int,
    *,
    api_key: str,
    now: datetime,
    batches: int,
    batch_size: int = 1000,
    seed: int = 7,
) -> dict[str, Any]:
    """Events per second, single writer, in batches of ``batch_size``: through ``record_events`` and, in
    alternation with it, through the hand-written micro-batch over the segments an event can change
    (``reference``) and over every bench segment (``reference_all_segments``); then through HTTP.

    Alternated (the writer that goes first moves on each round) because each batch leaves fewer fans whose
    ``last_active_at`` an event still moves: every writer meets the same state. Each batch draws its own fans.
    """
    rnd = random.Random(seed)
    highest = highest_fan_id(database, workspace_id)
    reference = MicroBatch.prepare(database, workspace_id, names=EVENT_SEGMENTS)
    every_segment = MicroBatch.prepare(database, workspace_id)
    writers: dict[str, Callable[[list[EventIn]], object]] = {
        "service": lambda items: orders_events.record_events(database, workspace_id, items, now=now),
        "reference": partial(reference.write, now=now),
        "reference_all_segments": partial(every_segment.write, now=now),
    }
    samples: dict[str, list[float]] = {label: [] for label in writers}
    ledger: dict[str, int] = dict.fromkeys(writers, 0)
    order = list(writers)
    for round_ in range(batches):
        for label in order[round_ % len(order) :] + order[: round_ % len(order)]:
            items = [random_event(rnd, highest) for _ in range(batch_size)]
            mark = latest_ledger_id(database)
            started = time.perf_counter()
            writers[label](items)
            samples[label].append((time.perf_counter() - started) * 1000)
            ledger[label] += ledger_rows_since(database, workspace_id, mark)
    result = {label: _figures(samples[label], batch_size=batch_size, ledger_rows=ledger[label]) for label in writers}
    result["reference"]["segments"] = len(reference.rule_versions)
    result["reference_all_segments"]["segments"] = len(every_segment.rule_versions)

    # In-process ASGI: the whole HTTP stack (routing, auth, validation, JSON) without a socket.
    app = create_app(
        database=database,
        settings=Settings(run_scheduler=False, **BENCH_RATE_LIMITS),
        clock=lambda: now,
        dashboard=False,
    )
    headers = {"Authorization": f"Bearer {api_key}"}
    http: list[float] = []
    mark = latest_ledger_id(database)
    with TestClient(app) as client:
        for _ in range(batches):
            items = [random_event(rnd, highest) for _ in range(batch_size)]
            body = {"items": [item.model_dump(mode="json", exclude_none=True) for item in items]}
            started = time.perf_counter()
            response = client.post("/api/v1/events/batch", json=body, headers=headers)
            http.append((time.perf_counter() - started) * 1000)
            if response.status_code != 201:
                raise RuntimeError(f"POST /api/v1/events/batch answered {response.status_code}: {response.text[:300]}")
    result["http"] = _figures(http, batch_size=batch_size, ledger_rows=ledger_rows_since(database, workspace_id, mark))
    rates = {label: figures["events_per_second"] for label, figures in result.items()}
    return {
        **result,
        # The target: the service at >= 50 % of the hand-written micro-batch.
        "ratio_service_to_reference": rates["service"] / rates["reference"],
        "ratio_http_to_reference": rates["http"] / rates["reference"],
        "ratio_service_to_reference_all_segments": rates["service"] / rates["reference_all_segments"],
    }
