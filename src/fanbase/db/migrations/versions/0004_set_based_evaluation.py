"""indexes and stored-text invariants for set-based rule evaluation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 16:20:00

- ``events.type``, ``orders.category`` and ``fans.email`` are stored folded (no ASCII A-Z) and ``fans.country``
  upper-case (no ASCII a-z): the API already writes them so (a type is a slug, a category and an email are
  lower-cased, a country code upper-cased), and now the database holds every writer to it, so rules compare them as
  stored and their indexes serve (``lower(type) = 'gig_attended'`` could use no index; ``country = 'FR'`` can).
  Rows that a direct writer stored otherwise are converted first: rules folded them when comparing, so every rule
  keeps its meaning. PostgreSQL: CHECK constraints. SQLite: triggers, since adding a CHECK there means rebuilding
  the table.
- Activity indexes that let a behaviour condition over a whole workspace read one index range and group by fan
  without touching the table: ``(workspace_id, type, fan_id, occurred_at)`` gives a type's rows in fan order
  (grouped as they stream: no sort, no hash), ``(workspace_id, type, occurred_at, fan_id)`` and
  ``(workspace_id, occurred_at, fan_id)`` a short window's rows with their fan (they replace the same indexes
  without ``fan_id``, which served the same queries but had to visit the table for it).
- The per-fan indexes that a write's evaluation reads (a fan's tags, lists, segments and orders) carry what it
  reads of those rows, so a batch of fans costs index pages only, not a visit to the table per row.
- PostgreSQL: the indexes on fans' own columns carry the fan id (``INCLUDE (id)``), so the fans a condition on one
  column selects come from the index alone, in id order for an equality: a refresh merges them with the stored
  members (in id order too) instead of visiting a third of the table. (SQLite indexes always carry the rowid.)
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, column, case function): the column must equal itself under the function, ASCII only on both databases.
_CANONICAL = (
    ("events", "type", "lower"),
    ("orders", "category", "lower"),
    ("fans", "email", "lower"),
    ("fans", "country", "upper"),
)
# Per-fan indexes, widened to cover what the write path reads of each row (same names, more columns).
_PER_FAN = (
    ("ix_fan_tags_workspace_fan", "fan_tags", ["workspace_id", "fan_id"], ["tag_id"]),
    ("ix_list_members_workspace_fan", "list_members", ["workspace_id", "fan_id"], ["list_id", "status"]),
    ("ix_segment_members_workspace_fan", "segment_members", ["workspace_id", "fan_id"], ["segment_id"]),
    (
        "ix_orders_workspace_fan_placed",
        "orders",
        ["workspace_id", "fan_id", "placed_at"],
        ["status", "category", "amount_cents"],
    ),
)
_FAN_COLUMNS = (
    "lifecycle_stage",
    "source",
    "country",
    "created_at",
    "total_spent_cents",
    "purchase_count",
    "last_purchase_at",
    "last_active_at",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, column, case in _CANONICAL:
        name = f"{column}_{'folded' if case == 'lower' else 'upper_case'}"
        if dialect == "postgresql":
            # lower()/upper() under "C" change A-Z/a-z only: the core's fold_text, and SQLite's lower()/upper().
            canonical = f'{case}({column} COLLATE "C")'
            op.execute(f"UPDATE {table} SET {column} = {canonical} WHERE {column} <> {canonical}")
            op.create_check_constraint(name, table, f"{column} = {canonical}")
        else:
            op.execute(f"UPDATE {table} SET {column} = {case}({column}) WHERE {column} <> {case}({column})")
            for action, when in (("insert", "INSERT"), ("update", f"UPDATE OF {column}")):
                op.execute(
                    f"CREATE TRIGGER ck_{table}_{name}_{action} BEFORE {when} ON {table} "
                    f"WHEN NEW.{column} <> {case}(NEW.{column}) "
                    f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {table}.{column} must be stored "
                    f"{case}-case'); END"
                )
    op.drop_index("ix_events_workspace_type_occurred", table_name="events")
    op.drop_index("ix_events_workspace_occurred", table_name="events")
    op.create_index(
        "ix_events_workspace_type_fan_occurred", "events", ["workspace_id", "type", "fan_id", "occurred_at"]
    )
    op.create_index(
        "ix_events_workspace_type_occurred_fan", "events", ["workspace_id", "type", "occurred_at", "fan_id"]
    )
    op.create_index("ix_events_workspace_occurred_fan", "events", ["workspace_id", "occurred_at", "fan_id"])
    for name, table, columns, covered in _PER_FAN:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [*columns, *covered])
    if dialect == "postgresql":
        for column in _FAN_COLUMNS:
            op.drop_index(f"ix_fans_workspace_{column}", table_name="fans")
            op.create_index(f"ix_fans_workspace_{column}", "fans", ["workspace_id", column], postgresql_include=["id"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, table, columns, _ in _PER_FAN:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
    if dialect == "postgresql":
        for column in _FAN_COLUMNS:
            op.drop_index(f"ix_fans_workspace_{column}", table_name="fans")
            op.create_index(f"ix_fans_workspace_{column}", "fans", ["workspace_id", column])
    op.drop_index("ix_events_workspace_occurred_fan", table_name="events")
    op.drop_index("ix_events_workspace_type_occurred_fan", table_name="events")
    op.drop_index("ix_events_workspace_type_fan_occurred", table_name="events")
    op.create_index("ix_events_workspace_occurred", "events", ["workspace_id", "occurred_at"])
    op.create_index("ix_events_workspace_type_occurred", "events", ["workspace_id", "type", "occurred_at"])
    for table, column, case in _CANONICAL:
        name = f"{column}_{'folded' if case == 'lower' else 'upper_case'}"
        if dialect == "postgresql":
            op.drop_constraint(f"ck_{table}_{name}", table, type_="check")
        else:
            for action in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS ck_{table}_{name}_{action}")
