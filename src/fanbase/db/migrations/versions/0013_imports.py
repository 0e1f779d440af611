"""imports: a record of each import written in chunks, so a failed one is resumed by importing the file again

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 12:00:00

A 200,000-row fan import held SQLite's write lock for 35 s in one transaction, and concurrent writers gave up after
their 10 s wait. An import now writes chunks of fans, each in its own transaction, and records here how many are
done: every chunk is an idempotent merge by email, and the same file imported again skips the chunks written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fanbase.db.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", _ID, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("chunks_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
    )
    op.create_index("ix_imports_workspace_file", "imports", ["workspace_id", "kind", "file_sha256"])


def downgrade() -> None:
    op.drop_index("ix_imports_workspace_file", table_name="imports")
    op.drop_table("imports")
