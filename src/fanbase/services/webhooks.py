"""Webhooks: subscriptions, target checks, payloads, signing, and the delivery bookkeeping the worker calls.

Events reach the outbox in the transaction of the change itself: the services that change who is in a segment, a
tag or a list call ``queue_segment_events`` / ``queue_tag_events`` / ``queue_list_events`` after writing their ledger
rows (the outbox reads the ledger rows of that instant). This module also turns outbox rows into signed requests and
records what happened. The HTTP calls are made by
``fanbase.jobs.webhooks``, outside any transaction.

Receivers verify ``Fanbase-Webhook-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>`` with
``verify_signature`` (or its three lines in any language) and dedupe on ``Fanbase-Webhook-Id``, which is the same
on every retry of an event.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from random import Random
from typing import Any
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import webhooks as webhooks_repo
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.audit import Actor
from fanbase.schemas.common import Page
from fanbase.schemas.webhooks import Delivery
from fanbase.schemas.webhooks import DeliveryStatus
from fanbase.schemas.webhooks import Webhook
from fanbase.schemas.webhooks import WebhookCreated
from fanbase.schemas.webhooks import WebhookIn
from fanbase.services import audit

SIGNATURE_VERSION = "v1"
SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept between the timestamp and its own clock
# Retries wait 10 s, 30 s, 90 s, … (three times longer each time) up to an hour; MAX_ATTEMPTS failures give up.
FIRST_RETRY = timedelta(seconds=10)
BACKOFF_FACTOR = 3
MAX_RETRY_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 12
# A given-up delivery is parked at this instant: never due again, and recognisable in listings.
GAVE_UP_AT = datetime(9999, 1, 1, tzinfo=UTC)
SOURCE_ERASED = "source erased"

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


# --- queueing: called by the services that change membership, in their transaction ----------------------------


def queue_segment_events(
    connection: Connection, workspace_id: int, segment_ids: Collection[int], *, at: datetime
) -> None:
    """segment.entered / segment.exited for the segments' ledger rows at ``at``."""
    if segment_ids:
        webhooks_repo.enqueue_changes(connection, workspace_id, "segment", at=at, object_ids=segment_ids)


def queue_tag_events(
    connection: Connection, workspace_id: int, tag_ids: Collection[int], *, at: datetime | Iterable[datetime]
) -> None:
    """tag.added / tag.removed for the tags' ledger rows at ``at`` (one instant, or several for bulk writers)."""
    if tag_ids:
        webhooks_repo.enqueue_changes(connection, workspace_id, "tag", at=at, object_ids=tag_ids)


def queue_list_events(
    connection: Connection, workspace_id: int, list_ids: Collection[int], *, at: datetime | Iterable[datetime]
) -> None:
    """list.subscribed / list.unsubscribed for the lists' consent-log rows at ``at`` (a bounce or a removal is no
    event)."""
    if list_ids:
        webhooks_repo.enqueue_changes(connection, workspace_id, "list", at=at, object_ids=list_ids)


# --- targets ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a request really goes. ``url`` may name the checked IP address instead of the host (so a second DNS
    answer cannot redirect it); then ``host`` is sent as the Host header and ``server_name`` as the TLS server
    name (SNI and certificate check)."""

    url: str
    host: str | None = None
    server_name: str | None = None


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_forbidden_address(address: IpAddress) -> bool:
    """Loopback, private (RFC 1918, fc00::/7), link-local, unspecified, multicast, reserved — anything not on the
    public internet. A webhook must not become a way to reach the server's own network (SSRF)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or not address.is_global
    )


def check_target(url: str, *, allow_private: bool, resolve: Resolver = socket.getaddrinfo) -> Target:
    """Refuse URLs whose host resolves to any forbidden address (every address is checked: a name with one public
    and one private address is refused). Raises InvalidInput naming ``url``.

    With ``allow_private`` nothing is resolved and the URL is used as given (tests, a trusted private network).
    Otherwise the returned target is pinned to the address just checked, so the request cannot be rebound.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput("must be an http:// or https:// URL with a host", field="url")
    if allow_private:
        return Target(url=url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as error:  # socket.gaierror; UnicodeError (a name IDNA cannot encode)
        raise InvalidInput(f"the host {host!r} does not resolve ({error})", field="url") from None
    addresses: list[IpAddress] = []
    for answer in answers:
        text = str(answer[4][0]).split("%", 1)[0]  # drop an IPv6 zone ("fe80::1%eth0")
        addresses.append(ipaddress.ip_address(text))
    if not addresses:
        raise InvalidInput(f"the host {host!r} does not resolve", field="url")
    forbidden = sorted({str(address) for address in addresses if is_forbidden_address(address)})
    if forbidden:
        raise InvalidInput(
            f"refused: {host} resolves to a loopback, private, link-local or otherwise non-public address "
            f"({', '.join(forbidden)}); set FANBASE_ALLOW_PRIVATE_WEBHOOK_TARGETS=true to allow it",
            field="url",
        )
    pinned = addresses[0]
    literal = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    if parts.hostname == str(pinned):  # the URL already names the address
        return Target(url=url)
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(url=urlunsplit(parts._replace(netloc=netloc)), host=host_header, server_name=host)


# --- subscriptions ---------------------------------------------------------------------------------------


def _webhook(row: Any) -> Webhook:
    return Webhook(id=row.id, url=row.url, events=row.events, created_at=row.created_at, disabled_at=row.disabled_at)


def create_webhook(
    database: Database,
    workspace_id: int,
    data: WebhookIn,
    *,
    now: datetime,
    allow_private_targets: bool,
    resolve: Resolver = socket.getaddrinfo,
    actor: Actor | None = None,
) -> WebhookCreated:
    """Subscribe a URL to events; the signing secret is returned here and never again."""
    check_target(data.url, allow_private=allow_private_targets, resolve=resolve)
    secret = secrets.token_urlsafe(32)
    with database.transaction(workspace_id=workspace_id) as connection:
        webhook_id = webhooks_repo.insert_subscription(
            connection, workspace_id, url=data.url, events=data.events, secret=secret, now=now
        )
        row = webhooks_repo.get_subscription(connection, workspace_id, webhook_id)
        audit.record(
            connection,
            workspace_id,
            actor,
            "webhook.created",
            target=f"webhook {webhook_id} ({data.url})",
            details={"events": list(data.events)},
            now=now,
        )
    return WebhookCreated(**_webhook(row).model_dump(), secret=secret)


def list_webhooks(database: Database, workspace_id: int) -> list[Webhook]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return [_webhook(row) for row in webhooks_repo.list_subscriptions(connection, workspace_id)]


def get_webhook(database: Database, workspace_id: int, webhook_id: int) -> Webhook:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        row = webhooks_repo.get_subscription(connection, workspace_id, webhook_id)
    if row is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return _webhook(row)


def disable_webhook(
    database: Database, workspace_id: int, webhook_id: int, *, now: datetime, actor: Actor | None = None
) -> Webhook:
    """Stop deliveries to the webhook (pending ones too); its delivery history stays readable."""
    with database.transaction(workspace_id=workspace_id) as connection:
        if webhooks_repo.get_subscription(connection, workspace_id, webhook_id) is None:
            raise NotFound(f"webhook {webhook_id} not found")
        webhooks_repo.disable_subscription(connection, workspace_id, webhook_id, now=now)
        audit.record(connection, workspace_id, actor, "webhook.disabled", target=f"webhook {webhook_id}", now=now)
        row = webhooks_repo.get_subscription(connection, workspace_id, webhook_id)
    return _webhook(row)


def event_id(source: str, source_id: int) -> str:
    return f"{source}-{source_id}"


def _delivery(row: Any) -> Delivery:
    status: DeliveryStatus
    next_attempt_at: datetime | None = None
    if row.delivered_at is not None:
        status = "skipped" if row.last_error == SOURCE_ERASED else "delivered"
    elif row.next_attempt_at >= GAVE_UP_AT:
        status = "gave_up"
    else:
        status = "retrying" if row.attempts else "pending"
        next_attempt_at = row.next_attempt_at
    return Delivery(
        id=row.id,
        event_id=event_id(row.source, row.source_id),
        type=row.event_type,
        status=status,
        attempts=row.attempts,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        next_attempt_at=next_attempt_at,
        last_error=row.last_error,
    )


def list_deliveries(
    database: Database, workspace_id: int, webhook_id: int, *, page: int, page_size: int
) -> Page[Delivery]:
    """The webhook's deliveries, newest first."""
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        if webhooks_repo.get_subscription(connection, workspace_id, webhook_id) is None:
            raise NotFound(f"webhook {webhook_id} not found")
        rows = webhooks_repo.list_deliveries(
            connection, workspace_id, webhook_id, offset=(page - 1) * page_size, limit=page_size
        )
        total = webhooks_repo.count_deliveries(connection, workspace_id, webhook_id)
    return Page(items=[_delivery(row) for row in rows], total=total, page=page, page_size=page_size)


# --- signing ---------------------------------------------------------------------------------------------


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def sign(secret: str, timestamp: int, body: bytes | str) -> str:
    """The signature header's value: ``v1=`` + hex HMAC-SHA256(secret, f"{timestamp}.{body}")."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + _as_bytes(body), hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes | str,
    signature: str,
    *,
    now: datetime,
    tolerance: int = SIGNATURE_TOLERANCE,
) -> bool:
    """For receivers: the signature matches and the timestamp is within ``tolerance`` seconds of ``now`` (which
    stops an old request from being replayed). ``signature`` may hold several space-separated ``v1=…`` values."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now.timestamp() - sent_at) > tolerance:
        return False
    expected = sign(secret, sent_at, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signature.split())


# --- delivery bookkeeping (called by the worker) ---------------------------------------------------------


@dataclass(frozen=True)
class PendingDelivery:
    """A claimed outbox row, ready to send: where, what, and how to sign it."""

    outbox_id: int
    workspace_id: int
    event_id: str
    url: str
    secret: str
    body: bytes
    attempts: int

    def headers(self, *, now: datetime) -> dict[str, str]:
        timestamp = int(now.timestamp())
        return {
            "Content-Type": "application/json",
            "User-Agent": "fanbase-webhooks/1",
            "Fanbase-Webhook-Id": self.event_id,
            "Fanbase-Webhook-Timestamp": str(timestamp),
            "Fanbase-Webhook-Signature": sign(self.secret, timestamp, self.body),
        }


@dataclass(frozen=True)
class Claimed:
    deliveries: list[PendingDelivery]
    skipped: int  # rows whose source was erased: marked done, nothing to send


def build_payload(row: Any, *, source: str, event_type: str, workspace_id: int) -> dict[str, Any]:
    """The JSON sent for one ledger row. Built at delivery from the ledger, so no copy of fan data waits in the
    outbox (an erased fan's pending events go with them)."""
    data: dict[str, Any]
    if source == "fan":  # an erasure: the fan's id is all that is left to name them by
        data = {"fan": {"id": row.fan_id}}
    else:
        data = {"fan": {"id": row.fan_id, "email": row.email}}
        named = {"id": row.object_id, "name": row.object_name}
        if source == "segment":
            data.update(segment=named, cause=row.cause, rule_version=row.rule_version)
        elif source == "tag":
            data.update(tag=named)
        else:
            data.update(list=named, status=row.status)
    return {
        "id": event_id(source, row.id),
        "type": event_type,
        "occurred_at": row.at.isoformat(),
        "workspace_id": workspace_id,
        "data": data,
    }


def _is_same_event(ledger: Any, outbox: Any) -> bool:
    """The ledger row is the one the outbox row was written for — not a later row that reused its id (SQLite
    reuses the ids of deleted newest rows) — when the instant and the kind of change agree."""
    if ledger.at != outbox.created_at:
        return False
    event_type: str = outbox.event_type
    if outbox.source == "segment":
        return bool(ledger.entered) == (event_type == "segment.entered")
    if outbox.source == "tag":
        return bool(ledger.added) == (event_type == "tag.added")
    if outbox.source == "fan":
        return event_type == "fan.erased"
    return f"list.{ledger.status}" == event_type


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def claim_due(
    database: Database, *, now: datetime, limit: int, lease: timedelta, workspace_id: int | None = None
) -> Claimed:
    """Claim due deliveries in one short transaction and build their signed bodies. The claim pushes each row's
    next attempt to ``now + lease``, so another worker leaves it alone while this one sends it (and takes it over
    if this one dies). Rows whose ledger row is gone (the fan was erased) are finished here, unsent."""
    deliveries: list[PendingDelivery] = []
    skipped = 0
    with database.transaction(workspace_id=workspace_id) as connection:
        rows = webhooks_repo.claim_due(
            connection,
            now=now,
            limit=limit,
            lease_until=now + lease,
            workspace_id=workspace_id,
        )
        wanted: dict[tuple[int, str], list[int]] = {}
        for row in rows:
            wanted.setdefault((row.workspace_id, row.source), []).append(row.source_id)
        sources = {
            key: webhooks_repo.ledger_rows(connection, key[0], key[1], ledger_ids) for key, ledger_ids in wanted.items()
        }
        for row in rows:
            ledger = sources[(row.workspace_id, row.source)].get(row.source_id)
            if ledger is None or not _is_same_event(ledger, row):
                webhooks_repo.mark_delivered(
                    connection, row.workspace_id, row.id, now=now, attempts=row.attempts, error=SOURCE_ERASED
                )
                skipped += 1
                continue
            payload = build_payload(ledger, source=row.source, event_type=row.event_type, workspace_id=row.workspace_id)
            deliveries.append(
                PendingDelivery(
                    outbox_id=row.id,
                    workspace_id=row.workspace_id,
                    event_id=payload["id"],
                    url=row.url,
                    secret=row.secret,
                    body=encode_body(payload),
                    attempts=row.attempts,
                )
            )
    return Claimed(deliveries=deliveries, skipped=skipped)


def retry_delay(attempts: int, *, jitter: Random | None = None) -> timedelta:
    """The wait after the ``attempts``-th failure: 10 s, 30 s, 90 s, … capped at an hour. With ``jitter`` (a
    seeded or explicit source, so tests stay deterministic) the wait is spread by ±20% to avoid retry storms."""
    seconds = FIRST_RETRY.total_seconds() * BACKOFF_FACTOR ** max(attempts - 1, 0)
    seconds = min(seconds, MAX_RETRY_DELAY.total_seconds())
    if jitter is not None:
        seconds = min(seconds * jitter.uniform(0.8, 1.2), MAX_RETRY_DELAY.total_seconds())
    return timedelta(seconds=seconds)


def record_success(database: Database, delivery: PendingDelivery, *, now: datetime) -> None:
    with database.transaction(workspace_id=delivery.workspace_id) as connection:
        webhooks_repo.mark_delivered(
            connection, delivery.workspace_id, delivery.outbox_id, now=now, attempts=delivery.attempts + 1, error=None
        )


def record_failure(
    database: Database, delivery: PendingDelivery, *, now: datetime, error: str, jitter: Random | None = None
) -> bool:
    """Count the failed attempt and schedule the next one; returns True when this was the last (given up)."""
    attempts = delivery.attempts + 1
    gave_up = attempts >= MAX_ATTEMPTS
    with database.transaction(workspace_id=delivery.workspace_id) as connection:
        webhooks_repo.mark_failed(
            connection,
            delivery.workspace_id,
            delivery.outbox_id,
            attempts=attempts,
            error=f"gave up after {attempts} attempts; last error: {error}" if gave_up else error,
            next_attempt_at=GAVE_UP_AT if gave_up else now + retry_delay(attempts, jitter=jitter),
        )
    return gave_up
