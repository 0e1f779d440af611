"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; this module is how code refers to it.

Every table carries ``workspace_id`` and every key, foreign key and index on workspace data leads with it, so the
schema can be distributed by workspace later (DESIGN.md §5). One deviation, for SQLite's sake: SQLite only
auto-increments a lone ``INTEGER PRIMARY KEY``, so tables with a surrogate id keep ``id`` as the primary key and add
``UNIQUE (workspace_id, id)``; every foreign key references that pair, so no row can point across workspaces.
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Column
from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import PrimaryKeyConstraint
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import text
from sqlalchemy import true

from fanbase.core.fields import FAN_SOURCES
from fanbase.core.fields import LIFECYCLE_STAGES
from fanbase.db.table_parts import Id
from fanbase.db.table_parts import Json
from fanbase.db.table_parts import check_in
from fanbase.db.table_parts import id_column
from fanbase.db.table_parts import membership_table
from fanbase.db.table_parts import metadata as metadata  # migrations and the bench read the schema from here
from fanbase.db.table_parts import named_table
from fanbase.db.table_parts import records_table
from fanbase.db.table_parts import workspace_fk
from fanbase.db.table_parts import workspace_id_column
from fanbase.db.table_parts import workspace_references
from fanbase.db.table_parts import workspace_table
from fanbase.db.types import UTCDateTime

ORDER_STATUSES = ("completed", "refunded")
LIST_STATUSES = ("subscribed", "unsubscribed", "bounced")
# Why a fan entered or left a segment: a write matched the rule, time passed, a person added/removed them,
# an import did, the rule itself was edited, the segment was first built, or a refresh found it out of date.
MEMBERSHIP_CAUSES = ("write", "time", "manual", "import", "rule_edit", "build", "refresh")
MESSAGE_STATUSES = ("draft", "scheduled", "sending", "sent", "cancelled")
# A recipient's delivery: queued (waiting for its time), sending (claimed by a sender; see services.mail_delivery),
# accepted (the server took it; its message_sent event is written with the next batch), then sent, failed (gave up
# after retries) or bounced (refused for good); skipped when it became unreachable in between.
RECIPIENT_STATES = ("queued", "sending", "accepted", "sent", "failed", "bounced", "skipped")


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False, server_default="USD"),
    Column("created_at", UTCDateTime(), nullable=False),
    # A new random value whenever what the workspace's rules are compiled against changes: segments, tags, lists,
    # custom fields (database triggers, migration 0008). The write path caches the rule context by it.
    Column("rules_token", BigInteger, nullable=False, server_default="0"),
    # A first completed purchase makes a subscriber or lead a customer (services.lifecycle; migration 0019).
    Column("lifecycle_from_purchases", Boolean, nullable=False, server_default=true()),
)

api_keys = workspace_table(
    "api_keys",
    Column("name", String(200), nullable=False),
    # The first characters of the key, shown in listings so a person can tell keys apart; never the secret.
    Column("prefix", String(32), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
)

custom_fields = workspace_table(
    "custom_fields",
    Column("name", String(64), nullable=False),
    Column("type", String(16), nullable=False),
    Column("choices", Json),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("label", String(100)),  # what people read; None: the key with spaces
    UniqueConstraint("workspace_id", "name"),
    CheckConstraint(check_in("type", ("text", "number", "money", "enum", "datetime", "boolean")), name="type"),
)

fans = workspace_table(
    "fans",
    Column("email", String(320), nullable=False),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("lifecycle_stage", String(16), nullable=False, server_default="subscriber"),
    Column("source", String(32), nullable=False, server_default="manual"),
    Column("country", String(2)),
    Column("city", String(200)),
    Column("custom_fields", Json, nullable=False, server_default="{}"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Derived figures, kept up to date in the same transaction as every order, refund and event.
    # Money is integer minor units (cents): SQLite would store Numeric as a binary float.
    Column("total_spent_cents", BigInteger, nullable=False, server_default="0"),
    Column("purchase_count", Integer, nullable=False, server_default="0"),
    Column("first_purchase_at", UTCDateTime()),
    Column("last_purchase_at", UTCDateTime()),
    Column("last_active_at", UTCDateTime()),
    CheckConstraint(check_in("lifecycle_stage", LIFECYCLE_STAGES), name="lifecycle_stage"),
    CheckConstraint(check_in("source", FAN_SOURCES), name="source"),
)
# Emails are stored lower-cased by the service; the index enforces it against any other writer too.
Index("uq_fans_workspace_email", fans.c.workspace_id, func.lower(fans.c.email), unique=True)
# Finding fans by email (stored lower-cased) compares the column itself: equality is leakproof, so row-level security
# lets this index serve it, where lower() kept the unique index above from it (migration 0018).
Index("ix_fans_workspace_email", fans.c.workspace_id, fans.c.email)
for _column in (
    "lifecycle_stage",
    "source",
    "country",
    "created_at",
    "total_spent_cents",
    "purchase_count",
    "last_purchase_at",
    "last_active_at",
):
    # PostgreSQL: with the fan id, so the fans a condition on the column selects come from the index alone
    # (migration 0004); SQLite indexes carry the rowid anyway.
    Index(f"ix_fans_workspace_{_column}", fans.c.workspace_id, fans.c[_column], postgresql_include=["id"])

orders = records_table(
    "orders",
    Column("external_id", String(200)),
    # In the workspace currency (``currency``): what figures and rules on money sum. A partial refund lowers it.
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # What the shop charged and refunded, in its currency, and the rate (decimal text, workspace currency per unit)
    # that converted it when it was written: totals never move when rates are edited later (migration 0019).
    Column("original_amount_cents", BigInteger, nullable=False),
    Column("original_currency", String(3), nullable=False),
    Column("exchange_rate", String(40), nullable=False),
    Column("original_refunded_cents", BigInteger, nullable=False),
    Column("category", String(64), nullable=False),
    Column("product", String(200)),
    Column("status", String(16), nullable=False, server_default="completed"),
    Column("placed_at", UTCDateTime(), nullable=False),
    Column("refunded_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "id"),
    UniqueConstraint("workspace_id", "external_id"),
    CheckConstraint(check_in("status", ORDER_STATUSES), name="status"),
    CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
    # A fan's orders, with what rules read of them: a write's evaluation reads the index alone (migration 0004).
    Index(
        "ix_orders_workspace_fan_placed", "workspace_id", "fan_id", "placed_at", "status", "category", "amount_cents"
    ),
    Index("ix_orders_workspace_category_placed", "workspace_id", "category", "placed_at"),
    Index("ix_orders_workspace_placed", "workspace_id", "placed_at"),
    fan_id="fans",
)

events = records_table(
    "events",
    Column("type", String(64), nullable=False),
    Column("properties", Json, nullable=False, server_default="{}"),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("external_id", String(200)),  # the vendor's id (a ticket's check-in): unique where given
    UniqueConstraint("workspace_id", "id"),
    Index(
        "uq_events_workspace_external_id",
        "workspace_id",
        "external_id",
        unique=True,
        postgresql_where=text("external_id IS NOT NULL"),
        sqlite_where=text("external_id IS NOT NULL"),
    ),
    Index("ix_events_workspace_fan_type_occurred", "workspace_id", "fan_id", "type", "occurred_at"),
    # Whole-workspace behaviour conditions read one range of these and group by fan without visiting the table:
    # a type's rows in fan order, and a short window's rows (of a type, or of all) with their fan (migration 0004).
    Index("ix_events_workspace_type_fan_occurred", "workspace_id", "type", "fan_id", "occurred_at"),
    Index("ix_events_workspace_type_occurred_fan", "workspace_id", "type", "occurred_at", "fan_id"),
    Index("ix_events_workspace_occurred_fan", "workspace_id", "occurred_at", "fan_id"),
    fan_id="fans",
)

# Each fan's LATEST_EVENTS latest event times per type (latest first; NULL where the fan has fewer), kept in the same
# transaction as every event insert (``repositories.latest_events``; migration 0007). "At least N events of type T
# in the last W" is then "the N-th latest is in the window": one index range over the fans who qualify, where the
# events themselves give every event in the window of every fan, grouped and counted.
LATEST_EVENTS = 3
fan_latest_events = Table(
    "fan_latest_events",
    metadata,
    *workspace_references(fan_id="fans"),
    Column("type", String(64), nullable=False),
    *(Column(f"t{rank}", UTCDateTime(), nullable=rank > 1) for rank in range(1, LATEST_EVENTS + 1)),
    PrimaryKeyConstraint("workspace_id", "fan_id", "type"),
    # One per rank: the fans whose N-th latest event of a type lies in a range, with the latest (to tell the fans
    # with an event after ``now``, which the range alone would misjudge), from the index alone.
    *(
        Index(f"ix_fan_latest_events_workspace_type_t{rank}", "workspace_id", "type", f"t{rank}", "fan_id", "t1")
        if rank > 1
        else Index("ix_fan_latest_events_workspace_type_t1", "workspace_id", "type", "t1", "fan_id")
        for rank in range(1, LATEST_EVENTS + 1)
    ),
)
# events.type and orders.category are stored folded (ASCII A-Z → a-z), which migration 0004 enforces (a CHECK on
# PostgreSQL, triggers on SQLite): rules compare them as stored (compiler.STORED_FOLDED).

tags = named_table(
    "tags",
    Column("color", String(7)),
    Column("category", String(64)),
    Column("description", Text),
    Column("created_at", UTCDateTime(), nullable=False),
)

fan_tags = membership_table(
    "fan_tags",
    Column("added_at", UTCDateTime(), nullable=False),
    group="tag_id",
    table="tags",
)

lists = named_table(
    "lists",
    Column("description", Text),
    Column("created_at", UTCDateTime(), nullable=False),
)

list_members = membership_table(
    "list_members",
    Column("status", String(16), nullable=False),
    Column("consent_at", UTCDateTime()),
    Column("consent_source", String(200)),
    Column("status_changed_at", UTCDateTime(), nullable=False),
    CheckConstraint(check_in("status", LIST_STATUSES), name="status"),
    Index("ix_list_members_workspace_list_status", "workspace_id", "list_id", "status"),
    group="list_id",
    table="lists",
    covering=("status",),
)

# The consent record: every subscription change, kept after the membership row changes (GDPR asks "since when,
# and how did they agree?"). Rows are only ever appended.
list_subscription_log = records_table(
    "list_subscription_log",
    Column("status", String(16), nullable=False),
    Column("source", String(200)),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_list_subscription_log_workspace_list_at", "workspace_id", "list_id", "at"),
    Index("ix_list_subscription_log_workspace_fan", "workspace_id", "fan_id"),
    list_id="lists",
    fan_id="fans",
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    workspace_id_column(),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Json, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "key"),
)

segments = named_table(
    "segments",
    Column("description", Text),
    Column("kind", String(16), nullable=False),
    # The rule's JSON face (dynamic segments only); rule_version counts saved edits.
    Column("rule", Json),
    Column("rule_version", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Freshness: when membership was last brought up to date, and the last evaluation error (NULL when fine).
    Column("last_evaluated_at", UTCDateTime()),
    Column("last_error", Text),
    # The next moment a relative-time condition can flip someone's membership (NULL: none scheduled).
    Column("next_flip_at", UTCDateTime()),
    # Set by a write that changed what the rule reads without evaluating it (migration 0006); cleared by evaluation.
    Column("needs_evaluation", Boolean, nullable=False, server_default=false()),
    CheckConstraint(check_in("kind", ("static", "dynamic")), name="kind"),
)

segment_members = membership_table(
    "segment_members",
    Column("since", UTCDateTime(), nullable=False),
    group="segment_id",
    table="segments",
)

# Segment sizes as a sum of changes: database triggers on segment_members add a row per segment per statement
# that adds or removes members (PostgreSQL; SQLite keeps one row per segment), whoever writes it (migration 0009), and
# ``segments.compact_sizes`` folds a workspace's rows into one per segment. A size is then a sum over a few rows,
# where counting the members read them all: 6.85M at 1M fans and 50 segments for a segment list or a refresh.
# Rows are only ever inserted by writers (no row two writers would both update), so concurrent writes never wait
# on each other here.
segment_size_changes = Table(
    "segment_size_changes",
    metadata,
    *workspace_references(segment_id="segments"),
    Column("delta", BigInteger, nullable=False),
    Index("ix_segment_size_changes_workspace_segment", "workspace_id", "segment_id", "delta"),
)

# The membership ledger: every entry and exit, with its cause and the rule version that decided it. Append-only;
# sizes over time and "why is this fan here, since when" are read from it. Erasing a fan erases their history too.
segment_membership_log = records_table(
    "segment_membership_log",
    Column("entered", Boolean, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("cause", String(16), nullable=False),
    Column("rule_version", Integer, nullable=False),
    CheckConstraint(check_in("cause", MEMBERSHIP_CAUSES), name="cause"),
    Index("ix_segment_membership_log_workspace_segment_at", "workspace_id", "segment_id", "at"),
    Index("ix_segment_membership_log_workspace_fan_at", "workspace_id", "fan_id", "at"),
    segment_id="segments",
    fan_id="fans",
)

# Time-driven membership: per workspace, the instant through which relative-time rules have been applied. The
# scheduler re-evaluates only the fans whose stored times crossed a boundary in (last_tick_at, now].
scheduler_state = Table(
    "scheduler_state",
    metadata,
    Column("workspace_id", Id, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("last_tick_at", UTCDateTime(), nullable=False),
    Column("last_error", Text),
)

# Tags' own ledger, so tag sizes over time can be read like segments' (lists have list_subscription_log).
tag_membership_log = records_table(
    "tag_membership_log",
    Column("added", Boolean, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_tag_membership_log_workspace_tag_at", "workspace_id", "tag_id", "at"),
    tag_id="tags",
    fan_id="fans",
)

webhook_subscriptions = workspace_table(
    "webhook_subscriptions",
    Column("url", String(2000), nullable=False),
    Column("events", Json, nullable=False),
    # The signing secret is shown once at creation; receivers verify HMAC-SHA256(secret, timestamp + "." + body).
    Column("secret", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime()),
)

# The outbox: one row per (subscription, ledger row) to deliver, written in the same transaction as the change it
# reports, then delivered at least once, with backoff, by whichever worker claims it. The payload is read from the
# ledger row at delivery; receivers dedupe on "<source>-<source_id>" (the same for every retry).
WEBHOOK_SOURCES = ("segment", "tag", "list", "fan")
webhook_outbox = records_table(
    "webhook_outbox",
    Column("event_type", String(32), nullable=False),
    Column("source", String(16), nullable=False),
    Column("source_id", Id, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("delivered_at", UTCDateTime()),
    Column("last_error", Text),
    UniqueConstraint("subscription_id", "source", "source_id"),
    CheckConstraint(check_in("source", WEBHOOK_SOURCES), name="source"),
    Index("ix_webhook_outbox_pending", "delivered_at", "next_attempt_at"),
    subscription_id="webhook_subscriptions",
)

# Dashboard sign-in: people belong to one workspace; sessions are random tokens stored only as hashes.
users = workspace_table(
    "users",
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200)),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    *workspace_references(user_id="users"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# The audit log: who (an API key's prefix, a user's email, the command line), did what, to what, when, from where.
audit_log = Table(
    "audit_log",
    metadata,
    id_column(),
    workspace_id_column(),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("client", String(100)),
    Column("action", String(50), nullable=False),
    Column("target", String(320)),
    Column("details", Json),
    Index("ix_audit_log_workspace_at", "workspace_id", "at"),
)

# Imports written in chunks (each its own transaction, so other writers wait at most one chunk): which file (its
# SHA-256), how many chunks it has and how many are written. Importing the same file again after a failure resumes it.
imports = Table(
    "imports",
    metadata,
    id_column(),
    workspace_id_column(),
    Column("kind", String(16), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("chunks_done", Integer, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Index("ix_imports_workspace_file", "workspace_id", "kind", "file_sha256"),
)

# Erasures, as the ledger of the fan.erased webhook: which fan (by id only: nothing else about them is kept) and when.
fan_erasures = Table(
    "fan_erasures",
    metadata,
    id_column(),
    workspace_id_column(),
    Column("fan_id", Id, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_fan_erasures_workspace_at", "workspace_id", "at"),
)

# Suppressed emails: an erased fan's address (and any a workspace adds), never re-created by an import or a batch
# until the suppression is lifted. Only a SHA-256 of the normalised address is kept: erasure leaves no address.
suppressions = Table(
    "suppressions",
    metadata,
    workspace_id_column(),
    Column("email_sha256", String(64), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    # The fan with this address when one exists (a workspace's own suppression, a bounce, a complaint), so an
    # audience leaves them out without hashing every fan's address (migration 0017). No foreign key: the
    # suppression outlives the fan.
    Column("fan_id", Id),
    PrimaryKeyConstraint("workspace_id", "email_sha256"),
    Index("ix_suppressions_workspace_fan", "workspace_id", "fan_id"),
)

# Mail (issue 16). Each workspace's sender, tracking switch, sending rate and the secret that signs its unsubscribe
# and tracking links; a row appears with defaults the first time mail settings are read.
mail_settings = Table(
    "mail_settings",
    metadata,
    Column("workspace_id", Id, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("sender_name", String(200), nullable=False),
    Column("sender_address", String(320), nullable=False),
    Column("tracking", Boolean, nullable=False, server_default=true()),
    Column("send_rate", Integer, nullable=False),
    Column("secret", String(64), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# A message: its content (Markdown with merge fields), its audience (message_segments, and list_id: the list whose
# subscribed members consented; no foreign key, so deleting a list never touches a sent message's record) and its
# sending: scheduled for send_at, frozen into message_recipients at sent_at. With trigger_segment_id it is sent to
# each fan who enters that segment, trigger_delay_seconds later.
messages = workspace_table(
    "messages",
    Column("name", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("preheader", String(250), nullable=False, server_default=""),
    Column("body", Text, nullable=False),
    Column("list_id", Id),
    Column("status", String(16), nullable=False),
    Column("send_at", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    Column("trigger_segment_id", Id),
    Column("trigger_delay_seconds", Integer),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint(check_in("status", MESSAGE_STATUSES), name="status"),
    Index("ix_messages_workspace_status_send_at", "workspace_id", "status", "send_at"),
)

# The segments a message goes to (excluded false) or keeps away from (excluded true).
message_segments = Table(
    "message_segments",
    metadata,
    *workspace_references(message_id="messages", segment_id="segments"),
    Column("excluded", Boolean, nullable=False),
    PrimaryKeyConstraint("workspace_id", "message_id", "segment_id"),
)

# Who a message went to, frozen when it was sent (the address too): one row per fan and message, so no fan gets a
# message twice. Erasing the fan deletes the row.
message_recipients = records_table(
    "message_recipients",
    Column("email", String(320), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("error", String(500)),
    CheckConstraint(check_in("state", RECIPIENT_STATES), name="state"),
    UniqueConstraint("workspace_id", "id"),
    UniqueConstraint("workspace_id", "message_id", "fan_id"),
    Index("ix_message_recipients_workspace_state_next", "workspace_id", "state", "next_attempt_at"),
    Index("ix_message_recipients_workspace_message_state", "workspace_id", "message_id", "state"),
    message_id="messages",
    fan_id="fans",
)

# The local outbox: with no SMTP relay configured, mail is stored here, exactly as it would have been sent (a test
# send has no recipient).
mail_outbox = records_table(
    "mail_outbox",
    Column("recipient_id", Id),
    Column("to_address", String(320), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("stored_at", UTCDateTime(), nullable=False),
    Index("ix_mail_outbox_workspace_stored", "workspace_id", "stored_at"),
    workspace_fk("recipient_id", table="message_recipients"),
    message_id="messages",
)

# Throttles: request counts per fixed window and failure counts with a back-off, keyed by who is asking ("key:…",
# "address:…", "account:…"). In the database, so they hold across processes and restarts.
throttles = Table(
    "throttles",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("hits", Integer, nullable=False),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("blocked_until", UTCDateTime()),
    Index("ix_throttles_window_start", "window_start"),
)

# Sales (issue 17, migration 0019). Exchange rates a workspace maintains: one unit of ``currency`` is worth ``rate``
# (decimal text) of the workspace currency from ``valid_from`` until the next rate of that currency.
exchange_rates = workspace_table(
    "exchange_rates",
    Column("currency", String(3), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("rate", String(40), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "currency", "valid_from"),
)

SALES_VENDORS = ("shopify", "stripe", "generic")
# What became of a delivery: written, nothing new (a replay), a topic we do not read, a bad signature, an error.
DELIVERY_OUTCOMES = ("processed", "unchanged", "ignored", "rejected", "failed")

# A workspace's signed inbound endpoint per vendor, with the secret its signatures are checked against.
sales_sources = workspace_table(
    "sales_sources",
    Column("vendor", String(16), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "vendor"),
    CheckConstraint(check_in("vendor", SALES_VENDORS), name="vendor"),
)

# Every delivery to a sales endpoint, with its outcome (the dashboard's Import page lists them).
sales_deliveries = workspace_table(
    "sales_deliveries",
    Column("vendor", String(16), nullable=False),
    Column("topic", String(100), nullable=False),
    Column("delivery_id", String(200)),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("detail", Text),
    Column("orders", Integer, nullable=False, server_default="0"),
    Column("events", Integer, nullable=False, server_default="0"),
    CheckConstraint(check_in("outcome", DELIVERY_OUTCOMES), name="outcome"),
    Index("ix_sales_deliveries_workspace_received", "workspace_id", "received_at"),
)
