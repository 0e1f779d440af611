"""fan_latest_events: each fan's three latest event times per type, for "at least N events of type T in the last W"

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 06:00:00

The table is kept in the same transaction as every event insert. A behaviour condition "at least N (≤ 3) events of
type T within the last W" then reads one index range, "the N-th latest is in the window", instead of every event in
the window of every fan. Filled here from the events already stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fanbase.db.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RANKS = 3


def upgrade() -> None:
    op.create_table(
        "fan_latest_events",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        *(
            sa.Column(f"t{rank}", fanbase.db.types.UTCDateTime(timezone=True), nullable=rank > 1)
            for rank in range(1, RANKS + 1)
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "fan_id"],
            ["fans.workspace_id", "fans.id"],
            name="fk_fan_latest_events_workspace_id_fan_id_fans",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "fan_id", "type", name="pk_fan_latest_events"),
    )
    op.create_index(
        "ix_fan_latest_events_workspace_type_t1", "fan_latest_events", ["workspace_id", "type", "t1", "fan_id"]
    )
    for rank in range(2, RANKS + 1):
        op.create_index(
            f"ix_fan_latest_events_workspace_type_t{rank}",
            "fan_latest_events",
            ["workspace_id", "type", f"t{rank}", "fan_id", "t1"],
        )
    if op.get_bind().dialect.name == "postgresql":
        # Rules count it from its indexes alone, like the tables migration 0005 tunes: vacuum after 2 % changed.
        op.execute(
            "ALTER TABLE fan_latest_events SET (autovacuum_vacuum_scale_factor = 0.02, "
            "autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)"
        )
    # Both databases store a time so that it sorts as it compares (timestamptz; fixed-width UTC text on SQLite), so
    # max() of the ranked rows gives each rank's time as stored.
    ranks = ", ".join(f"max(CASE WHEN nth = {rank} THEN occurred_at END)" for rank in range(1, RANKS + 1))
    columns = ", ".join(f"t{rank}" for rank in range(1, RANKS + 1))
    op.execute(
        f"INSERT INTO fan_latest_events (workspace_id, fan_id, type, {columns}) "
        f"SELECT workspace_id, fan_id, type, {ranks} FROM ("
        "SELECT workspace_id, fan_id, type, occurred_at, row_number() OVER "
        "(PARTITION BY workspace_id, fan_id, type ORDER BY occurred_at DESC) AS nth FROM events"
        f") AS ranked WHERE nth <= {RANKS} GROUP BY workspace_id, fan_id, type"
    )


def downgrade() -> None:
    op.drop_table("fan_latest_events")
