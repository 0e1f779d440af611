"""suppressions: emails never to be re-created as fans (an erased fan's, or any a workspace adds), kept as hashes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 12:30:00

Erasing a fan removed everything about them, so the next CSV import or order batch naming their email silently
created them again. Their address is now suppressed: kept only as the SHA-256 of the normalised address.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fanbase.db.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("workspace_id", _ID, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("email_sha256", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "email_sha256"),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
