from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy import select

from fanbase.core.evaluate import evaluate
from fanbase.core.rules import parse_rule_json
from fanbase.db.engine import Database
from fanbase.db.repositories import fan_snapshots as fan_snapshots_repo
from fanbase.db.repositories import segments as segments_repo
from fanbase.db.tables import fans as fans_table
from fanbase.db.tables import segment_membership_log
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import InvalidRule
from fanbase.errors import NotFound
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.fans import FanIn
from fanbase.schemas.orders_events import EventIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.segments import SegmentPatch
from fanbase.services import fans
from fanbase.services import membership
from fanbase.services import orders_events
from fanbase.services import previews
from fanbase.services import rule_context
from fanbase.services import segments


def stored_members(database: Database, workspace_id: int, segment_id: int) -> set[int]:
    with database.transaction(workspace_id=None, write=False) as connection:
        return segments_repo.member_ids(connection, workspace_id, segment_id)


def oracle_members(database: Database, workspace_id: int, segment_id: int, *, now: datetime) -> set[int]:
    """Who the Python evaluator says belongs, fan by fan, from each fan's full snapshot."""
    with database.transaction(workspace_id=None, write=False) as connection:
        context = rule_context.load_context(connection, workspace_id)
        fan_snapshots = fan_snapshots_repo.load_snapshots(connection, workspace_id, catalogue=context.catalogue)
    rule = parse_rule_json(context.segment_rows[segment_id].rule)
    return {
        fan_id
        for fan_id, snapshot in fan_snapshots.items()
        if evaluate(rule, snapshot, now=now, catalogue=context.catalogue)
    }


def make_fans(database: Database, workspace_id: int, now: datetime) -> dict[str, int]:
    ids = {}
    for name, stage, tags in [("ada", "customer", ("VIP",)), ("bo", "subscriber", ()), ("cy", "advocate", ("VIP",))]:
        ids[name] = fans.create_fan(
            database, workspace_id, FanIn(email=f"{name}@x.co", lifecycle_stage=stage, tags=tags), now=now
        ).id
    orders_events.record_order(
        database, workspace_id, OrderIn(fan_id=ids["ada"], amount=Decimal("150"), category="merch"), now=now
    )
    orders_events.record_events(
        database,
        workspace_id,
        [EventIn(fan_id=ids["cy"], type="gig_attended", occurred_at=now - timedelta(days=d)) for d in (3, 40)],
        now=now,
    )
    return ids


def test_dynamic_segment_is_built_from_its_rule_and_logged(
    database: Database, workspace_id: int, now: datetime
) -> None:
    ids = make_fans(database, workspace_id, now)
    segment = segments.create_segment(
        database,
        workspace_id,
        SegmentIn(
            name="Buyers or gig-goers", rule_text='total_spent > 100 or count(events where type = "gig_attended") >= 2'
        ),
        now=now,
    )
    assert segment.size == 2
    assert segment.rule_version == 1
    assert segment.rule_text is not None
    assert segment.rule_english is not None and "more than $100" in segment.rule_english
    assert stored_members(database, workspace_id, segment.id) == {ids["ada"], ids["cy"]}
    assert oracle_members(database, workspace_id, segment.id, now=now) == {ids["ada"], ids["cy"]}
    page = segments.members(database, workspace_id, segment.id, page=1, page_size=10)
    assert {fan.email for fan in page.items} == {"ada@x.co", "cy@x.co"}
    assert fans.list_fans(database, workspace_id, FanFilter(segment_id=segment.id)).total == 2


def test_rule_edit_is_versioned_and_applied(database: Database, workspace_id: int, now: datetime) -> None:
    ids = make_fans(database, workspace_id, now)
    segment = segments.create_segment(database, workspace_id, SegmentIn(name="VIPs", rule={"tag": "VIP"}), now=now)
    assert stored_members(database, workspace_id, segment.id) == {ids["ada"], ids["cy"]}
    edited = segments.update_segment(
        database, workspace_id, segment.id, SegmentPatch(rule_text='tag "VIP" and lifecycle_stage = advocate'), now=now
    )
    assert (edited.rule_version, edited.size) == (2, 1)
    assert stored_members(database, workspace_id, segment.id) == {ids["cy"]}


def test_segment_of_segments_follows_its_inputs_and_blocks_deletion(
    database: Database, workspace_id: int, now: datetime
) -> None:
    ids = make_fans(database, workspace_id, now)
    vip = segments.create_segment(database, workspace_id, SegmentIn(name="VIP", rule_text='tag "VIP"'), now=now)
    buyers = segments.create_segment(
        database, workspace_id, SegmentIn(name="Buyers", rule_text="purchase_count > 0"), now=now
    )
    both = segments.create_segment(
        database, workspace_id, SegmentIn(name="VIP Buyers", rule_text='segment "VIP" and segment "Buyers"'), now=now
    )
    assert stored_members(database, workspace_id, both.id) == {ids["ada"]}
    with pytest.raises(Conflict, match="used by: VIP Buyers"):
        segments.delete_segment(database, workspace_id, vip.id)
    # Editing an input segment re-evaluates the segments built on it.
    segments.update_segment(database, workspace_id, buyers.id, SegmentPatch(rule_text="purchase_count >= 0"), now=now)
    assert stored_members(database, workspace_id, both.id) == {ids["ada"], ids["cy"]}
    with pytest.raises(InvalidRule, match="cycle"):
        segments.update_segment(database, workspace_id, vip.id, SegmentPatch(rule_text='segment "VIP Buyers"'), now=now)


def test_static_segment_add_remove_and_by_email(database: Database, workspace_id: int, now: datetime) -> None:
    ids = make_fans(database, workspace_id, now)
    curated = segments.create_segment(database, workspace_id, SegmentIn(name="Press", kind="static"), now=now)
    change = segments.add_fans(database, workspace_id, curated.id, [ids["ada"], ids["bo"]], now=now)
    assert (change.entered, change.size) == (2, 2)
    assert segments.add_fans(database, workspace_id, curated.id, [ids["ada"]], now=now).entered == 0
    assert segments.remove_fans(database, workspace_id, curated.id, [ids["bo"]], now=now).exited == 1
    emails = segments.emails_from_csv(b"email\nCY@x.co\n\nada@x.co\n")
    assert (
        segments.add_fans_by_email(database, workspace_id, curated.id, segments.EmailsIn(emails=emails), now=now).size
        == 2
    )
    with pytest.raises(NotFound, match=r"nobody@x\.co"):
        segments.add_fans_by_email(
            database, workspace_id, curated.id, segments.EmailsIn(emails=("nobody@x.co",)), now=now
        )
    with pytest.raises(InvalidInput, match="line 2"):
        segments.emails_from_csv(b"email\nnot-an-email\n")


def test_preview_counts_each_top_level_condition(database: Database, workspace_id: int, now: datetime) -> None:
    make_fans(database, workspace_id, now)
    result = previews.preview(
        database, workspace_id, RuleIn(rule_text='tag "VIP" and lifecycle_stage in (customer, subscriber)'), now=now
    )
    assert result.count == 1
    assert [fan.email for fan in result.sample] == ["ada@x.co"]
    assert [(item.path, item.count) for item in result.conditions] == [("all[0]", 2), ("all[1]", 2)]
    assert segments.list_segments(database, workspace_id) == []


def test_preview_hints_at_event_types_and_categories_the_workspace_has_not_seen(
    database: Database, workspace_id: int, now: datetime
) -> None:
    make_fans(database, workspace_id, now)
    rule_text = (
        'count(events where type = "gig_atended") >= 1 or count(events where type in ("gig_attended", "festival")) >= 1'
        ' or sum(amount of orders where category = "Merch") > 10 or count(orders where category = "merch") > 0'
    )
    result = previews.preview(database, workspace_id, RuleIn(rule_text=rule_text), now=now)
    assert [(hint.path, hint.message) for hint in result.hints] == [
        (
            "any[0].count.where.value",
            "no event type 'gig_atended' has been recorded yet (did you mean 'gig_attended'?)",
        ),
        ("any[1].count.where.value", "no event type 'festival' has been recorded yet"),
        ("any[2].sum.where.value", "no order category 'Merch' has been recorded yet (did you mean 'merch'?)"),
    ]
    assert result.count == 2  # still a valid rule: the names the data holds match as usual
    known = previews.preview(
        database, workspace_id, RuleIn(rule_text='count(events where type = "gig_attended") >= 1'), now=now
    )
    assert known.hints == []


def test_bad_rules_name_their_path(database: Database, workspace_id: int, now: datetime) -> None:
    with pytest.raises(InvalidRule, match=r"all\[1\]\.count\.where\.field: unknown order field 'colour'"):
        segments.create_segment(
            database,
            workspace_id,
            SegmentIn(
                name="bad",
                rule={
                    "all": [
                        {"field": "total_spent", "op": ">", "value": 1},
                        {
                            "count": {"of": "orders", "where": {"field": "colour", "op": "=", "value": "red"}},
                            "op": ">",
                            "value": 1,
                        },
                    ]
                },
            ),
            now=now,
        )
    with pytest.raises(InvalidRule, match="segment"):
        segments.create_segment(database, workspace_id, SegmentIn(name="bad", rule_text='segment "Nope"'), now=now)


def test_every_template_matches_the_oracle_on_demo_data(database: Database, now: datetime) -> None:
    from fanbase.services import demo

    created = demo.create_demo_workspace(database, now=now, fans=600)
    workspace_id = created.workspace.id
    sizes = {}
    for template in segments.list_templates():
        if template.name in {segment.name for segment in segments.list_segments(database, workspace_id)}:
            continue
        segment = segments.create_from_template(database, workspace_id, template.key, now=now)
        sizes[template.key] = segment.size
    for segment in segments.list_segments(database, workspace_id):
        assert stored_members(database, workspace_id, segment.id) == oracle_members(
            database, workspace_id, segment.id, now=now
        ), segment.name
    empty = [key for key, size in sizes.items() if size == 0]
    assert not empty, f"templates with no members on the demo data: {empty}"


@pytest.mark.parametrize("listed_moves", [membership.LISTED_MOVES, 0], ids=["listed", "set-based"])
def test_refresh_repairs_drift_and_then_writes_nothing(
    database: Database, workspace_id: int, now: datetime, monkeypatch: pytest.MonkeyPatch, listed_moves: int
) -> None:
    """A refresh compares the rule with the stored members once; moves found are written from the list of ids, or
    (past LISTED_MOVES) by set-based statements. Either way the segment ends exact, and a second refresh writes
    nothing."""
    monkeypatch.setattr(membership, "LISTED_MOVES", listed_moves)
    ids = make_fans(database, workspace_id, now)
    segment = segments.create_segment(
        database,
        workspace_id,
        SegmentIn(name="Gig goers", rule_text='count(events where type = "gig_attended") >= 1'),
        now=now,
    )
    assert stored_members(database, workspace_id, segment.id) == {ids["cy"]}
    # Drift that no write of fanbase's can make: a member removed and a stranger added behind its back.
    with database.transaction(workspace_id=None) as connection:
        segments_repo.record_membership_changes(
            connection,
            workspace_id,
            {segment.id: ([ids["bo"]], [ids["cy"]])},
            cause="manual",
            rule_versions={segment.id: 1},
            now=now,
        )
    later = now + timedelta(minutes=1)
    changed = segments.refresh_segment(database, workspace_id, segment.id, now=later)
    assert (changed.entered, changed.exited, changed.size) == (1, 1, 1)
    assert stored_members(database, workspace_id, segment.id) == oracle_members(
        database, workspace_id, segment.id, now=later
    )
    causes = {
        (item.fan_id, item.entered) for item in _ledger(database, workspace_id, segment.id) if item.cause == "refresh"
    }
    assert causes == {(ids["cy"], True), (ids["bo"], False)}
    before = len(_ledger(database, workspace_id, segment.id))
    again = segments.refresh_all(database, workspace_id, now=later)
    assert (again[segment.id].entered, again[segment.id].exited) == (0, 0)
    assert len(_ledger(database, workspace_id, segment.id)) == before


def _ledger(database: Database, workspace_id: int, segment_id: int) -> list[Any]:
    with database.transaction(workspace_id=None, write=False) as connection:
        return list(
            connection.execute(
                select(segment_membership_log).where(
                    segment_membership_log.c.workspace_id == workspace_id,
                    segment_membership_log.c.segment_id == segment_id,
                )
            )
        )


@pytest.mark.parametrize(
    "rule_text", ["lifecycle_stage = advocate", 'count(events where type = "gig_attended" within 10 days) >= 1']
)
def test_a_preview_finds_its_sample_beyond_the_first_fans(
    database: Database, workspace_id: int, now: datetime, monkeypatch: pytest.MonkeyPatch, rule_text: str
) -> None:
    """The sample is first looked for along the first fans; when they hold too few matches it comes from a whole
    evaluation, and is the same: the first matching fans by id."""
    ids = make_fans(database, workspace_id, now)
    monkeypatch.setattr(previews, "SAMPLE_SCAN", 1)
    result = previews.preview(database, workspace_id, RuleIn(rule_text=rule_text), now=now)
    assert result.count == 1
    assert [fan.id for fan in result.sample] == [ids["cy"]]


def test_creating_and_editing_a_segment_reads_the_rule_context_once(
    database: Database, workspace_id: int, now: datetime
) -> None:
    """The validated rule is passed forward: one read of the workspace's rule context per use case (the catalogue
    of custom fields is read once per context), not one for validation, one for the build and one to present."""
    make_fans(database, workspace_id, now)
    catalogue_reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM custom_fields" in statement:
            catalogue_reads.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        created = segments.create_segment(
            database, workspace_id, SegmentIn(name="Buyers", rule_text="total_spent > 100"), now=now
        )
        assert len(catalogue_reads) == 1
        catalogue_reads.clear()
        edited = segments.update_segment(
            database, workspace_id, created.id, SegmentPatch(rule_text="total_spent > 10"), now=now
        )
        assert len(catalogue_reads) == 1
        catalogue_reads.clear()
        segments.create_from_template(database, workspace_id, "high-value-active", now=now)
        assert len(catalogue_reads) == 1
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert (created.size, edited.size, edited.rule_version) == (1, 1, 2)
    assert stored_members(database, workspace_id, created.id) == oracle_members(
        database, workspace_id, created.id, now=now
    )


def test_refresh_evaluates_only_what_needs_it_and_a_full_one_repairs_drift(
    database: Database, workspace_id: int, now: datetime
) -> None:
    """Not marked ⇒ equal to its rule: writes keep segments exact, a figures recompute (which evaluates nothing)
    marks the segments reading figures, and a refresh evaluates just those."""
    ids = make_fans(database, workspace_id, now)
    buyers = segments.create_segment(
        database, workspace_id, SegmentIn(name="Buyers", rule_text="total_spent > 100"), now=now
    )
    vips = segments.create_segment(database, workspace_id, SegmentIn(name="VIPs", rule_text='tag "VIP"'), now=now)
    both = segments.create_segment(
        database, workspace_id, SegmentIn(name="Both", rule_text='segment "Buyers" and segment "VIPs"'), now=now
    )
    ledger_rows = sum(len(_ledger(database, workspace_id, segment.id)) for segment in (buyers, vips, both))

    # Nothing marked: nothing is evaluated, nothing is written.
    later = now + timedelta(minutes=1)
    changes = segments.refresh_all(database, workspace_id, now=later)
    assert {segment_id: (change.entered, change.exited) for segment_id, change in changes.items()} == {
        buyers.id: (0, 0),
        vips.id: (0, 0),
        both.id: (0, 0),
    }
    assert sum(len(_ledger(database, workspace_id, segment.id)) for segment in (buyers, vips, both)) == ledger_rows
    assert segments.get_segment(database, workspace_id, buyers.id).last_evaluated_at == now  # not re-evaluated

    # A write that bypasses live evaluation: figures zeroed behind fanbase's back, then recomputed from the orders.
    with database.transaction(workspace_id=None) as connection:
        connection.execute(fans_table.update().where(fans_table.c.id == ids["ada"]).values(total_spent_cents=0))
    with database.transaction(workspace_id=None) as connection:
        segments_repo.record_membership_changes(
            connection,
            workspace_id,
            {buyers.id: ([], [ids["ada"]])},
            cause="manual",
            rule_versions={buyers.id: 1},
            now=now,
        )
    fans.recompute_figures(database, workspace_id)
    changes = segments.refresh_all(database, workspace_id, now=later)
    assert (changes[buyers.id].entered, changes[buyers.id].exited) == (1, 0)
    assert (changes[vips.id].entered, changes[vips.id].exited) == (0, 0)
    for segment in (buyers, vips, both):
        assert stored_members(database, workspace_id, segment.id) == oracle_members(
            database, workspace_id, segment.id, now=later
        )

    # Drift from outside fanbase that nothing marks: only a full refresh (or verify) sees it.
    with database.transaction(workspace_id=None) as connection:
        segments_repo.record_membership_changes(
            connection, workspace_id, {vips.id: ([ids["bo"]], [])}, cause="manual", rule_versions={vips.id: 1}, now=now
        )
    assert segments.refresh_all(database, workspace_id, now=later)[vips.id].exited == 0
    full = segments.refresh_all(database, workspace_id, now=later, is_full=True)
    assert (full[vips.id].entered, full[vips.id].exited) == (0, 1)
    assert all(drift.is_exact for drift in segments.verify(database, workspace_id, now=later))
