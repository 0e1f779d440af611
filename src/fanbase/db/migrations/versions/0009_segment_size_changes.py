"""segment_size_changes: segment sizes as a sum of changes, kept by triggers on segment_members

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 07:00:00

A segment's size was a count of its members whenever asked: a segment list, a refresh's report and the dashboard's
Segment Manage page counted every member of every segment (6.85M rows at 1M fans and 50 segments; ~100 ms for
700,000 at 100,000 fans, most of a refresh that had nothing to do). Now triggers record each change in the same
transaction, whoever makes it (the write path, builds, static segments, a fan's erasure cascading to its
memberships): PostgreSQL once per statement and segment from the statement's transition table (rows that
concurrent writers only ever insert, so none waits on another), SQLite into one row per segment (it has one writer
at a time). A size is the sum of its segment's rows, which ``compact_sizes`` folds into one. Rows for a segment
being deleted are not written (its rows go with it). Filled here with every segment's current count.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "segment_size_changes",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("segment_id", _ID, nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "segment_id"],
            ["segments.workspace_id", "segments.id"],
            name="fk_segment_size_changes_workspace_id_segment_id_segments",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_segment_size_changes_workspace_segment", "segment_size_changes", ["workspace_id", "segment_id", "delta"]
    )
    op.execute(
        "INSERT INTO segment_size_changes (workspace_id, segment_id, delta) "
        "SELECT workspace_id, segment_id, count(*) FROM segment_members GROUP BY workspace_id, segment_id"
    )
    if op.get_bind().dialect.name == "postgresql":
        _triggers_postgresql()
    else:
        _triggers_sqlite()


def _triggers_postgresql() -> None:
    for event, rows, sign in (("INSERT", "NEW", ""), ("DELETE", "OLD", "-")):
        name = f"fanbase_segment_members_{event.lower()}ed"
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO segment_size_changes (workspace_id, segment_id, delta) "
            f"SELECT changed.workspace_id, changed.segment_id, {sign}count(*) FROM changed "
            "JOIN segments ON segments.workspace_id = changed.workspace_id AND segments.id = changed.segment_id "
            "GROUP BY changed.workspace_id, changed.segment_id; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER trg_segment_members_{event.lower()}_size AFTER {event} ON segment_members "
            f"REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def _triggers_sqlite() -> None:
    # SQLite has one writer at a time, so one row per segment can take every change: no two writers ever wait on
    # it, and there is nothing to fold (a row per member would leave a first build 700,000 rows to fold).
    for event, row, delta in (("INSERT", "NEW", 1), ("DELETE", "OLD", -1)):
        same = f"workspace_id = {row}.workspace_id AND segment_id = {row}.segment_id"
        op.execute(
            f"CREATE TRIGGER trg_segment_members_{event.lower()}_size AFTER {event} ON segment_members "
            f"WHEN EXISTS (SELECT 1 FROM segments WHERE id = {row}.segment_id) BEGIN "
            f"UPDATE segment_size_changes SET delta = delta + ({delta}) "
            f"WHERE rowid = (SELECT min(rowid) FROM segment_size_changes WHERE {same}); "
            "INSERT INTO segment_size_changes (workspace_id, segment_id, delta) "
            f"SELECT {row}.workspace_id, {row}.segment_id, {delta} "
            f"WHERE NOT EXISTS (SELECT 1 FROM segment_size_changes WHERE {same}); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in ("insert", "delete"):
            op.execute(f"DROP TRIGGER trg_segment_members_{event}_size ON segment_members")
            op.execute(f"DROP FUNCTION fanbase_segment_members_{event}ed()")
    else:
        for event in ("insert", "delete"):
            op.execute(f"DROP TRIGGER trg_segment_members_{event}_size")
    op.drop_table("segment_size_changes")
