"""audit_log: who did what, to what, when and from where, per workspace

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 11:30:00

Key creation and revocation, users created, sign-ins (succeeded and failed), exports, erasures, webhook changes and
segment deletions are written in the transaction of the use case they record. Kept for FANBASE_AUDIT_RETENTION_DAYS.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from fanbase.db.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", _ID, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("client", sa.String(100)),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", sa.String(320)),
        sa.Column("details", sa.JSON().with_variant(JSONB(), "postgresql")),
    )
    op.create_index("ix_audit_log_workspace_at", "audit_log", ["workspace_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_workspace_at", table_name="audit_log")
    op.drop_table("audit_log")
