"""foundation: workspaces, keys, fans, orders, events, tags, lists

Revision ID: 0001
Revises:
Create Date: 2026-11-26 10:35:44.641878
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import fanbase.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "workspaces",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False),
        sa.Column("created_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_api_keys_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_api_keys_workspace_id_id")),
    )
    op.create_table(
        "custom_fields",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column(
            "choices",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "type IN ('text', 'number', 'money', 'enum', 'datetime', 'boolean')",
            name=op.f("ck_custom_fields_type"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_custom_fields_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_fields")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_custom_fields_workspace_id_id")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_custom_fields_workspace_id_name")),
    )
    op.create_table(
        "fans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=16), server_default="subscriber", nullable=False),
        sa.Column("source", sa.String(length=32), server_default="manual", nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column(
            "custom_fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("created_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("total_spent_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("purchase_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_purchase_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_purchase_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_active_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "lifecycle_stage IN ('subscriber', 'lead', 'customer', 'advocate')",
            name=op.f("ck_fans_lifecycle_stage"),
        ),
        sa.CheckConstraint(
            "source IN ('subscription', 'direct_purchase', 'import', 'event', 'social', 'referral', 'manual')",
            name=op.f("ck_fans_source"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_fans_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fans")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_fans_workspace_id_id")),
    )
    with op.batch_alter_table("fans", schema=None) as batch_op:
        batch_op.create_index("ix_fans_workspace_country", ["workspace_id", "country"], unique=False)
        batch_op.create_index("ix_fans_workspace_created_at", ["workspace_id", "created_at"], unique=False)
        batch_op.create_index("ix_fans_workspace_last_active_at", ["workspace_id", "last_active_at"], unique=False)
        batch_op.create_index("ix_fans_workspace_last_purchase_at", ["workspace_id", "last_purchase_at"], unique=False)
        batch_op.create_index("ix_fans_workspace_lifecycle_stage", ["workspace_id", "lifecycle_stage"], unique=False)
        batch_op.create_index("ix_fans_workspace_purchase_count", ["workspace_id", "purchase_count"], unique=False)
        batch_op.create_index("ix_fans_workspace_source", ["workspace_id", "source"], unique=False)
        batch_op.create_index(
            "ix_fans_workspace_total_spent_cents", ["workspace_id", "total_spent_cents"], unique=False
        )

    # Autogenerate cannot see expression indexes: one fan per (workspace, lower(email)).
    op.create_index("uq_fans_workspace_email", "fans", ["workspace_id", sa.text("lower(email)")], unique=True)

    op.create_table(
        "idempotency_keys",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_idempotency_keys_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "lists",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_lists_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lists")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_lists_workspace_id_id")),
        sa.UniqueConstraint("workspace_id", "name_key", name=op.f("uq_lists_workspace_id_name_key")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_tags_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_tags_workspace_id_id")),
        sa.UniqueConstraint("workspace_id", "name_key", name=op.f("uq_tags_workspace_id_name_key")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("occurred_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "fan_id"],
            ["fans.workspace_id", "fans.id"],
            name=op.f("fk_events_workspace_id_fan_id_fans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_events_workspace_id_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_workspace_fan_type_occurred",
            ["workspace_id", "fan_id", "type", "occurred_at"],
            unique=False,
        )
        batch_op.create_index("ix_events_workspace_occurred", ["workspace_id", "occurred_at"], unique=False)
        batch_op.create_index(
            "ix_events_workspace_type_occurred", ["workspace_id", "type", "occurred_at"], unique=False
        )

    op.create_table(
        "fan_tags",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tag_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("added_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "fan_id"],
            ["fans.workspace_id", "fans.id"],
            name=op.f("fk_fan_tags_workspace_id_fan_id_fans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "tag_id"],
            ["tags.workspace_id", "tags.id"],
            name=op.f("fk_fan_tags_workspace_id_tag_id_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "tag_id", "fan_id", name=op.f("pk_fan_tags")),
    )
    with op.batch_alter_table("fan_tags", schema=None) as batch_op:
        batch_op.create_index("ix_fan_tags_workspace_fan", ["workspace_id", "fan_id"], unique=False)

    op.create_table(
        "list_members",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("consent_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consent_source", sa.String(length=200), nullable=True),
        sa.Column("status_changed_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('subscribed', 'unsubscribed', 'bounced')", name=op.f("ck_list_members_status")),
        sa.ForeignKeyConstraint(
            ["workspace_id", "fan_id"],
            ["fans.workspace_id", "fans.id"],
            name=op.f("fk_list_members_workspace_id_fan_id_fans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "list_id"],
            ["lists.workspace_id", "lists.id"],
            name=op.f("fk_list_members_workspace_id_list_id_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "list_id", "fan_id", name=op.f("pk_list_members")),
    )
    with op.batch_alter_table("list_members", schema=None) as batch_op:
        batch_op.create_index("ix_list_members_workspace_fan", ["workspace_id", "fan_id"], unique=False)
        batch_op.create_index(
            "ix_list_members_workspace_list_status", ["workspace_id", "list_id", "status"], unique=False
        )

    op.create_table(
        "list_subscription_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "fan_id"],
            ["fans.workspace_id", "fans.id"],
            name=op.f("fk_list_subscription_log_workspace_id_fan_id_fans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "list_id"],
            ["lists.workspace_id", "lists.id"],
            name=op.f("fk_list_subscription_log_workspace_id_list_id_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_subscription_log")),
    )
    with op.batch_alter_table("list_subscription_log", schema=None) as batch_op:
        batch_op.create_index("ix_list_subscription_log_workspace_fan", ["workspace_id", "fan_id"], unique=False)
        batch_op.create_index(
            "ix_list_subscription_log_workspace_list_at", ["workspace_id", "list_id", "at"], unique=False
        )

    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="completed", nullable=False),
        sa.Column("placed_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", fanbase.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('completed', 'refunded')", name=op.f("ck_orders_status")),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_orders_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["workspace_id", "fan_id"],
            ["fans.workspace_id", "fans.id"],
            name=op.f("fk_orders_workspace_id_fan_id_fans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("workspace_id", "external_id", name=op.f("uq_orders_workspace_id_external_id")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_orders_workspace_id_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_workspace_category_placed", ["workspace_id", "category", "placed_at"], unique=False
        )
        batch_op.create_index("ix_orders_workspace_fan_placed", ["workspace_id", "fan_id", "placed_at"], unique=False)
        batch_op.create_index("ix_orders_workspace_placed", ["workspace_id", "placed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("uq_fans_workspace_email", table_name="fans")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_workspace_placed")
        batch_op.drop_index("ix_orders_workspace_fan_placed")
        batch_op.drop_index("ix_orders_workspace_category_placed")

    op.drop_table("orders")
    with op.batch_alter_table("list_subscription_log", schema=None) as batch_op:
        batch_op.drop_index("ix_list_subscription_log_workspace_list_at")
        batch_op.drop_index("ix_list_subscription_log_workspace_fan")

    op.drop_table("list_subscription_log")
    with op.batch_alter_table("list_members", schema=None) as batch_op:
        batch_op.drop_index("ix_list_members_workspace_list_status")
        batch_op.drop_index("ix_list_members_workspace_fan")

    op.drop_table("list_members")
    with op.batch_alter_table("fan_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_fan_tags_workspace_fan")

    op.drop_table("fan_tags")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_workspace_type_occurred")
        batch_op.drop_index("ix_events_workspace_occurred")
        batch_op.drop_index("ix_events_workspace_fan_type_occurred")

    op.drop_table("events")
    op.drop_table("tags")
    op.drop_table("lists")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("fans", schema=None) as batch_op:
        batch_op.drop_index("ix_fans_workspace_total_spent_cents")
        batch_op.drop_index("ix_fans_workspace_source")
        batch_op.drop_index("ix_fans_workspace_purchase_count")
        batch_op.drop_index("ix_fans_workspace_lifecycle_stage")
        batch_op.drop_index("ix_fans_workspace_last_purchase_at")
        batch_op.drop_index("ix_fans_workspace_last_active_at")
        batch_op.drop_index("ix_fans_workspace_created_at")
        batch_op.drop_index("ix_fans_workspace_country")

    op.drop_table("fans")
    op.drop_table("custom_fields")
    op.drop_table("api_keys")
    op.drop_table("workspaces")
