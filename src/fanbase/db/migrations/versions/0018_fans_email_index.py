"""fans: an index on (workspace_id, email) itself, for finding fans by email under row-level security

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 15:00:00

Emails are stored lower-cased, and fans were found by ``lower(email)``, the expression the unique index
``uq_fans_workspace_email`` is on. Under PostgreSQL's row-level security (migration 0016) that index cannot serve
the lookup: ``lower()`` is not leakproof, so the planner may not evaluate it before the policy, and a batch of 100
orders by email scanned the workspace's fans (68 ms against 34 ms as the owner, at 100,000 fans; bench/RESULTS.md,
issue 15). Equality on the column is leakproof: with this index the lookup is an index scan again.
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_fans_workspace_email", "fans", ["workspace_id", "email"])


def downgrade() -> None:
    op.drop_index("ix_fans_workspace_email", table_name="fans")
