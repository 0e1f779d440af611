from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import select

from fanbase.db.engine import Database
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.tables import custom_fields
from fanbase.db.tables import events
from fanbase.db.tables import fan_tags
from fanbase.db.tables import fans
from fanbase.db.tables import list_members
from fanbase.db.tables import lists
from fanbase.db.tables import orders
from fanbase.db.tables import tags
from fanbase.errors import InvalidInput
from fanbase.services import demo
from fanbase.services import messages
from fanbase.services import segments
from tests_support import deliver_mail


def _count(connection: Connection, statement: Any) -> int:
    return int(connection.execute(select(func.count()).select_from(statement.subquery())).scalar_one())


def _fans_where(workspace_id: int, *conditions: Any) -> Any:
    return select(fans.c.id).where(fans.c.workspace_id == workspace_id, *conditions)


def _gig_goers(workspace_id: int, at_least: int) -> Any:
    return (
        select(events.c.fan_id)
        .where(events.c.workspace_id == workspace_id, events.c.type == "gig_attended")
        .group_by(events.c.fan_id)
        .having(func.count() >= at_least)
    )


def _template_sizes(connection: Connection, workspace_id: int, now: datetime) -> dict[str, int]:
    """The segment templates of the guides, written directly in SQL (the rule compiler is not needed here)."""
    merch_over_100 = (
        select(orders.c.fan_id)
        .where(orders.c.workspace_id == workspace_id, orders.c.category == "merch", orders.c.status == "completed")
        .group_by(orders.c.fan_id)
        .having(func.sum(orders.c.amount_cents) > 10_000)
    )
    recent_events = (
        select(events.c.fan_id)
        .where(events.c.workspace_id == workspace_id, events.c.occurred_at >= now - timedelta(days=30))
        .group_by(events.c.fan_id)
        .having(func.count() >= 3)
    )
    return {
        "customers": _count(connection, _fans_where(workspace_id, fans.c.lifecycle_stage == "customer")),
        "advocates": _count(connection, _fans_where(workspace_id, fans.c.lifecycle_stage == "advocate")),
        "spent > $50": _count(connection, _fans_where(workspace_id, fans.c.total_spent_cents > 5_000)),
        "spent > $100": _count(connection, _fans_where(workspace_id, fans.c.total_spent_cents > 10_000)),
        "high spenders (> $500)": _count(connection, _fans_where(workspace_id, fans.c.total_spent_cents > 50_000)),
        "purchases > 0": _count(connection, _fans_where(workspace_id, fans.c.purchase_count > 0)),
        "purchases > 5": _count(connection, _fans_where(workspace_id, fans.c.purchase_count > 5)),
        "repeat buyers": _count(connection, _fans_where(workspace_id, fans.c.purchase_count >= 2)),
        "source subscription": _count(connection, _fans_where(workspace_id, fans.c.source == "subscription")),
        "source direct_purchase": _count(connection, _fans_where(workspace_id, fans.c.source == "direct_purchase")),
        "inactive 30 days": _count(
            connection, _fans_where(workspace_id, fans.c.last_active_at < now - timedelta(days=30))
        ),
        "active 7 days": _count(
            connection, _fans_where(workspace_id, fans.c.last_active_at >= now - timedelta(days=7))
        ),
        "engaged (3+ events in 30 days)": _count(connection, recent_events),
        "attended 2+ gigs": _count(connection, _gig_goers(workspace_id, 2)),
        "course completers": _count(
            connection,
            select(events.c.fan_id)
            .where(events.c.workspace_id == workspace_id, events.c.type == "course_completed")
            .distinct(),
        ),
        "merch > $100 and 2+ gigs": _count(
            connection,
            select(fans.c.id).where(
                fans.c.workspace_id == workspace_id,
                fans.c.id.in_(merch_over_100),
                fans.c.id.in_(_gig_goers(workspace_id, 2)),
            ),
        ),
    }


def _fingerprint(connection: Connection, workspace_id: int) -> dict[str, Any]:
    def total(statement: Any) -> Any:
        return connection.execute(statement).scalar_one()

    return {
        "fans": total(select(func.count()).where(fans.c.workspace_id == workspace_id)),
        "spent": int(total(select(func.sum(fans.c.total_spent_cents)).where(fans.c.workspace_id == workspace_id))),
        "orders": total(select(func.count()).where(orders.c.workspace_id == workspace_id)),
        "order cents": int(total(select(func.sum(orders.c.amount_cents)).where(orders.c.workspace_id == workspace_id))),
        "events": total(select(func.count()).where(events.c.workspace_id == workspace_id)),
        "tag links": total(select(func.count()).where(fan_tags.c.workspace_id == workspace_id)),
        "memberships": sorted(
            connection.execute(
                select(lists.c.name, list_members.c.status, func.count())
                .join(
                    lists,
                    and_(lists.c.workspace_id == list_members.c.workspace_id, lists.c.id == list_members.c.list_id),
                )
                .where(list_members.c.workspace_id == workspace_id)
                .group_by(lists.c.name, list_members.c.status)
            ).all()
        ),
        "emails": connection.execute(
            select(fans.c.email).where(fans.c.workspace_id == workspace_id).order_by(fans.c.id).limit(20)
        )
        .scalars()
        .all(),
    }


def test_demo_workspace_is_realistic_deterministic_and_exact(database: Database, now: datetime) -> None:
    # How long it takes is measured in bench/, never asserted here.
    first = demo.create_demo_workspace(database, now=now, fans=3000)
    assert first.workspace.name == demo.DEMO_WORKSPACE_NAME and first.api_key.key
    one = first.workspace.id
    if database.dialect == "sqlite":  # determinism: the same seed and `now` give the same data (once is enough)
        two = demo.create_demo_workspace(database, now=now, fans=3000).workspace.id
        with database.transaction(workspace_id=None) as connection:
            assert _fingerprint(connection, one) == _fingerprint(connection, two)

    with database.transaction(workspace_id=None) as connection:
        sizes = _template_sizes(connection, one, now)
        total = _fingerprint(connection, one)["fans"]
        assert total == 3000
        for name, size in sizes.items():
            assert 0 < size < total, (name, size)
        assert sizes["merch > $100 and 2+ gigs"] >= 30
        assert sizes["active 7 days"] >= 100 and sizes["inactive 30 days"] >= 1000

        tag_names = set(connection.execute(select(tags.c.name).where(tags.c.workspace_id == one)).scalars())
        assert {"VIP", "Ticket Buyer", "Press Contact", "Exclusive Content Member"} <= tag_names and len(
            tag_names
        ) == 11
        statuses = {row[1] for row in _fingerprint(connection, one)["memberships"]}
        assert statuses == {"subscribed", "unsubscribed", "bounced"}
        field_names = set(
            connection.execute(select(custom_fields.c.name).where(custom_fields.c.workspace_id == one)).scalars()
        )
        assert field_names == {"tshirt_size", "favourite_album", "newsletter_opt_in", "birthday"}

        # The derived figures are exactly what a full recompute gives.
        stored = fans_repo.derived_figures(connection, one)
        fans_repo.recompute_figures(connection, one)
        assert fans_repo.derived_figures(connection, one) == stored
        # Nothing is in the future.
        latest = connection.execute(select(func.max(events.c.occurred_at)).where(events.c.workspace_id == one))
        assert latest.scalar_one() <= now


def test_demo_size_is_bounded(database: Database, now: datetime) -> None:
    with pytest.raises(InvalidInput):
        demo.create_demo_workspace(database, now=now, fans=0)
    small = demo.create_demo_workspace(database, now=now, fans=20, seed=1)
    with database.transaction(workspace_id=None) as connection:
        assert _fingerprint(connection, small.workspace.id)["fans"] == 20


def test_the_demo_message_goes_to_the_outbox(database: Database, now: datetime) -> None:
    """`make run` shows a sent message in the outbox: the tour announcement to engaged newsletter subscribers."""
    workspace_id = demo.create_demo_workspace(database, now=now, fans=300).workspace.id
    for template in segments.list_templates():
        segments.create_from_template(database, workspace_id, template.key, now=now)
    sent = demo.create_demo_message(database, workspace_id, now=now)
    assert sent is not None and sent.status == "sending"
    audience = messages.audience(database, workspace_id, sent.id)
    assert 0 < sent.recipients < audience.total  # some engaged fans did not subscribe to the newsletter
    deliver_mail(database, workspace_id, now)
    box = messages.outbox(database, workspace_id, message_id=sent.id, page=1, page_size=5)
    assert box.total == sent.recipients
    assert "we're going on tour" in box.items[0].subject
    assert messages.get_message(database, workspace_id, sent.id).status == "sent"
