"""segments, stored membership and the membership ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:42:01.819008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import fanbase.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True),
        sa.Column("rule_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_evaluated_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('static', 'dynamic')", name=op.f("ck_segments_kind")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_segments_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_segments_workspace_id_id")),
        sa.UniqueConstraint("workspace_id", "name_key", name=op.f("uq_segments_workspace_id_name_key")),
    )
    op.create_table(
        "segment_members",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("segment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("since", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "fan_id"],
            ["fans.workspace_id", "fans.id"],
            name=op.f("fk_segment_members_workspace_id_fan_id_fans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "segment_id"],
            ["segments.workspace_id", "segments.id"],
            name=op.f("fk_segment_members_workspace_id_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "segment_id", "fan_id", name=op.f("pk_segment_members")),
    )
    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.create_index("ix_segment_members_workspace_fan", ["workspace_id", "fan_id"], unique=False)

    op.create_table(
        "segment_membership_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("segment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entered", sa.Boolean(), nullable=False),
        sa.Column("at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "cause IN ('write', 'time', 'manual', 'import', 'rule_edit', 'build', 'refresh')",
            name=op.f("ck_segment_membership_log_cause"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "fan_id"],
            ["fans.workspace_id", "fans.id"],
            name=op.f("fk_segment_membership_log_workspace_id_fan_id_fans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "segment_id"],
            ["segments.workspace_id", "segments.id"],
            name=op.f("fk_segment_membership_log_workspace_id_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_membership_log")),
    )
    with op.batch_alter_table("segment_membership_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_membership_log_workspace_fan_at", ["workspace_id", "fan_id", "at"], unique=False
        )
        batch_op.create_index(
            "ix_segment_membership_log_workspace_segment_at", ["workspace_id", "segment_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("segment_membership_log", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_membership_log_workspace_segment_at")
        batch_op.drop_index("ix_segment_membership_log_workspace_fan_at")

    op.drop_table("segment_membership_log")
    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_members_workspace_fan")

    op.drop_table("segment_members")
    op.drop_table("segments")
