"""Fans: create, read, update, erase, list with filters; the derived figures' full recompute."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.engine import IntegrityError
from fanbase.db.repositories import activity as activity_repo
from fanbase.db.repositories import fan_groups as fan_groups_repo
from fanbase.db.repositories import fan_selections
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import idempotency as idempotency_repo
from fanbase.db.repositories import lists as lists_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.repositories import tags as tags_repo
from fanbase.db.repositories import webhooks as webhooks_repo
from fanbase.db.repositories.fan_selections import FanSelection
from fanbase.db.repositories.fan_selections import RuleFilter
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.audit import Actor
from fanbase.schemas.common import Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.fans import FanIn
from fanbase.schemas.fans import FanPatch
from fanbase.schemas.fans import FanSource
from fanbase.schemas.lists import ListMembership
from fanbase.schemas.orders_events import Event
from fanbase.schemas.orders_events import Order
from fanbase.services import audit
from fanbase.services import custom_fields
from fanbase.services import membership
from fanbase.services import rule_context
from fanbase.services import suppressions
from fanbase.services import webhooks


def present(connection: Connection, workspace_id: int, fans: Sequence[Fan]) -> list[Fan]:
    fields = custom_fields.definitions(connection, workspace_id)
    return [
        fan.model_copy(update={"custom_fields": custom_fields.decode_values(fields, fan.custom_fields)}) for fan in fans
    ]


def load_fan(connection: Connection, workspace_id: int, fan_id: int) -> Fan:
    row = fans_repo.get_fan_row(connection, workspace_id, fan_id)
    if row is None:
        raise NotFound(f"fan {fan_id} not found")
    return present(connection, workspace_id, fans_repo.hydrate_fans(connection, workspace_id, [row]))[0]


def fan_row_values(data: FanIn, *, stored_custom: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "email": data.email,
        "first_name": data.first_name,
        "last_name": data.last_name,
        "lifecycle_stage": data.lifecycle_stage,
        "source": data.source,
        "country": data.country,
        "city": data.city,
        "custom_fields": stored_custom,
        "created_at": data.created_at or now,
        "updated_at": now,
    }


def attach_labels(
    connection: Connection,
    workspace_id: int,
    *,
    tag_pairs: Sequence[tuple[int, str]],
    list_pairs: Sequence[tuple[int, str]],
    consent_source: str,
    now: datetime,
) -> set[int]:
    """Tag fans and subscribe them to lists by name: (fan_id, name) pairs; names are created when missing.
    Returns the fans that gained a tag or whose status in a list changed."""
    changed: set[int] = set()
    if tag_pairs:
        tag_ids = tags_repo.TAGS.ensure_named(connection, workspace_id, (name for _, name in tag_pairs), now=now)
        links = [(tag_ids[fan_groups_repo.name_key(name)], fan_id) for fan_id, name in tag_pairs]
        added = tags_repo.link_tags(connection, workspace_id, links, now=now)
        changed.update(fan_id for _, fan_id in added)
        webhooks.queue_tag_events(connection, workspace_id, {tag_id for tag_id, _ in added}, at=now)
    if list_pairs:
        list_ids = lists_repo.LISTS.ensure_named(connection, workspace_id, (name for _, name in list_pairs), now=now)
        by_list: dict[int, list[int]] = {}
        for fan_id, name in list_pairs:
            by_list.setdefault(list_ids[fan_groups_repo.name_key(name)], []).append(fan_id)
        for list_id, fan_ids in by_list.items():
            subscribed = lists_repo.set_statuses(
                connection,
                workspace_id,
                list_id,
                fan_ids,
                status="subscribed",
                consent_source=consent_source,
                consent_at=None,
                now=now,
            )
            if subscribed:
                changed.update(subscribed)
                webhooks.queue_list_events(connection, workspace_id, [list_id], at=now)
    return changed


def create_fan(database: Database, workspace_id: int, data: FanIn, *, now: datetime) -> Fan:
    try:
        with database.transaction(workspace_id=workspace_id) as connection:
            suppressions.refuse_suppressed(connection, workspace_id, [data.email])
            fields = custom_fields.definitions(connection, workspace_id)
            stored = custom_fields.encode_values(fields, data.custom_fields)
            (fan_id,) = fans_repo.insert_fans(
                connection, workspace_id, [fan_row_values(data, stored_custom=stored, now=now)]
            )
            attach_labels(
                connection,
                workspace_id,
                tag_pairs=[(fan_id, name) for name in data.tags],
                list_pairs=[(fan_id, name) for name in data.lists],
                consent_source="api",
                now=now,
            )
            membership.apply_change(connection, workspace_id, [fan_id], membership.NEW_FANS, cause="write", now=now)
            return load_fan(connection, workspace_id, fan_id)
    except IntegrityError as error:
        raise Conflict(f"a fan with email {data.email} already exists", field="email") from error


def get_fan(database: Database, workspace_id: int, fan_id: int) -> Fan:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return load_fan(connection, workspace_id, fan_id)


def update_fan(database: Database, workspace_id: int, fan_id: int, patch: FanPatch, *, now: datetime) -> Fan:
    changes = patch.model_dump(exclude_unset=True)
    if "lifecycle_stage" in changes and changes["lifecycle_stage"] is None:
        raise InvalidInput("cannot be null", field="lifecycle_stage")
    if "source" in changes and changes["source"] is None:
        raise InvalidInput("cannot be null", field="source")
    if "email" in changes and changes["email"] is None:
        raise InvalidInput("cannot be null", field="email")
    try:
        with database.transaction(workspace_id=workspace_id) as connection:
            row = fans_repo.get_fan_row(connection, workspace_id, fan_id)
            if row is None:
                raise NotFound(f"fan {fan_id} not found")
            if "custom_fields" in changes:
                fields = custom_fields.definitions(connection, workspace_id)
                changes["custom_fields"] = custom_fields.encode_values(
                    fields, changes["custom_fields"] or {}, current=row.custom_fields
                )
            fans_repo.update_fan(connection, workspace_id, fan_id, {**changes, "updated_at": now})
            if "email" in changes and changes["email"] != row.email:
                suppressions.email_changed(connection, workspace_id, fan_id, changes["email"])
            changed = (set(changes) - {"custom_fields"}) | set(patch.custom_fields or {})
            membership.apply_change(
                connection, workspace_id, [fan_id], membership.fields_changed(changed), cause="write", now=now
            )
            return load_fan(connection, workspace_id, fan_id)
    except IntegrityError as error:
        raise Conflict(f"a fan with email {patch.email} already exists", field="email") from error


def delete_fan(
    database: Database, workspace_id: int, fan_id: int, *, now: datetime, actor: Actor | None = None
) -> None:
    """Erase a fan and everything recorded about them (orders, events, tags, list memberships, consent log, the
    stored replies to requests that recorded their orders or events). Their email is suppressed (kept as a hash
    only), so no import or batch brings them back unasked."""
    with database.transaction(workspace_id=workspace_id) as connection:
        row = fans_repo.get_fan_row(connection, workspace_id, fan_id)
        if row is None or not fans_repo.delete_fan(connection, workspace_id, fan_id):
            raise NotFound(f"fan {fan_id} not found")
        idempotency_repo.forget_replies_naming_fan(connection, workspace_id, fan_id)
        suppressions.suppress(connection, workspace_id, row.email, reason="erased", now=now)
        webhooks_repo.record_erasure(connection, workspace_id, fan_id, at=now)
        audit.record(connection, workspace_id, actor, "fan.erased", target=f"fan {fan_id}", now=now)


def select_fans(
    connection: Connection, workspace_id: int, fan_filter: FanFilter, *, now: datetime | None = None
) -> FanSelection | None:
    """The filter with its names resolved; None when a named tag or list does not exist (so nothing can match)."""
    selection = FanSelection(
        fan_filter=fan_filter, segment_id=fan_filter.segment_id, list_status=fan_filter.list_status
    )
    if (
        fan_filter.segment_id is not None
        and segments_repo.get_segment(connection, workspace_id, fan_filter.segment_id) is None
    ):
        raise NotFound(f"segment {fan_filter.segment_id} not found", field="segment_id")
    if fan_filter.rule is not None or fan_filter.rule_text is not None:
        if fan_filter.rule is not None and fan_filter.rule_text is not None:
            raise InvalidInput("give at most one of rule (JSON) or rule_text", field="rule")
        if now is None:
            raise InvalidInput("a rule filter needs the current time", field="rule")
        context = rule_context.load_context(connection, workspace_id)
        rule = context.validate(rule_context.parse_rule_input(fan_filter.rule, fan_filter.rule_text))
        selection = replace(selection, rule=RuleFilter(rule=rule, scope=context.scope, now=now))
    if fan_filter.tag is not None:
        tag_ids = tags_repo.TAGS.ids_by_name(connection, workspace_id, [fan_filter.tag])
        if not tag_ids:
            return None
        selection = replace(selection, tag_id=next(iter(tag_ids.values())))
    if fan_filter.list is not None:
        list_ids = lists_repo.LISTS.ids_by_name(connection, workspace_id, [fan_filter.list])
        if not list_ids:
            return None
        selection = replace(selection, list_id=next(iter(list_ids.values())))
    return selection


def list_fans(
    database: Database,
    workspace_id: int,
    fan_filter: FanFilter,
    *,
    page: int = 1,
    page_size: int = 50,
    now: datetime | None = None,
) -> Page[Fan]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        selection = select_fans(connection, workspace_id, fan_filter, now=now)
        if selection is None:
            return Page[Fan](items=[], total=0, page=page, page_size=page_size)
        items, total = fan_selections.page_fans(connection, workspace_id, selection, page=page, page_size=page_size)
        return Page[Fan](items=present(connection, workspace_id, items), total=total, page=page, page_size=page_size)


# "All N matching" acts on at most this many fans at once (a bulk action in one transaction).
MAX_MATCHING_IDS = 1_000_000


def matching_fan_ids(
    database: Database, workspace_id: int, fan_filter: FanFilter, *, now: datetime | None = None
) -> list[int]:
    """The ids of every fan the filter matches (the dashboard's "all N matching"); refused above
    ``MAX_MATCHING_IDS``."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        selection = select_fans(connection, workspace_id, fan_filter, now=now)
        if selection is None:
            return []
        ids = fan_selections.selected_ids(connection, workspace_id, selection, limit=MAX_MATCHING_IDS + 1)
    if len(ids) > MAX_MATCHING_IDS:
        raise InvalidInput(f"at most {MAX_MATCHING_IDS:,} fans at once; narrow the filter", field="filter")
    return ids


def iterate_fans(
    database: Database, workspace_id: int, fan_filter: FanFilter, *, now: datetime | None = None
) -> Iterator[Fan]:
    """Every matching fan, read in keyset-paginated batches inside one read transaction (a consistent export)."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        selection = select_fans(connection, workspace_id, fan_filter, now=now)
        if selection is None:
            return
        for batch in fan_selections.iterate_fans(connection, workspace_id, selection):
            yield from present(connection, workspace_id, batch)


def fan_orders(database: Database, workspace_id: int, fan_id: int, *, page: int, page_size: int) -> list[Order]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        load_fan(connection, workspace_id, fan_id)
        return activity_repo.orders_of_fan(
            connection, workspace_id, fan_id, limit=page_size, offset=(page - 1) * page_size
        )


def fan_events(database: Database, workspace_id: int, fan_id: int, *, page: int, page_size: int) -> list[Event]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        load_fan(connection, workspace_id, fan_id)
        return activity_repo.events_of_fan(
            connection, workspace_id, fan_id, limit=page_size, offset=(page - 1) * page_size
        )


def fan_list_memberships(database: Database, workspace_id: int, fan_id: int) -> list[ListMembership]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        load_fan(connection, workspace_id, fan_id)
        return lists_repo.memberships_of_fan(connection, workspace_id, fan_id)


def recompute_figures(database: Database, workspace_id: int) -> int:
    """Rebuild every fan's derived figures from scratch, set-based; returns how many fans were rewritten.

    A repair, not a write of fans: it evaluates no segment, so the segments whose rules read the figures are marked
    as needing evaluation (the next refresh evaluates them) when any fan's figures changed."""
    with database.transaction(workspace_id=workspace_id) as connection:
        rewritten = fans_repo.recompute_figures(connection, workspace_id)
        if rewritten:
            context = rule_context.load_context(connection, workspace_id)
            reading = membership.affected_segments(context, membership.ORDERS)
            segments_repo.set_needs_evaluation(connection, workspace_id, reading, needs=True)
        return rewritten


def ensure_fans_by_email(
    connection: Connection,
    workspace_id: int,
    emails: Iterable[str],
    *,
    source: FanSource,
    now: datetime,
    profiles: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[dict[str, int], list[str]]:
    """Ids for the emails, creating a fan for each unknown one (bare, or with the ``profiles`` values given for its
    email: names, country, city). Returns (email → id, the emails created)."""
    wanted = sorted(set(emails))
    found = fans_repo.fan_ids_by_email(connection, workspace_id, wanted)
    missing = [email for email in wanted if email not in found]
    if missing:
        suppressions.refuse_suppressed(connection, workspace_id, missing)
        known = profiles or {}
        columns = sorted({name for email in missing for name in known.get(email, {})})
        rows: list[dict[str, Any]] = [
            {
                "email": email,
                "source": source,
                "custom_fields": {},
                "created_at": now,
                "updated_at": now,
                **{name: known.get(email, {}).get(name) for name in columns},
            }
            for email in missing
        ]
        inserted = fans_repo.insert_absent_fans(connection, workspace_id, rows)
        # Emails a concurrent write created meanwhile are that write's new fans; here they are found ones.
        found.update(inserted)
        found.update(fans_repo.fan_ids_by_email(connection, workspace_id, [e for e in missing if e not in inserted]))
        missing = [email for email in missing if email in inserted]
    return found, missing


def require_fans(connection: Connection, workspace_id: int, fan_ids: Iterable[int], *, field: str = "fan_ids") -> None:
    wanted = set(fan_ids)
    missing = sorted(wanted - fans_repo.existing_fan_ids(connection, workspace_id, wanted))
    if missing:
        shown = ", ".join(str(fan_id) for fan_id in missing[:20])
        raise NotFound(f"no such fan: {shown}{' …' if len(missing) > 20 else ''}", field=field)
