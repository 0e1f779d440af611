"""Live membership: every write that can change who is in a segment re-evaluates, in the same transaction, only
the fans it touched and only the dynamic segments whose rules read what changed — in dependency order, so a
segment built on another sees that other's new membership. Set-based: a few statements per affected segment,
whatever the number of fans in the write.

Which segments a write can affect comes from the dependency index, ``collect_references(rule)`` per segment:
the fields, tags, lists, segments and behaviour sources (orders, refunds, events) each rule reads.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from fanbase.core.dependencies import collect_references
from fanbase.core.fields import Source
from fanbase.core.rules import reference_key
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.repositories.sql import chunks
from fanbase.services.rule_context import RuleContext, load_context

PURCHASE_FIELDS = frozenset(
    {"total_spent", "purchase_count", "first_purchase_at", "last_purchase_at", "last_active_at"}
)


@dataclass(frozen=True)
class Change:
    """What a write changed, in the vocabulary of rules. ``is_new_fan``: every rule may now match."""

    fields: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()  # reference keys
    lists: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    sources: frozenset[Source] = frozenset()
    is_new_fan: bool = False

    def __or__(self, other: Change) -> Change:
        return Change(
            fields=self.fields | other.fields,
            tags=self.tags | other.tags,
            lists=self.lists | other.lists,
            segments=self.segments | other.segments,
            sources=self.sources | other.sources,
            is_new_fan=self.is_new_fan or other.is_new_fan,
        )


NEW_FANS = Change(is_new_fan=True)
ORDERS = Change(fields=PURCHASE_FIELDS, sources=frozenset({Source.ORDERS, Source.REFUNDS}))
EVENTS = Change(fields=frozenset({"last_active_at"}), sources=frozenset({Source.EVENTS}))


def fields_changed(names: Collection[str]) -> Change:
    return Change(fields=frozenset(names))


def tags_changed(names: Collection[str]) -> Change:
    return Change(tags=frozenset(reference_key(name) for name in names))


def lists_changed(names: Collection[str]) -> Change:
    return Change(lists=frozenset(reference_key(name) for name in names))


def segments_changed(names: Collection[str]) -> Change:
    return Change(segments=frozenset(reference_key(name) for name in names))


def _reads(context: RuleContext, segment_id: int, change: Change, changed_segments: set[str]) -> bool:
    if change.is_new_fan:
        return True
    refs = collect_references(context.segment_rules[segment_id])
    return bool(
        refs.fields & change.fields
        or refs.tags & change.tags
        or refs.lists & change.lists
        or refs.sources & change.sources
        or refs.segments & (change.segments | changed_segments)
    )


def apply_change(
    connection: Connection,
    workspace_id: int,
    fan_ids: Collection[int],
    change: Change,
    *,
    cause: str,
    now: datetime,
    context: RuleContext | None = None,
) -> dict[int, tuple[int, int]]:
    """Re-evaluate the touched fans against the segments that can depend on the change; returns per segment
    (entered, exited) for those that moved."""
    if not fan_ids:
        return {}
    context = context or load_context(connection, workspace_id)
    moved: dict[int, tuple[int, int]] = {}
    changed_segments: set[str] = set()
    ordered_ids = sorted(set(fan_ids))
    for segment_id in context.evaluation_order():
        if not _reads(context, segment_id, change, changed_segments):
            continue
        condition = context.compile(context.segment_rules[segment_id], now=now)
        entered = exited = 0
        for chunk in chunks(ordered_ids):
            step = segments_repo.apply_membership(
                connection,
                workspace_id,
                segment_id,
                should_be_member=condition,
                among=fans_repo.id_in(chunk),
                cause=cause,
                rule_version=context.segment_rows[segment_id].rule_version,
                now=now,
            )
            entered, exited = entered + step[0], exited + step[1]
        if entered or exited:
            moved[segment_id] = (entered, exited)
            changed_segments.add(reference_key(context.segment_rows[segment_id].name))
    return moved
