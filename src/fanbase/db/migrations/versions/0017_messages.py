"""messages: mail settings, messages and their segments, frozen recipients, the local outbox; suppressions.fan_id

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 15:00:00

Sending email to segments (issue 16). ``message_recipients`` is the frozen audience of a sent message, one row per
fan (so no fan gets a message twice) with its delivery state; ``mail_outbox`` holds the mail when no SMTP relay is
configured. ``suppressions.fan_id`` names the fan a suppression is about when one exists, so an audience leaves
suppressed fans out with an index lookup instead of hashing every address; existing suppressions are matched to
their fans here. On PostgreSQL the new tables get the workspace policy of migration 0016.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

from fanbase.db.types import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NEW_TABLES = ("mail_settings", "messages", "message_segments", "message_recipients", "mail_outbox")


def _workspace_fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id", column],
        [f"{referred}.workspace_id", f"{referred}.id"],
        name=op.f(f"fk_{table}_workspace_id_{column}_{referred}"),
        ondelete="CASCADE",
    )


def _workspace_column(table: str) -> sa.Column[int]:
    return sa.Column(
        "workspace_id",
        _ID,
        sa.ForeignKey("workspaces.id", ondelete="CASCADE", name=op.f(f"fk_{table}_workspace_id_workspaces")),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "mail_settings",
        sa.Column(
            "workspace_id",
            _ID,
            sa.ForeignKey("workspaces.id", ondelete="CASCADE", name=op.f("fk_mail_settings_workspace_id_workspaces")),
            nullable=False,
        ),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("sender_address", sa.String(320), nullable=False),
        sa.Column("tracking", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("send_rate", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_mail_settings")),
    )
    op.create_table(
        "messages",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        _workspace_column("messages"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("preheader", sa.String(250), server_default="", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("list_id", _ID),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("send_at", UTCDateTime()),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("trigger_segment_id", _ID),
        sa.Column("trigger_delay_seconds", sa.Integer()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'sending', 'sent', 'cancelled')", name=op.f("ck_messages_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_messages_workspace_id_id")),
    )
    op.create_index("ix_messages_workspace_status_send_at", "messages", ["workspace_id", "status", "send_at"])
    op.create_table(
        "message_segments",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("segment_id", _ID, nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        _workspace_fk("message_segments", "message_id", "messages"),
        _workspace_fk("message_segments", "segment_id", "segments"),
        sa.PrimaryKeyConstraint("workspace_id", "message_id", "segment_id", name=op.f("pk_message_segments")),
    )
    op.create_table(
        "message_recipients",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("fan_id", _ID, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("error", sa.String(500)),
        sa.CheckConstraint(
            "state IN ('queued', 'sending', 'accepted', 'sent', 'failed', 'bounced', 'skipped')",
            name=op.f("ck_message_recipients_state"),
        ),
        _workspace_fk("message_recipients", "fan_id", "fans"),
        _workspace_fk("message_recipients", "message_id", "messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_recipients")),
        sa.UniqueConstraint("workspace_id", "id", name=op.f("uq_message_recipients_workspace_id_id")),
        sa.UniqueConstraint(
            "workspace_id", "message_id", "fan_id", name=op.f("uq_message_recipients_workspace_id_message_id_fan_id")
        ),
    )
    op.create_index(
        "ix_message_recipients_workspace_message_state", "message_recipients", ["workspace_id", "message_id", "state"]
    )
    op.create_index(
        "ix_message_recipients_workspace_state_next",
        "message_recipients",
        ["workspace_id", "state", "next_attempt_at"],
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("recipient_id", _ID),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
        _workspace_fk("mail_outbox", "message_id", "messages"),
        _workspace_fk("mail_outbox", "recipient_id", "message_recipients"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    op.create_index("ix_mail_outbox_workspace_stored", "mail_outbox", ["workspace_id", "stored_at"])
    op.add_column("suppressions", sa.Column("fan_id", _ID))
    op.create_index("ix_suppressions_workspace_fan", "suppressions", ["workspace_id", "fan_id"])
    _match_suppressions_to_fans()
    if op.get_bind().dialect.name == "postgresql":
        for table in _NEW_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY workspace_isolation ON {table} TO fanbase_tenant"
                " USING (workspace_id = nullif(current_setting('fanbase.workspace_id', true), '')::bigint)"
            )


def _match_suppressions_to_fans() -> None:
    """Each suppression's fan, found by hashing the addresses of the fans of the workspaces that have any."""
    bind = op.get_bind()
    wanted: dict[int, set[str]] = {}
    for workspace_id, digest in bind.execute(sa.text("SELECT workspace_id, email_sha256 FROM suppressions")):
        wanted.setdefault(workspace_id, set()).add(digest)
    for workspace_id, digests in wanted.items():
        fans = bind.execute(sa.text("SELECT id, email FROM fans WHERE workspace_id = :w"), {"w": workspace_id})
        for fan_id, email in fans:
            digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
            if digest in digests:
                bind.execute(
                    sa.text("UPDATE suppressions SET fan_id = :f WHERE workspace_id = :w AND email_sha256 = :d"),
                    {"f": fan_id, "w": workspace_id, "d": digest},
                )


def downgrade() -> None:
    op.drop_index("ix_suppressions_workspace_fan", table_name="suppressions")
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_column("fan_id")
    op.drop_index("ix_mail_outbox_workspace_stored", table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_index("ix_message_recipients_workspace_state_next", table_name="message_recipients")
    op.drop_index("ix_message_recipients_workspace_message_state", table_name="message_recipients")
    op.drop_table("message_recipients")
    op.drop_table("message_segments")
    op.drop_index("ix_messages_workspace_status_send_at", table_name="messages")
    op.drop_table("messages")
    op.drop_table("mail_settings")
