"""Segments: static (curated) and dynamic (a rule), with stored membership kept set-based in the database.

Every membership change goes through ``segments_repo.apply_membership`` and lands in the ledger with its cause.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from fanbase.core.dependencies import relative_time_conditions
from fanbase.core.describe import describe
from fanbase.core.rules import reference_key
from fanbase.core.rules import rule_to_json
from fanbase.core.text import format_rule
from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.engine import IntegrityError
from fanbase.db.repositories import fan_selections
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import rule_evaluation
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.repositories import workspaces as workspaces_repo
from fanbase.db.repositories.fan_selections import FanSelection
from fanbase.db.repositories.segments import SizedSegmentRow
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.audit import Actor
from fanbase.schemas.common import NAME_LENGTH
from fanbase.schemas.common import Page
from fanbase.schemas.common import normalize_email
from fanbase.schemas.fans import Fan
from fanbase.schemas.segments import EmailsIn
from fanbase.schemas.segments import MembershipChange
from fanbase.schemas.segments import Segment
from fanbase.schemas.segments import SegmentDrift
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.segments import SegmentPatch
from fanbase.schemas.segments import SegmentTemplate
from fanbase.services import audit
from fanbase.services import fan_csv
from fanbase.services import fans as fans_service
from fanbase.services import membership
from fanbase.services.rule_context import RuleContext
from fanbase.services.rule_context import load_context
from fanbase.services.rule_context import parse_rule_input
from fanbase.services.segment_templates import TEMPLATES
from fanbase.services.segment_templates import TEMPLATES_BY_KEY

PREVIEW_SAMPLE_SIZE = 10
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$", "CAD": "C$"}


def currency_symbol(connection: Connection, workspace_id: int) -> str:
    workspace = workspaces_repo.get_workspace(connection, workspace_id)
    currency = workspace.currency if workspace else "USD"
    return CURRENCY_SYMBOLS.get(currency, f"{currency} ")


def _present(context: RuleContext, row: SizedSegmentRow, *, currency_symbol: str) -> Segment:
    rule = context.segment_rules.get(row.id)
    # The stored row's fields are the record's, but for the rule's two readable forms.
    return Segment(
        **asdict(row),
        rule_text=format_rule(rule) if rule is not None else None,
        rule_english=describe(rule, catalogue=context.catalogue, currency_symbol=currency_symbol) if rule else None,
        used_by=_users_of(context, row.id),
    )


def _present_segment(connection: Connection, context: RuleContext, segment_id: int) -> Segment:
    row = segments_repo.get_segment(connection, context.workspace_id, segment_id)
    if row is None:
        raise NotFound(f"segment {segment_id} not found")
    return _present(context, row, currency_symbol=currency_symbol(connection, context.workspace_id))


def _load_segment(connection: Connection, workspace_id: int, segment_id: int) -> Segment:
    return _present_segment(connection, load_context(connection, workspace_id), segment_id)


def _rebuild(
    connection: Connection,
    context: RuleContext,
    segment_id: int,
    *,
    cause: str,
    now: datetime,
) -> tuple[int, int]:
    changes = membership.rebuild_segment(connection, context, segment_id, cause=cause, now=now)
    segments_repo.mark_evaluated(connection, context.workspace_id, segment_id, now=now)
    segments_repo.set_needs_evaluation(connection, context.workspace_id, [segment_id], needs=False)
    return changes


def _rebuild_with_dependents(
    connection: Connection, context: RuleContext, segment_id: int, *, cause: str, now: datetime
) -> tuple[int, int]:
    """Rebuild a segment, then every segment built on it (in dependency order), since their inputs changed."""
    changes = (0, 0)
    if segment_id in context.segment_rules:
        changes = _rebuild(connection, context, segment_id, cause=cause, now=now)
    if changes != (0, 0):
        for dependent in context.dependents_of(segment_id):
            _rebuild(connection, context, dependent, cause=cause, now=now)
    return changes


def list_templates() -> list[SegmentTemplate]:
    return list(TEMPLATES)


def list_segments(database: Database, workspace_id: int) -> list[Segment]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        context = load_context(connection, workspace_id)
        symbol = currency_symbol(connection, workspace_id)
        rows = segments_repo.list_segments(connection, workspace_id, with_size=True)
        return [_present(context, row, currency_symbol=symbol) for row in rows]


def segment_page(
    database: Database, workspace_id: int, *, page: int, page_size: int, search: str | None = None
) -> Page[Segment]:
    """One page of the workspace's segments (by name), with the total; ``search`` keeps those whose name or
    description holds it (case-insensitive)."""
    found = list_segments(database, workspace_id)
    if search and search.strip():
        needle = search.strip().casefold()
        found = [s for s in found if needle in s.name.casefold() or needle in (s.description or "").casefold()]
    start = (page - 1) * page_size
    return Page[Segment](items=found[start : start + page_size], total=len(found), page=page, page_size=page_size)


def get_segment(database: Database, workspace_id: int, segment_id: int) -> Segment:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return _load_segment(connection, workspace_id, segment_id)


def _insert_segment(
    connection: Connection, context: RuleContext, data: SegmentIn, *, now: datetime
) -> tuple[RuleContext, int]:
    """Insert a segment and build its membership; returns the context that includes it, and its id."""
    if reference_key(data.name) in context.segment_ids:
        raise Conflict(f"a segment named '{data.name}' already exists", field="name")
    rule = None
    if data.kind == "dynamic":
        rule = context.validate(parse_rule_input(data.rule, data.rule_text), current_segment=data.name)
    segment_id = segments_repo.insert_segment(
        connection,
        context.workspace_id,
        {
            "name": data.name,
            "description": data.description,
            "kind": data.kind,
            "rule": rule_to_json(rule) if rule is not None else None,
            "rule_version": 1 if data.kind == "dynamic" else 0,
        },
        now=now,
    )
    context = context.with_segment(segments_repo.get_segment(connection, context.workspace_id, segment_id), rule)
    if rule is not None:
        _rebuild(connection, context, segment_id, cause="build", now=now)
    else:
        segments_repo.mark_evaluated(connection, context.workspace_id, segment_id, now=now)
    return context, segment_id


def _membership_written(database: Database, workspace_id: int, moved: int) -> None:
    """After a build or refresh has committed: a large one leaves the planner's view of stored membership stale."""
    database.refresh_statistics_after_write(
        {"segment_members": moved, "segment_membership_log": moved}, workspace_id=workspace_id
    )


def create_segment(database: Database, workspace_id: int, data: SegmentIn, *, now: datetime) -> Segment:
    try:
        with database.transaction(workspace_id=workspace_id) as connection:
            context, segment_id = _insert_segment(connection, load_context(connection, workspace_id), data, now=now)
            segment = _present_segment(connection, context, segment_id)
    except IntegrityError as error:  # a concurrent create of the same name
        raise Conflict(f"a segment named '{data.name}' already exists", field="name") from error
    _membership_written(database, workspace_id, segment.size)
    return segment


def create_from_template(database: Database, workspace_id: int, key: str, *, now: datetime) -> Segment:
    """Create a template's segment, and first any segments it is built on that the workspace lacks."""
    template = TEMPLATES_BY_KEY.get(key)
    if template is None:
        raise NotFound(f"no template '{key}'; see GET /api/v1/segments/templates")
    with database.transaction(workspace_id=workspace_id) as connection:
        context = load_context(connection, workspace_id)
        for required in (*(TEMPLATES_BY_KEY[name] for name in template.requires), template):
            if reference_key(required.name) in context.segment_ids:
                if required is template:
                    raise Conflict(f"a segment named '{template.name}' already exists", field="name")
                continue
            data = SegmentIn(name=required.name, description=required.description, rule_text=required.rule_text)
            context, segment_id = _insert_segment(connection, context, data, now=now)
        segment = _present_segment(connection, context, segment_id)
    _membership_written(database, workspace_id, segment.size)
    return segment


def duplicate_segment(database: Database, workspace_id: int, segment_id: int, *, now: datetime) -> Segment:
    """A copy named "<name> (copy)" (then "(copy 2)", …) with the same description and rule; a static segment's
    copy starts with the same members (logged as added by hand). One transaction."""
    with database.transaction(workspace_id=workspace_id) as connection:
        context = load_context(connection, workspace_id)
        row = context.segment_rows.get(segment_id)
        if row is None:
            raise NotFound(f"segment {segment_id} not found")
        name = _copy_name(row.name, context.segment_ids)
        is_static = row.kind == "static"
        data = SegmentIn(name=name, description=row.description, kind=row.kind, rule=None if is_static else row.rule)
        context, copy_id = _insert_segment(connection, context, data, now=now)
        moved = 0
        if is_static:
            members = sorted(segments_repo.member_ids(connection, workspace_id, segment_id))
            moved = segments_repo.set_members(
                connection, workspace_id, copy_id, members, are_members=True, cause="manual", rule_version=0, now=now
            )
            membership.announce_moves(connection, workspace_id, {copy_id: (moved, 0)}, now=now)
        segment = _present_segment(connection, context, copy_id)
    _membership_written(database, workspace_id, max(moved, segment.size))
    return segment


def _copy_name(name: str, taken: Mapping[str, int]) -> str:
    """The first of "<name> (copy)", "<name> (copy 2)", … no segment has, shortened to fit a name's length."""
    number = 1
    while True:
        suffix = " (copy)" if number == 1 else f" (copy {number})"
        candidate = name[: NAME_LENGTH - len(suffix)].rstrip() + suffix
        if reference_key(candidate) not in taken:
            return candidate
        number += 1


def _users_of(context: RuleContext, segment_id: int) -> list[str]:
    name = reference_key(context.segment_rows[segment_id].name)
    return sorted(
        context.segment_rows[context.segment_ids[other]].name
        for other, refs in context.segment_refs.items()
        if name in refs and other != name
    )


def update_segment(
    database: Database, workspace_id: int, segment_id: int, patch: SegmentPatch, *, now: datetime
) -> Segment:
    with database.transaction(workspace_id=workspace_id) as connection:
        context = load_context(connection, workspace_id)
        row = context.segment_rows.get(segment_id)
        if row is None:
            raise NotFound(f"segment {segment_id} not found")
        values: dict[str, Any] = {}
        if patch.name is not None and patch.name != row.name:
            if (
                reference_key(patch.name) in context.segment_ids
                and context.segment_ids[reference_key(patch.name)] != segment_id
            ):
                raise Conflict(f"a segment named '{patch.name}' already exists", field="name")
            users = _users_of(context, segment_id)
            if users and reference_key(patch.name) != reference_key(row.name):
                raise Conflict(
                    f"segment '{row.name}' is used by the rules of: {', '.join(users)}; edit those first",
                    field="name",
                )
            values["name"] = patch.name
        if "description" in patch.model_fields_set:
            values["description"] = patch.description
        rule = context.segment_rules.get(segment_id)
        is_rule_edit = patch.rule is not None or patch.rule_text is not None
        if is_rule_edit:
            if row.kind != "dynamic":
                raise InvalidInput("a static segment has no rule", field="rule")
            edited = context.validate(
                parse_rule_input(patch.rule, patch.rule_text), current_segment=values.get("name", row.name)
            )
            rule_json = rule_to_json(edited)
            if rule_json != row.rule:
                values["rule"] = rule_json
                values["rule_version"] = row.rule_version + 1
                rule = edited
        if values:
            segments_repo.update_segment(connection, workspace_id, segment_id, {**values, "updated_at": now})
            updated = segments_repo.get_segment(connection, workspace_id, segment_id)
            context = context.with_segment(updated, rule)
        moved = (0, 0)
        if "rule" in values:
            moved = _rebuild_with_dependents(connection, context, segment_id, cause="rule_edit", now=now)
        segment = _present_segment(connection, context, segment_id)
    _membership_written(database, workspace_id, sum(moved))
    return segment


def delete_segment(
    database: Database, workspace_id: int, segment_id: int, *, now: datetime | None = None, actor: Actor | None = None
) -> None:
    with database.transaction(workspace_id=workspace_id) as connection:
        context = load_context(connection, workspace_id)
        if segment_id not in context.segment_rows:
            raise NotFound(f"segment {segment_id} not found")
        users = _users_of(context, segment_id)
        if users:
            raise Conflict(f"segment '{context.segment_rows[segment_id].name}' is used by: {', '.join(users)}")
        segments_repo.delete_segment(connection, workspace_id, segment_id)
        if now is not None:
            name = context.segment_rows[segment_id].name
            audit.record(
                connection, workspace_id, actor, "segment.deleted", target=f"segment {segment_id} ({name})", now=now
            )


def dynamic_segment_row(context: RuleContext, segment_id: int, *, refusal: str, field: str) -> Any:
    """The segment's stored row; a static one is refused with ``refusal`` on ``field``."""
    row = context.segment_rows.get(segment_id)
    if row is None:
        raise NotFound(f"segment {segment_id} not found")
    if row.kind != "dynamic":
        raise InvalidInput(refusal, field=field)
    return row


def refresh_segment(database: Database, workspace_id: int, segment_id: int, *, now: datetime) -> MembershipChange:
    """Re-evaluate a dynamic segment from scratch against its rule (and its dependents if it changed)."""
    with database.transaction(workspace_id=workspace_id) as connection:
        context = load_context(connection, workspace_id)
        dynamic_segment_row(context, segment_id, refusal="only dynamic segments are evaluated", field="segment_id")
        entered, exited = _rebuild_with_dependents(connection, context, segment_id, cause="refresh", now=now)
        size = _present_segment(connection, context, segment_id).size
    _membership_written(database, workspace_id, entered + exited)
    return MembershipChange(entered=entered, exited=exited, size=size)


def refresh_all(
    database: Database, workspace_id: int, *, now: datetime, is_full: bool = False
) -> dict[int, MembershipChange]:
    """Bring every dynamic segment up to date, in dependency order, in one transaction; each gets its change.

    Writes keep segments exact as they happen, so by default only the segments a write marked (it changed what
    their rules read without evaluating them), those whose next time boundary is due, and the segments built on
    any of these that moved are evaluated; the others are exact already and cost nothing. ``is_full`` evaluates
    every rule over every fan (the repair for drift from outside fanbase, which ``verify`` reports).
    """
    with database.transaction(workspace_id=workspace_id) as connection:
        context = load_context(connection, workspace_id)
        order = context.evaluation_order()
        pending = set(order) if is_full else segments_repo.needing_evaluation(connection, workspace_id, now=now)
        changes: dict[int, tuple[int, int]] = {}
        for segment_id in order:
            if segment_id not in pending:
                changes[segment_id] = (0, 0)
                continue
            changes[segment_id] = _rebuild(connection, context, segment_id, cause="refresh", now=now)
            if changes[segment_id] != (0, 0):
                pending.update(context.dependents_of(segment_id))
        segments_repo.compact_sizes(connection, workspace_id)
        sizes = {row.id: row.size for row in segments_repo.list_segments(connection, workspace_id, with_size=True)}
    _membership_written(database, workspace_id, sum(entered + exited for entered, exited in changes.values()))
    return {
        segment_id: MembershipChange(entered=entered, exited=exited, size=sizes[segment_id])
        for segment_id, (entered, exited) in changes.items()
    }


def compact_sizes(database: Database) -> list[int]:
    """Fold the recorded size changes of every workspace that has gathered a few per segment (the scheduler calls
    this every minute): sizes stay a sum over about one row per segment. Returns the workspaces folded."""
    with database.transaction(workspace_id=ACROSS_WORKSPACES, write=False) as connection:  # scans every workspace
        workspace_ids = segments_repo.workspaces_with_size_changes_to_fold(connection, rows_per_segment=4)
    for workspace_id in workspace_ids:
        with database.transaction(workspace_id=workspace_id) as connection:
            segments_repo.compact_sizes(connection, workspace_id)
    return workspace_ids


def verify(database: Database, workspace_id: int, *, now: datetime) -> list[SegmentDrift]:
    """Recompute every dynamic segment from scratch (set-based, nothing written) and compare with stored membership.

    A time-dependent segment is exact as of its last evaluation (tick); fans whose watched times crossed a
    boundary since then are counted apart as ``pending_time``, not as drift.
    """
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        context = load_context(connection, workspace_id)
        report = []
        for segment_id in context.evaluation_order():
            row = context.segment_rows[segment_id]
            rule = context.segment_rules[segment_id]
            dependencies = relative_time_conditions(rule)
            since = row.last_evaluated_at or now
            # No time dependencies, or evaluated just now: nothing can be pending (an empty list is "no fan").
            found = rule_evaluation.drift(
                connection,
                context.scope,
                segment_id,
                rule,
                watched=dependencies if since < now else [],
                since=since,
                now=now,
            )
            report.append(SegmentDrift(segment_id=segment_id, segment_name=row.name, **asdict(found)))
        return report


def members(database: Database, workspace_id: int, segment_id: int, *, page: int, page_size: int) -> Page[Fan]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        _load_segment(connection, workspace_id, segment_id)
        items, total = fan_selections.page_fans(
            connection, workspace_id, FanSelection(segment_id=segment_id), page=page, page_size=page_size
        )
        return Page[Fan](
            items=fans_service.present(connection, workspace_id, items), total=total, page=page, page_size=page_size
        )


def _static_segment(connection: Connection, workspace_id: int, segment_id: int) -> Any:
    row = segments_repo.get_segment(connection, workspace_id, segment_id, for_update=True)
    if row is None:
        raise NotFound(f"segment {segment_id} not found")
    if row.kind != "static":
        raise InvalidInput("members of a dynamic segment follow its rule; edit the rule instead", field="segment_id")
    return row


def add_fans(
    database: Database,
    workspace_id: int,
    segment_id: int,
    fan_ids: Sequence[int],
    *,
    now: datetime,
    cause: str = "manual",
) -> MembershipChange:
    return _set_members(database, workspace_id, segment_id, fan_ids, are_members=True, cause=cause, now=now)


def remove_fans(
    database: Database, workspace_id: int, segment_id: int, fan_ids: Sequence[int], *, now: datetime
) -> MembershipChange:
    return _set_members(database, workspace_id, segment_id, fan_ids, are_members=False, cause="manual", now=now)


def _set_members(
    database: Database,
    workspace_id: int,
    segment_id: int,
    fan_ids: Sequence[int],
    *,
    are_members: bool,
    cause: str,
    now: datetime,
) -> MembershipChange:
    """Put fans in a static segment or take them out; segments built on it follow."""
    with database.transaction(workspace_id=workspace_id) as connection:
        row = _static_segment(connection, workspace_id, segment_id)
        fans_service.require_fans(connection, workspace_id, fan_ids)
        moved = segments_repo.set_members(
            connection,
            workspace_id,
            segment_id,
            fan_ids,
            are_members=are_members,
            cause=cause,
            rule_version=row.rule_version,
            now=now,
        )
        entered, exited = (moved, 0) if are_members else (0, moved)
        membership.announce_moves(connection, workspace_id, {segment_id: (entered, exited)}, now=now)
        if moved:
            _cascade(connection, workspace_id, row, fan_ids, cause=cause, now=now)
        size = _load_segment(connection, workspace_id, segment_id).size
    _membership_written(database, workspace_id, moved)
    return MembershipChange(entered=entered, exited=exited, size=size)


def add_fans_by_email(
    database: Database, workspace_id: int, segment_id: int, data: EmailsIn, *, now: datetime
) -> MembershipChange:
    """Static segments from a list of emails (e.g. a CSV column); unknown emails are refused, naming them."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        found = fans_repo.fan_ids_by_email(connection, workspace_id, data.emails)
    missing = sorted(set(data.emails) - set(found))
    if missing:
        raise NotFound(
            f"no fan with email: {', '.join(missing[:20])}{' …' if len(missing) > 20 else ''}", field="emails"
        )
    return add_fans(database, workspace_id, segment_id, list(found.values()), now=now, cause="import")


def _cascade(
    connection: Connection, workspace_id: int, segment: Any, fan_ids: Sequence[int], *, cause: str, now: datetime
) -> None:
    """A static segment's membership changed for these fans: segments built on it follow, for them only."""
    membership.apply_change(
        connection, workspace_id, fan_ids, membership.segments_changed([segment.name]), cause=cause, now=now
    )


def emails_from_csv(data: bytes) -> tuple[str, ...]:
    """The emails in a CSV: its `email` column, or its only column; header optional. Bad emails are refused by line."""
    text = fan_csv.decode_csv(data)
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise InvalidInput("the file has no rows", field="file")
    header = [cell.strip().lower() for cell in rows[0]]
    column, start = (header.index("email"), 1) if "email" in header else (0, 0)
    emails: list[str] = []
    for line, row in enumerate(rows[start:], start=start + 1):
        cell = row[column].strip() if column < len(row) else ""
        try:
            emails.append(normalize_email(cell))
        except ValueError as error:
            raise InvalidInput(f"line {line}: {error}", field="file") from error
    if not emails:
        raise InvalidInput("the file has no emails", field="file")
    return tuple(dict.fromkeys(emails))
