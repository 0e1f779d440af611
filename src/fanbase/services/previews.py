"""What a rule would do, with nothing stored: its size, a sample and each top-level condition's count (preview),
how an edit would move a segment's members (impact), and hints about names the workspace has not seen."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fanbase.core.describe import describe
from fanbase.core.rules import AllOf
from fanbase.core.rules import AnyOf
from fanbase.core.rules import Rule
from fanbase.core.rules import rule_to_json
from fanbase.core.text import format_rule
from fanbase.core.validation import unseen_names
from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import rule_evaluation
from fanbase.db.repositories import seen_values as seen_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.schemas.fans import Fan
from fanbase.schemas.segments import ConditionCount
from fanbase.schemas.segments import Impact
from fanbase.schemas.segments import Preview
from fanbase.schemas.segments import RuleHint
from fanbase.schemas.segments import RuleIn
from fanbase.services import fans as fans_service
from fanbase.services.rule_context import load_context
from fanbase.services.rule_context import parse_rule_input
from fanbase.services.segments import PREVIEW_SAMPLE_SIZE
from fanbase.services.segments import currency_symbol
from fanbase.services.segments import dynamic_segment_row


def _top_level(rule: Rule) -> list[tuple[str, Rule]]:
    match rule:
        case AllOf(rules=parts):
            return [(f"all[{index}]", part) for index, part in enumerate(parts)]
        case AnyOf(rules=parts):
            return [(f"any[{index}]", part) for index, part in enumerate(parts)]
        case _:
            return [("", rule)]


# A preview's sample is first looked for among this many of the workspace's first fans (by id), rule checked per fan.
SAMPLE_SCAN = 20_000


def preview(database: Database, workspace_id: int, data: RuleIn, *, now: datetime) -> Preview:
    """Size, a sample and each top-level condition's own count for a rule; nothing is stored."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        context = load_context(connection, workspace_id)
        rule = context.validate(parse_rule_input(data.rule, data.rule_text))
        count, sample_ids = rule_evaluation.count_and_sample(
            connection, context.scope, rule, now=now, limit=PREVIEW_SAMPLE_SIZE, scan=SAMPLE_SCAN
        )
        sample_rows = segments_repo.fans_by_ids(connection, workspace_id, sample_ids)
        sample = fans_service.present(
            connection, workspace_id, fans_repo.hydrate_fans(connection, workspace_id, sample_rows)
        )
        parts = _top_level(rule)
        if len(parts) == 1:
            # The one condition is the whole rule, so its count is the count above; count_each would add a pass over
            # every fan of the workspace (a sum of CASEs), where the count may be an index-only scan.
            counts = [count]
        else:
            counts = rule_evaluation.count_each(connection, context.scope, [part for _, part in parts], now=now)
        symbol = currency_symbol(connection, workspace_id)
        return Preview(
            count=count,
            sample=sample,
            conditions=[
                ConditionCount(
                    path=path, description=describe(part, catalogue=context.catalogue, currency_symbol=symbol), count=n
                )
                for (path, part), n in zip(parts, counts, strict=True)
            ],
            rule=rule_to_json(rule),
            rule_text=format_rule(rule),
            rule_english=describe(rule, catalogue=context.catalogue, currency_symbol=symbol),
            hints=hints(connection, workspace_id, rule),
        )


def hints(connection: Connection, workspace_id: int, rule: Rule) -> list[RuleHint]:
    """A hint per event type or order category the rule names that the workspace's data does not hold."""
    read: dict[str, set[str]] = {}

    def seen(field: str) -> set[str]:
        if field not in read:
            read[field] = set(seen_repo.distinct_names(connection, workspace_id, field))
        return read[field]

    return [RuleHint(path=hint.path, message=hint.message) for hint in unseen_names(rule, seen)]


def impact(database: Database, workspace_id: int, segment_id: int, data: RuleIn, *, now: datetime) -> Impact:
    """How many fans a rule edit would add and remove (with samples); nothing is changed."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        context = load_context(connection, workspace_id)
        row = dynamic_segment_row(context, segment_id, refusal="a static segment has no rule", field="rule")
        rule = context.validate(parse_rule_input(data.rule, data.rule_text), current_segment=row.name)
        found = rule_evaluation.impact(
            connection, context.scope, segment_id, rule, now=now, sample_size=PREVIEW_SAMPLE_SIZE
        )

        def present(rows: Sequence[Any]) -> list[Fan]:
            return fans_service.present(
                connection, workspace_id, fans_repo.hydrate_fans(connection, workspace_id, rows)
            )

        return Impact(
            joining=found.joining,
            leaving=found.leaving,
            size_after=found.size_after,
            sample_joining=present(found.sample_joining),
            sample_leaving=present(found.sample_leaving),
        )
