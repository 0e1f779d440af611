"""throttles: request counts per window and failure back-offs, per API key, client address and account

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 11:00:00

Rate limits and sign-in back-off keep their state here, not in a process's memory, so they hold across the
processes serving one database and across restarts. Rows are pruned once their window and back-off have passed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fanbase.db.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttles",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("blocked_until", UTCDateTime()),
    )
    op.create_index("ix_throttles_window_start", "throttles", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_throttles_window_start", table_name="throttles")
    op.drop_table("throttles")
