"""autovacuum thresholds for the tables rules read (PostgreSQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:40:00

Rules are counted from indexes alone (index-only scans) where they can be: ``total_spent > 100`` reads
``ix_fans_workspace_total_spent_cents`` and nothing else. That holds only for pages the visibility map marks
all-visible; an updated or inserted row clears its page's mark until VACUUM runs. Autovacuum's defaults wait for 20 %
of a table to change: 200,000 updated fans at 1M fans. Measured at 1M fans: after about 10,000 fan updates (events
recorded through the service), the property count went from 12.9 ms to 253 ms, and back after VACUUM. Here each
table that a rule reads vacuums (and analyzes) after 2 % of it changed: every write of a fan updates its row (its
figures and ``last_active_at``), and the activity tables only grow.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLES = ("fans", "events", "orders", "fan_tags", "list_members", "segment_members")
_SETTINGS = (
    "autovacuum_vacuum_scale_factor",
    "autovacuum_vacuum_insert_scale_factor",
    "autovacuum_analyze_scale_factor",
)
_SCALE = "0.02"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        settings = ", ".join(f"{setting} = {_SCALE}" for setting in _SETTINGS)
        op.execute(f"ALTER TABLE {table} SET ({settings})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({', '.join(_SETTINGS)})")
