"""sales: orders in any currency (exchange rates), event external ids, inbound sales sources and their deliveries,
lifecycle that follows purchases

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 16:00:00

Data in from where artists sell (issue 17).

- ``exchange_rates``: the rates a workspace maintains, each valid from a date, as exact decimal text.
- ``orders`` keep what the shop charged (``original_amount_cents``, ``original_currency``), the rate used to convert
  it (``exchange_rate``, decimal text) and the part refunded so far (``original_refunded_cents``); ``amount_cents``
  and ``currency`` stay the workspace-currency amount that figures and rules sum. Existing orders were all in the
  workspace currency: their original is their amount at rate 1.
- ``events.external_id``: the vendor's id of an event (a ticket's check-in), unique per workspace where given, so a
  re-import or a replayed webhook adds nothing.
- ``sales_sources``: a workspace's signed inbound endpoint per vendor, with its secret; ``sales_deliveries``: every
  delivery to one, with its outcome.
- ``workspaces.lifecycle_from_purchases``: a first completed purchase makes a subscriber or lead a customer. On for
  new workspaces; off for existing ones, whose stages were set by hand so far.

On PostgreSQL the new tables get the workspace policy of migration 0016.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fanbase.db.types import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NEW_TABLES = ("exchange_rates", "sales_sources", "sales_deliveries")
_ORDER_COLUMNS = ("original_amount_cents", "original_currency", "exchange_rate", "original_refunded_cents")


def _workspace_column(table: str) -> sa.Column[int]:
    return sa.Column(
        "workspace_id",
        _ID,
        sa.ForeignKey("workspaces.id", ondelete="CASCADE", name=op.f(f"fk_{table}_workspace_id_workspaces")),
        nullable=False,
    )


def _owned_table(name: str, *items: sa.schema.SchemaItem) -> None:
    op.create_table(
        name,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        _workspace_column(name),
        *items,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f(f"uq_{name}_workspace_id_id")),
    )


def upgrade() -> None:
    is_postgresql = op.get_bind().dialect.name == "postgresql"
    _owned_table(
        "exchange_rates",
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("rate", sa.String(40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "workspace_id", "currency", "valid_from", name=op.f("uq_exchange_rates_workspace_id_currency_valid_from")
        ),
    )
    _owned_table(
        "sales_sources",
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("workspace_id", "vendor", name=op.f("uq_sales_sources_workspace_id_vendor")),
        sa.CheckConstraint("vendor IN ('shopify', 'stripe', 'generic')", name=op.f("ck_sales_sources_vendor")),
    )
    _owned_table(
        "sales_deliveries",
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("delivery_id", sa.String(200)),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("orders", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("events", sa.Integer(), nullable=False, server_default="0"),
        sa.CheckConstraint(
            "outcome IN ('processed', 'unchanged', 'ignored', 'rejected', 'failed')",
            name=op.f("ck_sales_deliveries_outcome"),
        ),
    )
    op.create_index("ix_sales_deliveries_workspace_received", "sales_deliveries", ["workspace_id", "received_at"])

    # Existing orders were in the workspace currency: their original is their amount, at rate 1.
    op.add_column("orders", sa.Column("original_amount_cents", sa.BigInteger(), nullable=False, server_default="0"))
    op.add_column("orders", sa.Column("original_currency", sa.String(3), nullable=False, server_default=""))
    op.add_column("orders", sa.Column("exchange_rate", sa.String(40), nullable=False, server_default="1"))
    op.add_column("orders", sa.Column("original_refunded_cents", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE orders SET original_amount_cents = amount_cents, original_currency = currency")
    if is_postgresql:
        # Every writer gives these; SQLite cannot drop a default without rebuilding the table, and does not need to.
        for column in _ORDER_COLUMNS:
            op.execute(f"ALTER TABLE orders ALTER COLUMN {column} DROP DEFAULT")

    op.add_column("events", sa.Column("external_id", sa.String(200)))
    op.create_index(
        "uq_events_workspace_external_id",
        "events",
        ["workspace_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
        sqlite_where=sa.text("external_id IS NOT NULL"),
    )

    op.add_column(
        "workspaces", sa.Column("lifecycle_from_purchases", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.execute(sa.text("UPDATE workspaces SET lifecycle_from_purchases = :off").bindparams(off=False))

    if is_postgresql:
        for table in _NEW_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY workspace_isolation ON {table} TO fanbase_tenant"
                " USING (workspace_id = nullif(current_setting('fanbase.workspace_id', true), '')::bigint)"
            )


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("lifecycle_from_purchases")
    op.drop_index("uq_events_workspace_external_id", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("external_id")
    with op.batch_alter_table("orders") as batch:
        for column in _ORDER_COLUMNS:
            batch.drop_column(column)
    op.drop_index("ix_sales_deliveries_workspace_received", table_name="sales_deliveries")
    for table in reversed(_NEW_TABLES):
        op.drop_table(table)
