"""segments.needs_evaluation: set by writes that change what rules read without live evaluation

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 04:25:00

Every write through fanbase evaluates the segments it can affect in its own transaction, so a segment's stored
membership equals its rule except where a write bypassed that (a full recompute of fans' figures) or time passed a
boundary (the scheduler's ticks). A refresh of every segment then only needs to evaluate the segments so marked, and
those whose next time boundary is due, instead of every rule over every fan.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (SQLite does it in place). Not a batch operation: on SQLite that copies
    # the table, and dropping the old copy would cascade to every segment's stored members.
    op.add_column("segments", sa.Column("needs_evaluation", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("segments", "needs_evaluation")
