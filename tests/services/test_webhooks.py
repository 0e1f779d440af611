"""Webhooks end to end on both backends: writes through the services enqueue in their own transaction, a real
receiver on 127.0.0.1 gets each event exactly once after dedupe, signed, with retries on backoff.

The delivery worker serves every workspace of the shared test database, so each test disables its webhooks when
it ends (``hooks`` fixture) and every receiver path carries a token of its own.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from random import Random
from typing import Any

import httpx
import pytest

from fanbase.db.engine import Database
from fanbase.db.repositories import tags as tags_repo
from fanbase.db.repositories import webhooks as webhooks_repo
from fanbase.errors import InvalidInput
from fanbase.jobs.webhooks import DeliveryWorker
from fanbase.jobs.webhooks import deliver_due
from fanbase.schemas.fans import FanIn
from fanbase.schemas.lists import ListIn
from fanbase.schemas.lists import SubscriptionIn
from fanbase.schemas.orders_events import OrderIn
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.tags import TagIn
from fanbase.schemas.webhooks import WEBHOOK_EVENTS
from fanbase.schemas.webhooks import Delivery
from fanbase.schemas.webhooks import WebhookCreated
from fanbase.schemas.webhooks import WebhookIn
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import orders_events
from fanbase.services import segments
from fanbase.services import tags
from fanbase.services import webhooks
from fanbase.services import workspaces
from webhook_receiver import running_receiver


class Hooks:
    """Creates webhooks in the test's workspace and disables them all at the end."""

    def __init__(self, database: Database, workspace_id: int, now: datetime) -> None:
        self.database, self.workspace_id, self.now = database, workspace_id, now

    def create(self, url: str, events: tuple[str, ...] = WEBHOOK_EVENTS) -> WebhookCreated:
        return webhooks.create_webhook(
            self.database,
            self.workspace_id,
            WebhookIn.model_validate({"url": url, "events": events}),
            now=self.now,
            allow_private_targets=True,
        )

    def deliveries(self, webhook_id: int) -> list[Delivery]:
        return webhooks.list_deliveries(self.database, self.workspace_id, webhook_id, page=1, page_size=500).items

    def unfinished(self) -> int:
        return sum(
            delivery.status in ("pending", "retrying")
            for hook in webhooks.list_webhooks(self.database, self.workspace_id)
            if hook.disabled_at is None
            for delivery in self.deliveries(hook.id)
        )

    def disable_all(self) -> None:
        for hook in webhooks.list_webhooks(self.database, self.workspace_id):
            webhooks.disable_webhook(self.database, self.workspace_id, hook.id, now=self.now)


@pytest.fixture
def hooks(database: Database, workspace_id: int, now: datetime) -> Iterator[Hooks]:
    helper = Hooks(database, workspace_id, now)
    yield helper
    helper.disable_all()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


def token() -> str:
    return uuid.uuid4().hex[:10]


def drain(
    database: Database, hooks: Hooks, client: httpx.Client, *, start: datetime, step: timedelta, rounds: int = 20
) -> datetime:
    """Run delivery rounds with an advancing clock until the workspace has nothing left to send."""
    now = start
    for _ in range(rounds):
        deliver_due(database, now=now, client=client, allow_private_targets=True, workspace_id=hooks.workspace_id)
        if not hooks.unfinished():
            return now
        now += step
    raise AssertionError(f"deliveries still unfinished after {rounds} rounds")


def test_receiver_gets_each_event_once_after_retries_signed(
    database: Database, workspace_id: int, now: datetime, hooks: Hooks, client: httpx.Client
) -> None:
    segment = segments.create_segment(
        database, workspace_id, SegmentIn(name="Spent > $100", rule_text="total_spent > 100"), now=now
    )
    tag = tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
    fan_list = lists.create_list(database, workspace_id, ListIn(name="Fan Club"), now=now)
    path, other_path = f"/a/{token()}", f"/b/{token()}"
    with running_receiver(failures=1) as receiver:
        hook = hooks.create(receiver.url(path))
        other = hooks.create(receiver.url(other_path))
        at = iter(now + timedelta(seconds=second) for second in range(1, 100))
        fan = fans.create_fan(database, workspace_id, FanIn(email="ada@example.com"), now=next(at))
        order = orders_events.record_order(
            database, workspace_id, OrderIn(fan_id=fan.id, amount=Decimal("150"), category="merch"), now=next(at)
        ).body
        tags.tag_fans(database, workspace_id, tag.id, [fan.id], now=next(at))
        for status in ("subscribed", "unsubscribed", "bounced"):
            subscription = SubscriptionIn(fan_ids=(fan.id,), status=status)  # type: ignore[arg-type]
            lists.set_subscription(database, workspace_id, fan_list.id, subscription, now=next(at))
        tags.untag_fans(database, workspace_id, tag.id, [fan.id], now=next(at))
        orders_events.refund_order(database, workspace_id, order["id"], now=next(at))
        # Rows were queued for the other webhook too; disabling it stops them.
        assert len(hooks.deliveries(other.id)) == 6
        webhooks.disable_webhook(database, workspace_id, other.id, now=next(at))

        start = now + timedelta(minutes=1)
        drain(database, hooks, client, start=start, step=timedelta(seconds=10))
        raw = receiver.at(path)
        assert receiver.at(other_path) == []

    # Exactly once after dedupe by id, at least once raw: each event failed once (500) and was retried.
    by_id: dict[str, list[Any]] = {}
    for item in raw:
        by_id.setdefault(item.event_id, []).append(item)
    types = sorted(items[-1].payload["type"] for items in by_id.values())
    assert types == sorted(
        ["segment.entered", "segment.exited", "tag.added", "tag.removed", "list.subscribed", "list.unsubscribed"]
    )
    assert all([item.status for item in items] == [500, 200] for items in by_id.values())
    # Every signature verifies, the id header matches the body, and retries back off (first retry after 10 s).
    for items in by_id.values():
        for item in items:
            timestamp = item.headers["fanbase-webhook-timestamp"]
            sent_at = datetime.fromtimestamp(int(timestamp), UTC)
            assert webhooks.verify_signature(
                hook.secret, timestamp, item.body, item.headers["fanbase-webhook-signature"], now=sent_at
            )
            assert item.payload["id"] == item.event_id
        first, second = (int(item.headers["fanbase-webhook-timestamp"]) for item in items)
        assert second - first == 10
        assert items[0].body == items[1].body  # the same event, the same id, on every retry

    payloads = {items[-1].payload["type"]: items[-1].payload for items in by_id.values()}
    entered = payloads["segment.entered"]
    assert entered["workspace_id"] == workspace_id
    assert entered["id"].startswith("segment-")
    assert entered["occurred_at"] == (now + timedelta(seconds=2)).isoformat()
    assert entered["data"] == {
        "fan": {"id": fan.id, "email": "ada@example.com"},
        "segment": {"id": segment.id, "name": "Spent > $100"},
        "cause": "write",
        "rule_version": 1,
    }
    assert payloads["segment.exited"]["data"]["cause"] == "write"
    assert payloads["tag.removed"]["data"] == {
        "fan": {"id": fan.id, "email": "ada@example.com"},
        "tag": {"id": tag.id, "name": "VIP"},
    }
    assert payloads["list.unsubscribed"]["data"]["list"] == {"id": fan_list.id, "name": "Fan Club"}
    assert payloads["list.unsubscribed"]["data"]["status"] == "unsubscribed"

    deliveries = hooks.deliveries(hook.id)
    assert {(d.status, d.attempts, d.last_error) for d in deliveries} == {("delivered", 2, None)}
    assert {d.event_id for d in deliveries} == set(by_id)
    assert {d.status for d in hooks.deliveries(other.id)} == {"pending"}


def test_backoff_then_give_up(
    database: Database, workspace_id: int, now: datetime, hooks: Hooks, client: httpx.Client
) -> None:
    tag = tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
    fan = fans.create_fan(database, workspace_id, FanIn(email="bo@example.com"), now=now)
    path = f"/down/{token()}"
    with running_receiver(always_fail=frozenset({path})) as receiver:
        hook = hooks.create(receiver.url(path), ("tag.added",))
        tags.tag_fans(database, workspace_id, tag.id, [fan.id], now=now)
        due = now
        delays = []
        for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
            # A second early, nothing is sent; on time, exactly one attempt.
            deliver_due(
                database,
                now=due - timedelta(seconds=1),
                client=client,
                allow_private_targets=True,
                workspace_id=workspace_id,
            )
            assert len(receiver.at(path)) == attempt - 1
            deliver_due(database, now=due, client=client, allow_private_targets=True, workspace_id=workspace_id)
            assert len(receiver.at(path)) == attempt
            (delivery,) = hooks.deliveries(hook.id)
            assert delivery.attempts == attempt
            if attempt < webhooks.MAX_ATTEMPTS:
                assert delivery.status == "retrying" and delivery.last_error == "HTTP 500"
                assert delivery.next_attempt_at is not None
                delays.append((delivery.next_attempt_at - due).total_seconds())
                due = delivery.next_attempt_at
        assert delays == [10, 30, 90, 270, 810, 2430, 3600, 3600, 3600, 3600, 3600]
        assert delivery.status == "gave_up" and delivery.next_attempt_at is None and delivery.delivered_at is None
        assert delivery.last_error is not None and delivery.last_error.startswith("gave up after 12 attempts")
        deliver_due(
            database,
            now=due + timedelta(days=365),
            client=client,
            allow_private_targets=True,
            workspace_id=workspace_id,
        )
        assert len(receiver.at(path)) == webhooks.MAX_ATTEMPTS


def test_erased_fan_events_are_skipped_and_private_targets_rechecked_at_send(
    database: Database, workspace_id: int, now: datetime, hooks: Hooks, client: httpx.Client
) -> None:
    tag = tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
    ada = fans.create_fan(database, workspace_id, FanIn(email="ada@example.com"), now=now)
    bo = fans.create_fan(database, workspace_id, FanIn(email="bo@example.com"), now=now)
    path = f"/skip/{token()}"
    with running_receiver() as receiver:
        hook = hooks.create(receiver.url(path), ("tag.added",))
        tags.tag_fans(database, workspace_id, tag.id, [ada.id], now=now)
        fans.delete_fan(database, workspace_id, ada.id, now=now)
        deliver_due(database, now=now, client=client, allow_private_targets=True, workspace_id=hooks.workspace_id)
        (skipped,) = hooks.deliveries(hook.id)
        assert (skipped.status, skipped.last_error, skipped.attempts) == ("skipped", "source erased", 0)

        # On SQLite the next ledger row takes the erased row's id again: it is a new event all the same.
        later = now + timedelta(seconds=1)
        tags.tag_fans(database, workspace_id, tag.id, [bo.id], now=later)
        # Created while private targets were allowed; a worker that refuses them does not send (DNS rebinding
        # is checked again at send time), and counts a failed attempt.
        deliver_due(database, now=later, client=client, allow_private_targets=False, workspace_id=workspace_id)
        refused = hooks.deliveries(hook.id)[0]
        assert refused.status == "retrying" and refused.last_error is not None
        assert refused.last_error.startswith("target refused: refused: 127.0.0.1")
        assert receiver.at(path) == []
        deliver_due(
            database,
            now=later + timedelta(seconds=10),
            client=client,
            allow_private_targets=True,
            workspace_id=workspace_id,
        )
        (received,) = receiver.at(path)
        assert received.payload["data"]["fan"] == {"id": bo.id, "email": "bo@example.com"}
        assert received.payload["occurred_at"] == later.isoformat()


def test_an_erasure_is_sent_as_fan_erased_naming_the_fan_by_id_only(
    database: Database, workspace_id: int, now: datetime, hooks: Hooks, client: httpx.Client
) -> None:
    ada = fans.create_fan(database, workspace_id, FanIn(email="erased.ada@example.com"), now=now)
    path = f"/erased/{token()}"
    with running_receiver() as receiver:
        hook = hooks.create(receiver.url(path), ("fan.erased",))
        fans.delete_fan(database, workspace_id, ada.id, now=now)
        deliver_due(database, now=now, client=client, allow_private_targets=True, workspace_id=hooks.workspace_id)
        (received,) = receiver.at(path)
        assert received.payload["type"] == "fan.erased"
        assert received.payload["data"] == {"fan": {"id": ada.id}}  # no email: nothing else about them is kept
        assert received.payload["id"].startswith("fan-") and received.payload["occurred_at"] == now.isoformat()
        (delivered,) = hooks.deliveries(hook.id)
        assert delivered.status == "delivered"


def test_rolled_back_writes_enqueue_nothing_and_enqueueing_is_idempotent(
    database: Database, workspace_id: int, now: datetime, hooks: Hooks
) -> None:
    tag = tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
    fan = fans.create_fan(database, workspace_id, FanIn(email="ada@example.com"), now=now)
    segments.create_segment(database, workspace_id, SegmentIn(name="Big", rule_text="total_spent > 100"), now=now)
    hook = hooks.create("http://127.0.0.1:9/never")

    # A batch that fails validation (the second order's currency) writes nothing, so queues nothing.
    with pytest.raises(InvalidInput):
        orders_events.record_orders(
            database,
            workspace_id,
            [
                OrderIn(fan_id=fan.id, amount=Decimal("500"), category="merch"),
                OrderIn(fan_id=fan.id, amount=Decimal("1"), category="merch", currency="EUR"),
            ],
            now=now,
        )

    # A transaction that wrote ledger rows (and so queued them) and then failed leaves no outbox rows.
    def tag_then_fail() -> None:
        with database.transaction(workspace_id=None) as connection:
            tags_repo.link_tags(connection, workspace_id, [(tag.id, fan.id)], now=now)
            webhooks.queue_tag_events(connection, workspace_id, [tag.id], at=now)  # as the tags service does
            assert webhooks_repo.count_deliveries(connection, workspace_id, hook.id) == 1
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        tag_then_fail()
    assert hooks.deliveries(hook.id) == []

    # Enqueueing again for the same instant queues nothing twice.
    with database.transaction(workspace_id=None) as connection:
        tags_repo.link_tags(connection, workspace_id, [(tag.id, fan.id)], now=now)
        webhooks.queue_tag_events(connection, workspace_id, [tag.id], at=now)
        assert webhooks_repo.enqueue_changes(connection, workspace_id, "tag", at=now) == 0
        assert webhooks_repo.enqueue_changes(connection, workspace_id, "tag", at=[now], object_ids=[tag.id]) == 0
    assert len(hooks.deliveries(hook.id)) == 1


def test_nothing_is_queued_without_a_subscription_wanting_the_event(
    database: Database, workspace_id: int, now: datetime, hooks: Hooks
) -> None:
    tag = tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
    fan = fans.create_fan(database, workspace_id, FanIn(email="ada@example.com"), now=now)
    lists_only = hooks.create("http://127.0.0.1:9/lists", ("list.subscribed",))
    disabled = hooks.create("http://127.0.0.1:9/disabled")
    webhooks.disable_webhook(database, workspace_id, disabled.id, now=now)
    tags.tag_fans(database, workspace_id, tag.id, [fan.id], now=now)
    assert hooks.deliveries(lists_only.id) == []
    assert hooks.deliveries(disabled.id) == []


def test_two_concurrent_workers_never_send_a_row_twice(
    database: Database, workspace_id: int, now: datetime, hooks: Hooks
) -> None:
    tag = tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
    fan_ids = [
        fans.create_fan(database, workspace_id, FanIn(email=f"fan{index}@example.com"), now=now).id
        for index in range(30)
    ]
    path = f"/race/{token()}"
    with running_receiver(delay=0.005) as receiver:
        hooks.create(receiver.url(path), ("tag.added",))
        tags.tag_fans(database, workspace_id, tag.id, fan_ids, now=now)
        barrier = threading.Barrier(2)
        claimed: dict[int, list[int]] = {0: [], 1: []}

        def worker(number: int) -> None:
            with httpx.Client() as http:
                barrier.wait()
                while report := deliver_due(
                    database, now=now, client=http, limit=4, allow_private_targets=True, workspace_id=workspace_id
                ):
                    if not report.claimed:
                        break
                    claimed[number].append(report.claimed)

        threads = [threading.Thread(target=worker, args=(number,)) for number in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        counts = Counter(item.event_id for item in receiver.at(path))
    assert len(counts) == 30
    assert set(counts.values()) == {1}, counts.most_common(3)
    assert sum(claimed[0]) + sum(claimed[1]) == 30
    assert claimed[0] and claimed[1], "both workers should have had work"


@pytest.mark.postgres
def test_postgresql_claims_skip_rows_locked_by_another_worker(postgres_database: Database, now: datetime) -> None:
    database = postgres_database
    workspace_id = workspaces.create_workspace(database, name=f"skip {token()}", now=now).workspace.id
    hooks = Hooks(database, workspace_id, now)
    try:
        tag = tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
        fan_ids = [
            fans.create_fan(database, workspace_id, FanIn(email=f"f{index}@example.com"), now=now).id
            for index in range(4)
        ]
        hooks.create("http://127.0.0.1:9/locked", ("tag.added",))
        tags.tag_fans(database, workspace_id, tag.id, fan_ids, now=now)
        with database.transaction(workspace_id=None) as holding:
            held = webhooks_repo.claim_due(holding, now=now, limit=2, lease_until=now + timedelta(minutes=1))
            assert len(held) == 2
            # Another worker, meanwhile: it neither waits for the locked rows nor sees them.
            with database.engine.connect() as other, other.begin():
                other.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                taken = webhooks_repo.claim_due(other, now=now, limit=100, lease_until=now + timedelta(minutes=1))
            mine = {row.id for row in held}
            theirs = {row.id for row in taken if row.workspace_id == workspace_id}
            assert len(theirs) == 2 and not mine & theirs
    finally:
        hooks.disable_all()
    assert hooks.unfinished() == 0


def test_delivery_worker_starts_and_stops(database: Database, workspace_id: int, now: datetime, hooks: Hooks) -> None:
    tag = tags.create_tag(database, workspace_id, TagIn(name="VIP"), now=now)
    fan = fans.create_fan(database, workspace_id, FanIn(email="ada@example.com"), now=now)
    path = f"/worker/{token()}"
    with running_receiver() as receiver:
        hooks.create(receiver.url(path), ("tag.added",))
        tags.tag_fans(database, workspace_id, tag.id, [fan.id], now=now)
        worker = DeliveryWorker(database, clock=lambda: now, interval=0.02, allow_private_targets=True).start()
        try:
            for _ in range(250):
                if receiver.at(path):
                    break
                threading.Event().wait(0.02)
        finally:
            worker.stop(timeout=10)
        assert not worker.is_running
        assert len(receiver.at(path)) == 1


# --- pure parts: targets, signatures, backoff (no database) ---------------------------------------------------


def resolver(*addresses: str) -> Any:
    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    return resolve


def refusal(url: str, *addresses: str) -> str | None:
    """The field named by the refusal, or None when the target is accepted."""
    try:
        webhooks.check_target(url, allow_private=False, resolve=resolver(*addresses))
    except InvalidInput as error:
        return error.field
    return None


def test_private_loopback_link_local_and_other_non_public_targets_are_refused() -> None:
    for address in (
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "100.64.0.1",
        "::1",
        "fc00::1",
        "fd12::1",
        "fe80::1%eth0",
        "::ffff:127.0.0.1",
        "ff02::1",
        "::",
    ):
        assert refusal("https://hooks.example.com/x", address) == "url", address
    # Every address is checked: one private answer among public ones is enough to refuse.
    assert refusal("https://hooks.example.com/x", "93.184.215.14", "10.0.0.1") == "url"
    assert refusal("https://hooks.example.com/x", "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c") is None


def test_a_checked_target_is_pinned_to_the_address_checked() -> None:
    target = webhooks.check_target(
        "https://hooks.example.com:8443/in?x=1", allow_private=False, resolve=resolver("93.184.215.14")
    )
    assert target == webhooks.Target(
        url="https://93.184.215.14:8443/in?x=1", host="hooks.example.com:8443", server_name="hooks.example.com"
    )
    v6 = webhooks.check_target("http://hooks.example.com/in", allow_private=False, resolve=resolver("2606:2800::1"))
    assert v6.url == "http://[2606:2800::1]/in"
    literal = webhooks.check_target("http://93.184.215.14/in", allow_private=False, resolve=resolver("93.184.215.14"))
    assert literal == webhooks.Target(url="http://93.184.215.14/in")

    def broken(*_: Any, **__: Any) -> Any:
        raise socket.gaierror("Name or service not known")

    with pytest.raises(InvalidInput, match="does not resolve"):
        webhooks.check_target("http://nowhere.invalid/", allow_private=False, resolve=broken)
    # Allowed: nothing is resolved, the URL is used as given.
    assert (
        webhooks.check_target("http://127.0.0.1:1/x", allow_private=True, resolve=broken).url == "http://127.0.0.1:1/x"
    )


def test_signatures_verify_only_unchanged_and_recent() -> None:
    sent_at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    timestamp = int(sent_at.timestamp())
    body = b'{"id":"tag-1"}'
    signature = webhooks.sign("s3cret", timestamp, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert webhooks.verify_signature("s3cret", str(timestamp), body, signature, now=sent_at + timedelta(seconds=299))
    assert webhooks.verify_signature("s3cret", timestamp, body.decode(), f"v1=00 {signature}", now=sent_at)
    assert not webhooks.verify_signature("other", timestamp, body, signature, now=sent_at)
    assert not webhooks.verify_signature("s3cret", timestamp, b'{"id":"tag-2"}', signature, now=sent_at)
    assert not webhooks.verify_signature("s3cret", timestamp + 1, body, signature, now=sent_at)
    assert not webhooks.verify_signature("s3cret", timestamp, body, signature, now=sent_at + timedelta(seconds=301))
    assert not webhooks.verify_signature("s3cret", "soon", body, signature, now=sent_at)


def test_retry_delays_grow_three_times_and_cap_at_an_hour() -> None:
    assert [webhooks.retry_delay(n).total_seconds() for n in range(1, 9)] == [10, 30, 90, 270, 810, 2430, 3600, 3600]
    jittered = [webhooks.retry_delay(2, jitter=Random(seed)).total_seconds() for seed in range(50)]
    assert all(24 <= seconds <= 36 for seconds in jittered) and len(set(jittered)) > 1
    assert webhooks.retry_delay(2, jitter=Random(1)) == webhooks.retry_delay(2, jitter=Random(1))


def test_a_send_goes_to_the_checked_address_with_the_original_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the request is made to the address the check saw, not to a second lookup's answer."""
    from fanbase.jobs import webhooks as jobs

    check = webhooks.check_target
    monkeypatch.setattr(webhooks, "is_forbidden_address", lambda _address: False)  # let 127.0.0.1 pass as "public"
    monkeypatch.setattr(
        webhooks,
        "check_target",
        lambda url, *, allow_private: check(url, allow_private=allow_private, resolve=resolver("127.0.0.1")),
    )
    delivery = webhooks.PendingDelivery(
        outbox_id=1, workspace_id=1, event_id="tag-1", url="", secret="s", body=b"{}", attempts=0
    )
    with running_receiver() as receiver, httpx.Client() as http:
        url = f"http://hooks.example.invalid:{receiver.port}/pinned"
        sent_at = datetime(2026, 6, 1, tzinfo=UTC)
        error = jobs._send(http, dataclasses.replace(delivery, url=url), now=sent_at, allow_private_targets=False)
        assert error is None
        (received,) = receiver.at("/pinned")
    assert received.headers["host"] == f"hooks.example.invalid:{receiver.port}"
    assert received.headers["fanbase-webhook-timestamp"] == str(int(sent_at.timestamp()))
