"""What a workspace's rules can refer to, loaded once per use case: its field catalogue and the ids behind the
names of its tags, lists and segments. Validation uses the names; the SQL compiler uses the ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from functools import lru_cache
from typing import Any

from fanbase.core.dependencies import RuleReferences
from fanbase.core.dependencies import collect_references
from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec
from fanbase.core.fields import FieldType
from fanbase.core.rules import Rule
from fanbase.core.rules import parse_rule_json
from fanbase.core.rules import reference_key
from fanbase.core.text import parse_rule_text
from fanbase.core.validation import References
from fanbase.core.validation import validate_rule
from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.lru import LockedLRU
from fanbase.db.repositories import lists as lists_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.repositories import tags as tags_repo
from fanbase.db.repositories import workspaces as workspaces_repo
from fanbase.db.repositories.rule_evaluation import RuleScope
from fanbase.db.repositories.rule_evaluation import SegmentRule
from fanbase.services import custom_fields


@dataclass(frozen=True)
class RuleContext:
    workspace_id: int
    catalogue: Catalogue
    tag_ids: dict[str, int]
    list_ids: dict[str, int]
    segment_rows: dict[int, Any]
    segment_ids: dict[str, int]  # reference_key(name) → id
    segment_rules: dict[int, Rule]  # dynamic segments' parsed rules
    segment_refs: dict[str, frozenset[str]]  # reference_key(name) → keys of the segments its rule names
    # reference_key(name) → the name as written, for messages ("did you mean 'VIP'?")
    tag_names: dict[str, str] = field(default_factory=dict)
    list_names: dict[str, str] = field(default_factory=dict)

    def _segment_name(self, key: str) -> str:
        segment_id = self.segment_ids.get(key)
        return key if segment_id is None else str(self.segment_rows[segment_id].name)

    def references(self, *, current_segment: str | None = None) -> References:
        return References(
            tags=tuple(self.tag_names.get(key, key) for key in self.tag_ids),
            lists=tuple(self.list_names.get(key, key) for key in self.list_ids),
            segments={self._segment_name(key): refs for key, refs in self.segment_refs.items()},
            current_segment=current_segment,
        )

    def validate(self, rule: object, *, current_segment: str | None = None) -> Rule:
        return validate_rule(
            rule, catalogue=self.catalogue, references=self.references(current_segment=current_segment)
        )

    @property
    def scope(self) -> RuleScope:
        """What the database needs to run this workspace's rules."""
        return RuleScope(
            workspace_id=self.workspace_id,
            catalogue=self.catalogue,
            tag_ids=self.tag_ids,
            list_ids=self.list_ids,
            segment_ids=self.segment_ids,
        )

    def segment_rule(self, segment_id: int) -> SegmentRule:
        row = self.segment_rows[segment_id]
        return SegmentRule(
            segment_id=segment_id, name=row.name, rule_version=row.rule_version, rule=self.segment_rules[segment_id]
        )

    def with_segment(self, row: Any, rule: Rule | None) -> RuleContext:
        """This context with one segment added or changed (its stored row, and its rule already validated), without
        reading the database again: what a segment's create or edit passes on to evaluation and presentation."""
        rows = {**self.segment_rows, row.id: row}
        rules = {segment_id: known for segment_id, known in self.segment_rules.items() if segment_id != row.id}
        if rule is not None:
            rules[row.id] = rule
        return replace(self, **_segments_part(rows, rules))

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


def catalogue(database: Database, workspace_id: int) -> Catalogue:
    """The fields a workspace's rules may name, custom fields included (for an edge, which holds no connection)."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return catalogue_for(connection, workspace_id)


def catalogue_for(connection: Connection, workspace_id: int) -> Catalogue:
    fields = custom_fields.definitions(connection, workspace_id)
    return Catalogue(
        custom_fields=tuple(
            FieldSpec(
                name=field.name,
                type=FieldType(field.type),
                choices=tuple(field.choices or ()),
                label=field.label,
            )
            for field in fields.values()
        )
    )


@lru_cache(maxsize=4096)
def stored_rule(text: str) -> Rule:
    """A stored rule's tree, parsed once per process (rules are frozen, so sharing them is safe): every write
    loads the workspace's rules, and re-parsing them was a large share of an event's latency."""
    return parse_rule_json(text)


@lru_cache(maxsize=4096)
def references_of(rule: Rule) -> RuleReferences:
    return collect_references(rule)


def _segments_part(rows: dict[int, Any], rules: dict[int, Rule]) -> dict[str, Any]:
    return {
        "segment_rows": rows,
        "segment_rules": rules,
        "segment_ids": {reference_key(row.name): segment_id for segment_id, row in rows.items()},
        "segment_refs": {
            reference_key(row.name): references_of(rules[segment_id]).segments if segment_id in rules else frozenset()
            for segment_id, row in rows.items()
        },
    }


def load_context(connection: Connection, workspace_id: int) -> RuleContext:
    rows = {row.id: row for row in segments_repo.list_segments(connection, workspace_id)}
    rules = {
        segment_id: stored_rule(json.dumps(row.rule, sort_keys=True))
        for segment_id, row in rows.items()
        if row.rule is not None
    }
    tags = tags_repo.TAGS.all_names_and_ids(connection, workspace_id)
    lists = lists_repo.LISTS.all_names_and_ids(connection, workspace_id)
    return RuleContext(
        workspace_id=workspace_id,
        catalogue=catalogue_for(connection, workspace_id),
        tag_ids={key: group_id for key, (_, group_id) in tags.items()},
        list_ids={key: group_id for key, (_, group_id) in lists.items()},
        tag_names={key: name for key, (name, _) in tags.items()},
        list_names={key: name for key, (name, _) in lists.items()},
        **_segments_part(rows, rules),
    )


# Rule contexts by (workspace, rules token). The token is a random value the database gives a workspace anew in the
# transaction of every change to what a context holds (migration 0008's triggers), so the entry under the token a
# transaction reads is that workspace's context; contexts are never changed once made (``with_segment`` makes a new
# one), so threads share them.
_contexts: LockedLRU[tuple[int, int], RuleContext] = LockedLRU(64)


def current_context(connection: Connection, workspace_id: int) -> RuleContext:
    """The workspace's rule context as this transaction sees it, from the process's cache when its rules token is
    the one cached. The token is read before a missing context is loaded: a change committed in between is then
    filed under the older token, which only a transaction that had already read the older token can ask for (and
    it would have read the newer rules anyway, statement by statement), never under the newer one."""
    token = workspaces_repo.rules_token(connection, workspace_id)
    if token is None:
        return load_context(connection, workspace_id)
    found = _contexts.get((workspace_id, token))
    if found is None:
        found = load_context(connection, workspace_id)
        _contexts.put((workspace_id, token), found)
    return found


def parse_rule_input(rule: dict[str, Any] | None, rule_text: str | None) -> object:
    """The rule as given: text is parsed to a tree here, JSON is left for validation (which names paths)."""
    if rule_text is not None:
        return parse_rule_text(rule_text)
    return rule
