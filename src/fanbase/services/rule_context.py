"""What a workspace's rules can refer to, loaded once per use case: its field catalogue and the ids behind the
names of its tags, lists and segments. Validation uses the names; the SQL compiler uses the ids."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.sql import ColumnElement

from fanbase.core.dependencies import RuleReferences, collect_references
from fanbase.core.fields import Catalogue, FieldSpec, FieldType
from fanbase.core.rules import References, Rule, parse_rule_json, reference_key, validate_rule
from fanbase.core.text import parse_rule_text
from fanbase.db.compiler import (
    BatchStatement,
    CompiledRule,
    ResolvedReferences,
    compile_batch,
    compile_rule,
    compile_rule_for_workspace,
)
from fanbase.db.engine import Connection
from fanbase.db.repositories import fan_groups as fan_groups_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.tables import lists, tags
from fanbase.services import custom_fields


@dataclass(frozen=True)
class RuleContext:
    workspace_id: int
    dialect: str
    catalogue: Catalogue
    tag_ids: dict[str, int]
    list_ids: dict[str, int]
    segment_rows: dict[int, Any]
    segment_ids: dict[str, int]  # reference_key(name) → id
    segment_rules: dict[int, Rule]  # dynamic segments' parsed rules
    segment_refs: dict[str, frozenset[str]]  # reference_key(name) → keys of the segments its rule names

    def references(self, *, current_segment: str | None = None) -> References:
        return References(
            tags=tuple(self.tag_ids),
            lists=tuple(self.list_ids),
            segments=self.segment_refs,
            current_segment=current_segment,
        )

    def resolved(self) -> ResolvedReferences:
        return ResolvedReferences(tags=self.tag_ids, lists=self.list_ids, segments=self.segment_ids)

    def validate(self, rule: object, *, current_segment: str | None = None) -> Rule:
        return validate_rule(
            rule, catalogue=self.catalogue, references=self.references(current_segment=current_segment)
        )

    def _compiling(self, now: datetime) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "now": now,
            "catalogue": self.catalogue,
            "references": self.resolved(),
            "dialect": self.dialect,
        }

    def compile(self, rule: Rule, *, now: datetime) -> ColumnElement[bool]:
        """The correlated form: for a few fans (a scheduler tick's crossings, a page of fans)."""
        return compile_rule(rule, **self._compiling(now))

    def compile_for_workspace(self, rule: Rule, *, now: datetime) -> CompiledRule:
        """The set form: for evaluating a rule over every fan of the workspace at once."""
        return compile_rule_for_workspace(rule, **self._compiling(now))

    def batch(self, segment_ids: Sequence[int], *, now: datetime) -> BatchStatement:
        """One statement: ``(fan id, member of segment 1?, member of segment 2?, …)`` for a list of fans, with the
        segments' rules in the given order (a segment naming another of them reads that one's rule). Compiled once
        per version of everything it depends on, then reused at any ``now``."""
        key = (
            self.workspace_id,
            self.dialect,
            tuple((segment_id, self.segment_rows[segment_id].rule_version) for segment_id in segment_ids),
            self.catalogue,
            frozenset(self.tag_ids.items()),
            frozenset(self.list_ids.items()),
            frozenset(self.segment_ids.items()),
        )
        cached: BatchStatement | None = _batches.get(key)
        if cached is None:
            rules = {
                reference_key(self.segment_rows[segment_id].name): self.segment_rules[segment_id]
                for segment_id in segment_ids
            }
            cached = compile_batch(rules, **self._compiling(now))
            _batches.put(key, cached)
        return cached

    def dependents_of(self, segment_id: int) -> list[int]:
        """Segments whose rules name this one, directly or through others, in an order safe to re-evaluate."""
        order = self.evaluation_order()
        name = reference_key(self.segment_rows[segment_id].name)
        affected = {name}
        result: list[int] = []
        for other in order:
            other_name = reference_key(self.segment_rows[other].name)
            if self.segment_refs.get(other_name, frozenset()) & affected:
                affected.add(other_name)
                result.append(other)
        return result

    def segments_naming(self, *, tag: str | None = None, list_name: str | None = None) -> list[str]:
        """Names of the segments whose rules refer to this tag or list (renaming or deleting it would break them)."""
        found = []
        for segment_id, rule in self.segment_rules.items():
            refs = references_of(rule)
            if (tag is not None and reference_key(tag) in refs.tags) or (
                list_name is not None and reference_key(list_name) in refs.lists
            ):
                found.append(self.segment_rows[segment_id].name)
        return sorted(found)

    def evaluation_order(self) -> list[int]:
        """Dynamic segments, each after the segments its rule reads (validation keeps this acyclic)."""
        ordered: list[int] = []
        seen: set[int] = set()

        def visit(segment_id: int) -> None:
            if segment_id in seen:
                return
            seen.add(segment_id)
            name = reference_key(self.segment_rows[segment_id].name)
            for ref in sorted(self.segment_refs.get(name, frozenset())):
                if ref in self.segment_ids:
                    visit(self.segment_ids[ref])
            if segment_id in self.segment_rules:
                ordered.append(segment_id)

        for segment_id in sorted(self.segment_rows):
            visit(segment_id)
        return ordered


def catalogue_for(connection: Connection, workspace_id: int) -> Catalogue:
    fields = custom_fields.definitions(connection, workspace_id)
    return Catalogue(
        custom_fields=tuple(
            FieldSpec(name=field.name, type=FieldType(field.type), choices=tuple(field.choices or ()))
            for field in fields.values()
        )
    )


class _LRU:
    """A small least-recently-used map (thread-safe enough: a lost race compiles a statement twice)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


# Compiled write-path statements, by everything they depend on (workspace, segments and rule versions, custom
# fields, the ids behind names): a write then costs no compiling at all.
_batches = _LRU(256)


@lru_cache(maxsize=4096)
def stored_rule(text: str) -> Rule:
    """A stored rule's tree, parsed once per process (rules are frozen, so sharing them is safe): every write
    loads the workspace's rules, and re-parsing them was a tenth of an event's latency."""
    return parse_rule_json(text)


@lru_cache(maxsize=4096)
def references_of(rule: Rule) -> RuleReferences:
    return collect_references(rule)


def load_context(connection: Connection, workspace_id: int) -> RuleContext:
    rows = {row.id: row for row in segments_repo.list_segments(connection, workspace_id)}
    rules = {
        segment_id: stored_rule(json.dumps(row.rule, sort_keys=True))
        for segment_id, row in rows.items()
        if row.rule is not None
    }
    refs = {
        reference_key(row.name): references_of(rules[segment_id]).segments if segment_id in rules else frozenset()
        for segment_id, row in rows.items()
    }
    return RuleContext(
        workspace_id=workspace_id,
        dialect=connection.dialect.name,
        catalogue=catalogue_for(connection, workspace_id),
        tag_ids=fan_groups_repo.all_ids_by_name(connection, tags, workspace_id),
        list_ids=fan_groups_repo.all_ids_by_name(connection, lists, workspace_id),
        segment_rows=rows,
        segment_ids={reference_key(row.name): segment_id for segment_id, row in rows.items()},
        segment_rules=rules,
        segment_refs=refs,
    )


def parse_rule_input(rule: dict[str, Any] | None, rule_text: str | None) -> object:
    """The rule as given: text is parsed to a tree here, JSON is left for validation (which names paths)."""
    if rule_text is not None:
        return parse_rule_text(rule_text)
    return rule
