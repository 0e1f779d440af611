"""Set-based helpers for bulk writers (CSV import, demo data): whole row sets in a few statements.

Unlike the per-capability repositories these skip "already there?" checks: callers use them on rows they know are
new (a fresh workspace, fans just inserted), so each is one executemany per chunk.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Row
from sqlalchemy import Table
from sqlalchemy import select

from fanbase.db.repositories.fans import FAN_COLUMNS
from fanbase.db.repositories.fans import email_conditions
from fanbase.db.repositories.latest_events import record_latest
from fanbase.db.repositories.sql import insert_rows
from fanbase.db.tables import events
from fanbase.db.tables import fan_tags
from fanbase.db.tables import fans
from fanbase.db.tables import list_members
from fanbase.db.tables import list_subscription_log
from fanbase.db.tables import orders
from fanbase.db.tables import tag_membership_log


def fan_rows_by_email(connection: Connection, workspace_id: int, emails: Iterable[str]) -> dict[str, Row[Any]]:
    """Full fan rows keyed by (lower-cased, as stored) email, for merging imported data into existing fans."""
    found: dict[str, Row[Any]] = {}
    for listed in email_conditions(connection, sorted(set(emails))):
        rows = connection.execute(select(*FAN_COLUMNS).where(fans.c.workspace_id == workspace_id, listed))
        found.update((row.email, row) for row in rows)
    return found


def _insert_many(connection: Connection, table: Table, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
    # PostgreSQL: COPY (an executemany without RETURNING sent one INSERT per row there).
    insert_rows(connection, table, [{**row, "workspace_id": workspace_id} for row in rows])
    return len(rows)


def insert_orders(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
    """Orders without RETURNING (ids are not needed); the caller recomputes the fans' figures afterwards."""
    return _insert_many(connection, orders, workspace_id, rows)


def insert_events(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
    """Events without RETURNING, and their fans' latest times; the caller recomputes the fans' figures afterwards."""
    written = _insert_many(connection, events, workspace_id, rows)
    record_latest(connection, workspace_id, rows)
    return written


def insert_tag_links(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
    """New (tag_id, fan_id, added_at) links, and their rows in the tag ledger; the pairs must not exist yet."""
    _insert_many(
        connection,
        tag_membership_log,
        workspace_id,
        [{"tag_id": row["tag_id"], "fan_id": row["fan_id"], "added": True, "at": row["added_at"]} for row in rows],
    )
    return _insert_many(connection, fan_tags, workspace_id, rows)


def insert_list_members(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
    """New memberships (list_id, fan_id, status, consent_at, consent_source, status_changed_at).

    Each membership's history goes to the consent log too (``insert_subscription_log``): callers write both.
    """
    return _insert_many(connection, list_members, workspace_id, rows)


def insert_subscription_log(connection: Connection, workspace_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
    """Consent-log entries (list_id, fan_id, status, source, at)."""
    return _insert_many(connection, list_subscription_log, workspace_id, rows)
