"""fan_erasures and the fan.erased webhook: an erasure is told to the workspace's webhooks (by fan id only)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 13:00:00

A system that received a fan's segment and tag events by webhook learns of the fan's erasure the same way, so it can
erase its copy too. The outbox's ``source`` check gains ``fan``; on SQLite the table is rebuilt (nothing references
it; its rows and indexes are copied).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fanbase.db.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CHECK = "ck_webhook_outbox_source"


def _source_check(sources: tuple[str, ...]) -> None:
    condition = f"source IN ({', '.join(repr(source) for source in sources)})"
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f(_CHECK), "webhook_outbox", type_="check")
        op.create_check_constraint(op.f(_CHECK), "webhook_outbox", condition)
        return
    with op.batch_alter_table("webhook_outbox", recreate="always") as batch:
        batch.drop_constraint(op.f(_CHECK), type_="check")
        batch.create_check_constraint(op.f(_CHECK), condition)


def upgrade() -> None:
    op.create_table(
        "fan_erasures",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", _ID, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("fan_id", _ID, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_fan_erasures_workspace_at", "fan_erasures", ["workspace_id", "at"])
    _source_check(("segment", "tag", "list", "fan"))


def downgrade() -> None:
    op.execute("DELETE FROM webhook_outbox WHERE source = 'fan'")
    _source_check(("segment", "tag", "list"))
    op.drop_index("ix_fan_erasures_workspace_at", table_name="fan_erasures")
    op.drop_table("fan_erasures")
