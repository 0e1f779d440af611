"""Test datasets for the rule compiler: fans described in Python, written through the repositories into a fresh
workspace, and the three ways of asking who matches a rule (Python over snapshots, SQLite, PostgreSQL).

A ``FanSpec`` holds values in the core's types (money as ``Decimal`` major units, custom datetimes as aware
datetimes); ``write_dataset`` stores them in their stored forms (cents, fixed-width text) and recomputes the
derived figures, so what the database holds is what the services would have written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import select

from fanbase.core.evaluate import EventSnapshot
from fanbase.core.evaluate import FanSnapshot
from fanbase.core.evaluate import OrderSnapshot
from fanbase.core.evaluate import evaluate
from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldType
from fanbase.core.rules import Rule
from fanbase.core.rules import reference_key
from fanbase.core.text import format_rule
from fanbase.db.engine import Database
from fanbase.db.repositories import activity
from fanbase.db.repositories import bulk
from fanbase.db.repositories import custom_fields as custom_fields_repo
from fanbase.db.repositories import fan_groups
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import rule_evaluation
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.repositories import workspaces
from fanbase.db.rule_sql import ResolvedReferences
from fanbase.db.rule_sql import compile_batch
from fanbase.db.rule_sql import compile_rule
from fanbase.db.rule_sql import compile_rule_for_workspace
from fanbase.db.rule_sql import format_stored_datetime
from fanbase.db.tables import fans
from fanbase.db.tables import lists
from fanbase.db.tables import tags
from fanbase.schemas.custom_fields import CustomFieldIn
from strategies import CATALOGUE
from strategies import CUSTOM_FIELDS
from strategies import LIST_NAMES
from strategies import SEGMENT_NAMES
from strategies import TAG_NAMES

EXTRA_SEGMENT_NAMES = ("Big Spenders",)
# Orders are multi-currency: the workspace records USD, and an order's original currency is any (rules filter on
# it). What the shop charged in EUR or GBP is the USD amount back at these rates.
RATES = {"EUR": Decimal("1.0825"), "GBP": Decimal("1.27")}


def original_cents(amount: Decimal, currency: str) -> int:
    return int((amount * 100 / RATES.get(currency, Decimal(1))).to_integral_value())


@dataclass(frozen=True, kw_only=True)
class OrderSpec:
    amount: Decimal
    placed_at: datetime
    category: str = "merch"
    currency: str = "USD"
    product: str | None = None
    status: str = "completed"


@dataclass(frozen=True, kw_only=True)
class EventSpec:
    type: str
    occurred_at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class FanSpec:
    email: str
    first_name: str | None = None
    last_name: str | None = None
    lifecycle_stage: str = "subscriber"
    source: str = "manual"
    country: str | None = None
    city: str | None = None
    created_at: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    # Values in the core's types; a value of the wrong type is stored as given (to test typed views).
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    lists: Mapping[str, str] = field(default_factory=dict)
    segments: frozenset[str] = frozenset()
    orders: tuple[OrderSpec, ...] = ()
    events: tuple[EventSpec, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """A dataset as written: its workspace, the fans' ids (in spec order) and the references to compile with."""

    workspace_id: int
    fan_ids: tuple[int, ...]
    references: ResolvedReferences
    catalogue: Catalogue


_CUSTOM_TYPES = {spec.name: spec.type for spec in CUSTOM_FIELDS}


def stored_custom_value(name: str, value: Any) -> Any:
    """The stored form the services write (see fanbase.services.custom_fields.encode_value)."""
    field_type = _CUSTOM_TYPES[name]
    if field_type is FieldType.MONEY and isinstance(value, Decimal):
        return int(value * 100)
    if field_type is FieldType.DATETIME and isinstance(value, datetime):
        return format_stored_datetime(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def write_dataset(
    database: Database, specs: Sequence[FanSpec], *, now: datetime, catalogue: Catalogue = CATALOGUE
) -> Dataset:
    """A fresh workspace with the strategies' custom fields, tags, lists and segments, and the given fans."""
    with database.transaction(workspace_id=None) as connection:
        workspace_id = workspaces.insert_workspace(
            connection, name=f"rules {uuid.uuid4().hex[:8]}", currency="USD", now=now
        ).id
        for spec in catalogue.custom_fields:
            custom_fields_repo.insert_custom_field(
                connection,
                workspace_id,
                CustomFieldIn(name=spec.name, type=spec.type.value, choices=spec.choices or None),
                now=now,
            )
        tag_ids = fan_groups.insert_named(connection, tags, workspace_id, list(TAG_NAMES), now=now)
        list_ids = fan_groups.insert_named(connection, lists, workspace_id, list(LIST_NAMES), now=now)
        for name in (*SEGMENT_NAMES, *EXTRA_SEGMENT_NAMES):
            segments_repo.insert_segment(connection, workspace_id, {"name": name, "kind": "static"}, now=now)
        segment_ids = segments_repo.segment_ids_by_name(connection, workspace_id)
        fan_ids = fans_repo.insert_fans(
            connection,
            workspace_id,
            [
                {
                    "email": spec.email,
                    "first_name": spec.first_name,
                    "last_name": spec.last_name,
                    "lifecycle_stage": spec.lifecycle_stage,
                    "source": spec.source,
                    "country": spec.country,
                    "city": spec.city,
                    "custom_fields": {
                        name: stored_custom_value(name, value) for name, value in spec.custom_fields.items()
                    },
                    "created_at": spec.created_at,
                    "updated_at": now,
                }
                for spec in specs
            ],
        )
        pairs = list(zip(fan_ids, specs, strict=True))
        order_rows = [
            {
                "fan_id": fan_id,
                "amount_cents": int(order.amount * 100),
                "currency": "USD",
                # Rules read the workspace-currency amount and the original currency: the original amount is
                # whatever the shop charged at some rate (here one per currency), and no rule reads it.
                "original_amount_cents": original_cents(order.amount, order.currency),
                "original_currency": order.currency,
                "exchange_rate": str(RATES.get(order.currency, 1)),
                "original_refunded_cents": 0,
                "category": order.category,
                "product": order.product,
                "status": order.status,
                "placed_at": order.placed_at,
                "refunded_at": order.placed_at if order.status == "refunded" else None,
                "created_at": now,
            }
            for fan_id, spec in pairs
            for order in spec.orders
        ]
        if order_rows:
            activity.insert_orders(connection, workspace_id, order_rows)
        event_rows = [
            {
                "fan_id": fan_id,
                "type": event.type,
                "properties": dict(event.properties),
                "occurred_at": event.occurred_at,
                "created_at": now,
            }
            for fan_id, spec in pairs
            for event in spec.events
        ]
        if event_rows:
            activity.insert_events(connection, workspace_id, event_rows)
        tag_rows = [
            {"tag_id": tag_ids[reference_key(name)], "fan_id": fan_id, "added_at": now}
            for fan_id, spec in pairs
            for name in spec.tags
        ]
        if tag_rows:
            bulk.insert_tag_links(connection, workspace_id, tag_rows)
        list_rows = [
            {
                "list_id": list_ids[reference_key(name)],
                "fan_id": fan_id,
                "status": status,
                "consent_at": now,
                "consent_source": "test",
                "status_changed_at": now,
            }
            for fan_id, spec in pairs
            for name, status in spec.lists.items()
        ]
        if list_rows:
            bulk.insert_list_members(connection, workspace_id, list_rows)
        for name, segment_id in segment_ids.items():
            members = [fan_id for fan_id, spec in pairs if reference_key(name) in map(reference_key, spec.segments)]
            if members:
                segments_repo.set_members(
                    connection,
                    workspace_id,
                    segment_id,
                    members,
                    are_members=True,
                    cause="manual",
                    rule_version=0,
                    now=now,
                )
        fans_repo.recompute_figures(connection, workspace_id)
    return Dataset(
        workspace_id=workspace_id,
        fan_ids=tuple(fan_ids),
        references=ResolvedReferences(tags=tag_ids, lists=list_ids, segments=segment_ids),
        catalogue=catalogue,
    )


def expected_snapshot(spec: FanSpec) -> FanSnapshot:
    """The snapshot the spec describes, with the derived figures computed here, independently of SQL."""
    completed = [order for order in spec.orders if order.status == "completed"]
    activity_times = [event.occurred_at for event in spec.events] + [order.placed_at for order in spec.orders]
    return FanSnapshot(
        email=spec.email,
        first_name=spec.first_name,
        last_name=spec.last_name,
        lifecycle_stage=spec.lifecycle_stage,
        source=spec.source,
        country=spec.country,
        city=spec.city,
        created_at=spec.created_at,
        total_spent=sum((order.amount for order in completed), Decimal("0.00")),
        purchase_count=len(completed),
        first_purchase_at=min((order.placed_at for order in completed), default=None),
        last_purchase_at=max((order.placed_at for order in completed), default=None),
        last_active_at=max(activity_times, default=None),
        custom_fields=dict(spec.custom_fields),
        tags=spec.tags,
        lists=dict(spec.lists),
        segments=spec.segments,
        orders=tuple(
            OrderSnapshot(
                amount=order.amount,
                currency=order.currency,
                category=order.category,
                product=order.product,
                status=order.status,
                placed_at=order.placed_at,
            )
            for order in sorted(spec.orders, key=lambda order: order.placed_at)
        ),
        events=tuple(
            EventSnapshot(type=event.type, occurred_at=event.occurred_at, properties=dict(event.properties))
            for event in sorted(spec.events, key=lambda event: event.occurred_at)
        ),
    )


def _compile_arguments(connection: Connection, dataset: Dataset, *, now: datetime) -> dict[str, Any]:
    return {
        "workspace_id": dataset.workspace_id,
        "now": now,
        "catalogue": dataset.catalogue,
        "references": dataset.references,
        "dialect": connection.dialect.name,
    }


def per_fan_members(connection: Connection, dataset: Dataset, rule: Rule, *, now: datetime) -> set[int]:
    """The fans the rule selects in the per-fan form (correlated subqueries)."""
    expression = compile_rule(rule, **_compile_arguments(connection, dataset, now=now))
    rows = connection.execute(select(fans.c.id).where(fans.c.workspace_id == dataset.workspace_id, expression))
    return set(rows.scalars())


def set_form_members(connection: Connection, dataset: Dataset, rule: Rule, *, now: datetime) -> set[int]:
    """The fans the rule selects in the set form (derived tables over the workspace)."""
    compiled = compile_rule_for_workspace(rule, **_compile_arguments(connection, dataset, now=now))
    return rule_evaluation.matching_ids(connection, dataset.workspace_id, compiled)


def batch_members(connection: Connection, dataset: Dataset, rule: Rule, *, now: datetime) -> set[int]:
    """The fans the rule selects in the batch form (the write path), asked for every fan and, separately, for every
    other fan — a batch must only answer for the fans it names."""
    arguments = _compile_arguments(connection, dataset, now=now)
    selected: set[int] = set()
    # A name no segment can have (names never hold NUL), so the rule is never inlined as a segment.
    for fan_ids in (dataset.fan_ids[::2], dataset.fan_ids[1::2]):
        if not fan_ids:
            continue
        # Compiled at another moment and aimed at now through its parameters, as the write path does.
        batch = compile_batch({"\x00rule": rule}, **{**arguments, "now": now - timedelta(days=400)})
        rows = connection.execute(batch.statement, batch.parameters(fan_ids, now=now)).all()
        assert {row[0] for row in rows} == set(fan_ids), "a batch answers for exactly the fans it names"
        selected |= {row[0] for row in rows if row[1]}
        assert not any(row[2] for row in rows), "no fan is a stored member of a segment that does not exist"
    return selected


# The compiled forms by name; the first is the one the others are compared with.
FORMS: dict[str, Callable[..., set[int]]] = {
    "per-fan": per_fan_members,
    "set": set_form_members,
    "batch": batch_members,
}


def sql_members(connection: Connection, dataset: Dataset, rule: Rule, *, now: datetime) -> set[int]:
    """The fans the rule selects in SQL; every form of the compiler must select the same ones."""
    results = {name: members(connection, dataset, rule, now=now) for name, members in FORMS.items()}
    expected = results["per-fan"]
    for form, actual in results.items():
        assert actual == expected, (
            f"the {form} form disagrees with the per-fan form on\n  {format_rule(rule)}\n"
            f"  only per-fan: {sorted(expected - actual)}\n  only {form}: {sorted(actual - expected)}"
        )
    return expected


def python_members(
    snapshots: Mapping[int, FanSnapshot], rule: Rule, *, now: datetime, catalogue: Catalogue = CATALOGUE
) -> set[int]:
    return {fan_id for fan_id, snapshot in snapshots.items() if evaluate(rule, snapshot, now=now, catalogue=catalogue)}


def disagreement(rule: Rule, *, backend: str, expected: set[int], actual: set[int], labels: Iterable[str] = ()) -> str:
    return (
        f"{backend} disagrees with the Python evaluator on\n  {format_rule(rule)}\n"
        f"  only Python: {sorted(expected - actual)}\n  only {backend}: {sorted(actual - expected)}"
        + "".join(f"\n  {label}" for label in labels)
    )
