"""Migrations 0005 and 0007: the tables rules read vacuum after 2 % of them changed (index-only scans stay so)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from fanbase.db.engine import Database

pytestmark = pytest.mark.postgres

_TUNED = ("fans", "events", "orders", "fan_tags", "list_members", "segment_members", "fan_latest_events")


def test_tables_rules_read_vacuum_after_two_percent_changed(postgres_database: Database) -> None:
    with postgres_database.engine.connect() as connection:
        options = dict(
            connection.execute(
                text("SELECT relname, reloptions FROM pg_class WHERE relkind = 'r' AND relname = ANY(:names)"),
                {"names": [*_TUNED, "segments"]},
            ).all()
        )
    expected = [
        "autovacuum_vacuum_scale_factor=0.02",
        "autovacuum_vacuum_insert_scale_factor=0.02",
        "autovacuum_analyze_scale_factor=0.02",
    ]
    for table in _TUNED:
        assert options[table] == expected, table
    assert options["segments"] is None
