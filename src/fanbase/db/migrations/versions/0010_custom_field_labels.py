"""custom_fields.label: the name a custom field shows to people ("T-shirt size" for the key tshirt_size)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 08:10:00

Rules and the API name a custom field by its key; the dashboard, the rule's English and exports' readers want the
words its workspace chose. Nullable: fields declared before this revision, and new ones declared without a label,
show their key with spaces ("favourite album").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("custom_fields", sa.Column("label", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("custom_fields") as batch:
        batch.drop_column("label")
