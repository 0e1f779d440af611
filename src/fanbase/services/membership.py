"""Live membership: every write that can change who is in a segment re-evaluates, in the same transaction, only
the fans it touched and only the dynamic segments whose rules read what changed — in dependency order, so a
segment built on another sees that other's new membership. Set-based: a few statements per affected segment,
whatever the number of fans in the write.

Which segments a write can affect comes from the dependency index, ``collect_references(rule)`` per segment:
the fields, tags, lists, segments and behaviour sources (orders, refunds, events) each rule reads.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from fanbase.core.dependencies import relative_time_conditions
from fanbase.core.fields import Source
from fanbase.core.rules import reference_key
from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import rule_evaluation
from fanbase.db.repositories import scheduler as scheduler_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.services import webhooks
from fanbase.services.rule_context import RuleContext
from fanbase.services.rule_context import load_context
from fanbase.services.rule_context import references_of

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


def _reads(context: RuleContext, segment_id: int, change: Change) -> bool:
    if change.is_new_fan:
        return True
    refs = references_of(context.segment_rules[segment_id])
    return bool(
        refs.fields & change.fields
        or refs.tags & change.tags
        or refs.lists & change.lists
        or refs.sources & change.sources
        or refs.segments & change.segments
    )


def affected_segments(context: RuleContext, change: Change) -> list[int]:
    """The dynamic segments whose rules read what changed, and the segments built on those, in evaluation order."""
    affected: list[int] = []
    names: set[str] = set()
    for segment_id in context.evaluation_order():
        if _reads(context, segment_id, change) or references_of(context.segment_rules[segment_id]).segments & names:
            affected.append(segment_id)
            names.add(reference_key(context.segment_rows[segment_id].name))
    return affected


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
    (entered, exited) for those that moved.

    Per chunk of fans, one statement evaluates every affected segment and reads their stored membership
    (``rule_evaluation.membership_of_fans``: a segment built on another of them reads that one's rule, so
    dependency order holds inside the statement), and the differences are written in a few statements
    (``record_membership_changes``).
    """
    if not fan_ids:
        return {}
    context = context or load_context(connection, workspace_id)
    segment_ids = affected_segments(context, change)
    if not segment_ids:
        return {}
    segments = [context.segment_rule(segment_id) for segment_id in segment_ids]
    versions = {segment.segment_id: segment.rule_version for segment in segments}
    moved: dict[int, tuple[int, int]] = {}
    for chunk in rule_evaluation.membership_of_fans(connection, context.scope, segments, list(fan_ids), now=now):
        changes: dict[int, tuple[list[int], list[int]]] = {}
        for fan in chunk:
            for segment_id, should, stored in zip(segment_ids, fan.matches, fan.is_stored, strict=True):
                if should != stored:
                    entered, exited = changes.setdefault(segment_id, ([], []))
                    (entered if should else exited).append(fan.fan_id)
        segments_repo.record_membership_changes(
            connection, workspace_id, changes, cause=cause, rule_versions=versions, now=now
        )
        for segment_id, (entered, exited) in changes.items():
            before = moved.get(segment_id, (0, 0))
            moved[segment_id] = (before[0] + len(entered), before[1] + len(exited))
    announce_moves(connection, workspace_id, moved, now=now)
    return moved


def announce_moves(
    connection: Connection, workspace_id: int, moved: Mapping[int, tuple[int, int]], *, now: datetime
) -> None:
    """Queue the webhook events of the segments whose members changed at ``now`` (segment id → (entered, exited)),
    in the transaction that changed them: the outbox reads the ledger rows of that instant."""
    changed = [segment_id for segment_id, (entered, exited) in moved.items() if entered or exited]
    webhooks.queue_segment_events(connection, workspace_id, changed, at=now)


# A refresh or rule edit that moves more fans than this writes them with set-based INSERT … SELECTs rather than
# from the list of ids it found (evaluating the rule once more, but keeping hundreds of thousands of ids out of Python).
LISTED_MOVES = 5000


def rebuild_segment(
    connection: Connection, context: RuleContext, segment_id: int, *, cause: str, now: datetime
) -> tuple[int, int]:
    """Bring one dynamic segment's stored membership up to date with its rule over the whole workspace; returns
    (entered, exited).

    The rule is evaluated once against the stored members (``membership_differences``), so a segment that is
    already exact costs one statement and writes nothing; a first build has no members to compare with.
    """
    row = context.segment_rows[segment_id]
    rule = context.segment_rules[segment_id]
    moved: tuple[int, int]
    if cause != "build":
        entered, exited = rule_evaluation.membership_differences(connection, context.scope, segment_id, rule, now=now)
        if len(entered) + len(exited) <= LISTED_MOVES:
            segments_repo.record_membership_changes(
                connection,
                context.workspace_id,
                {segment_id: (entered, exited)},
                cause=cause,
                rule_versions={segment_id: row.rule_version},
                now=now,
            )
            moved = (len(entered), len(exited))
            announce_moves(connection, context.workspace_id, {segment_id: moved}, now=now)
            return moved
    moved = rule_evaluation.apply_rule(
        connection, context.scope, segment_id, rule, cause=cause, rule_version=row.rule_version, now=now
    )
    announce_moves(connection, context.workspace_id, {segment_id: moved}, now=now)
    return moved


@dataclass(frozen=True)
class TickReport:
    workspace_id: int
    is_skipped: bool = False  # another scheduler holds this workspace's lock
    segments: int = 0  # time-dependent segments looked at
    entered: int = 0
    exited: int = 0
    since: datetime | None = None
    errors: tuple[str, ...] = ()


def apply_time(database: Database, workspace_id: int, *, now: datetime) -> TickReport:
    """Apply every membership change that time alone caused since the last tick, in one transaction.

    Only fans whose watched times crossed a boundary in (last tick, now] are re-evaluated (``time_crossings``); the
    first tick of a workspace re-evaluates its time-dependent segments in full. Segments built on the ones that
    moved follow, for the fans that moved. The ledger records the changes with cause "time".
    """
    with database.transaction(workspace_id=workspace_id) as connection:
        if not scheduler_repo.try_lock_workspace(connection, workspace_id):
            return TickReport(workspace_id=workspace_id, is_skipped=True)
        since = scheduler_repo.last_tick(connection, workspace_id)
        if since is not None and since >= now:
            return TickReport(workspace_id=workspace_id, since=since)
        context = load_context(connection, workspace_id)
        entered = exited = 0
        timed: list[int] = []
        failures: list[str] = []
        for segment_id in context.evaluation_order():
            dependencies = relative_time_conditions(context.segment_rules[segment_id])
            if not dependencies:
                continue
            timed.append(segment_id)
            rule = context.segment_rules[segment_id]
            try:
                # A savepoint per segment: one failing rule is recorded on its segment (last_error) and the
                # others still move on time — never silently skipped, never blocking the rest.
                with connection.begin_nested():
                    # The first tick evaluates whole segments; later ones the few fans that crossed a boundary.
                    if since is None:
                        step = rebuild_segment(connection, context, segment_id, cause="time", now=now)
                    else:
                        step = rule_evaluation.apply_rule(
                            connection,
                            context.scope,
                            segment_id,
                            rule,
                            among=rule_evaluation.TimeWindow(watched=dependencies, since=since, until=now),
                            cause="time",
                            rule_version=context.segment_rows[segment_id].rule_version,
                            now=now,
                        )
                        announce_moves(connection, workspace_id, {segment_id: step}, now=now)
                    next_flip = rule_evaluation.next_flip(connection, context.scope, dependencies, now=now)
                    scheduler_repo.set_next_flip(connection, workspace_id, segment_id, next_flip)
                    segments_repo.mark_evaluated(connection, workspace_id, segment_id, now=now)
            except Exception as error:
                failures.append(f"{context.segment_rows[segment_id].name}: {error}")
                segments_repo.mark_evaluated(
                    connection, workspace_id, segment_id, now=now, error=f"time evaluation failed: {error}"[:2000]
                )
                continue
            entered, exited = entered + step[0], exited + step[1]
        moved = scheduler_repo.fans_moved_at(connection, workspace_id, timed, at=now)
        if moved:
            names = [context.segment_rows[segment_id].name for segment_id in timed]
            # Dependents that are time-dependent themselves were handled above; this reaches the rest.
            apply_change(
                connection, workspace_id, moved, segments_changed(names), cause="time", now=now, context=context
            )
        scheduler_repo.record_tick(connection, workspace_id, at=now)
        return TickReport(workspace_id=workspace_id, segments=len(timed), entered=entered, exited=exited, since=since)


def time_workspaces(database: Database) -> list[int]:
    with database.transaction(workspace_id=ACROSS_WORKSPACES, write=False) as connection:  # scans every workspace
        return scheduler_repo.workspaces_with_time_rules(connection)
