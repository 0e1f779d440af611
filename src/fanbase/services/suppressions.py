"""The suppression list: emails never re-created as fans — an erased fan's (added by the erasure) and any the
workspace adds — until the workspace lifts the suppression.

Only the SHA-256 of the normalised address is stored, so an erasure leaves no address behind; a suppression is
found by hashing the address asked about. Creating a fan (API, CLI, dashboard) with a suppressed email is refused
(422 on ``email``); an order or event batch naming one refuses the batch; a CSV import reports each such row and
creates nothing for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import suppressions as suppressions_repo
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.audit import Actor
from fanbase.schemas.common import normalize_email
from fanbase.schemas.suppressions import Suppression
from fanbase.schemas.suppressions import SuppressionReason
from fanbase.services import audit


def email_hash(email: str) -> str:
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()


def suppress(
    connection: Connection, workspace_id: int, email: str, *, reason: SuppressionReason, now: datetime
) -> None:
    """Suppress an address; the fan holding it (if any) is named, so messages leave them out."""
    address = normalize_email(email)
    fan_id = fans_repo.fan_ids_by_email(connection, workspace_id, [address]).get(address)
    suppressions_repo.add(connection, workspace_id, email_hash(address), reason=reason, at=now, fan_id=fan_id)


def email_changed(connection: Connection, workspace_id: int, fan_id: int, email: str) -> None:
    """After a fan's address changed: the suppressions that name them follow the address, not the fan."""
    suppressions_repo.relink_fan(connection, workspace_id, fan_id, email_hash(email))


def suppressed_among(connection: Connection, workspace_id: int, emails: Iterable[str]) -> dict[str, str]:
    """The suppressed ones among these (normalised) emails: email → reason."""
    by_hash = {email_hash(email): email for email in emails}
    found = suppressions_repo.find(connection, workspace_id, by_hash)
    return {by_hash[digest]: row.reason for digest, row in found.items()}


def refuse_suppressed(
    connection: Connection, workspace_id: int, emails: Iterable[str], *, field: str = "email"
) -> None:
    """``InvalidInput`` naming the first suppressed email, if any: it must not become a fan again."""
    found = suppressed_among(connection, workspace_id, emails)
    if found:
        email = sorted(found)[0]
        raise InvalidInput(refusal(email, found[email]), field=field)


_WHY = {
    "erased": "the fan was erased at their request",
    "requested": "the workspace suppressed it",
    "bounced": "mail to it bounced for good",
    "complained": "its owner marked a message as spam",
}


def refusal(email: str, reason: str) -> str:
    why = _WHY.get(reason, "the workspace suppressed it")
    return f"{email} is suppressed ({why}); lift the suppression to add them again"


def add_suppression(
    database: Database, workspace_id: int, email: str, *, now: datetime, actor: Actor | None = None
) -> Suppression:
    with database.transaction(workspace_id=workspace_id) as connection:
        suppress(connection, workspace_id, email, reason="requested", now=now)
        audit.record(connection, workspace_id, actor, "suppression.added", target=normalize_email(email), now=now)
    return get_suppression(database, workspace_id, email)


def get_suppression(database: Database, workspace_id: int, email: str) -> Suppression:
    address = normalize_email(email)
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        found = suppressions_repo.find(connection, workspace_id, [email_hash(address)])
    if not found:
        raise NotFound(f"{address} is not suppressed")
    row = next(iter(found.values()))
    return Suppression(email=address, reason=row.reason, at=row.at)


def lift_suppression(
    database: Database, workspace_id: int, email: str, *, now: datetime, actor: Actor | None = None
) -> None:
    address = normalize_email(email)
    with database.transaction(workspace_id=workspace_id) as connection:
        if not suppressions_repo.remove(connection, workspace_id, email_hash(address)):
            raise NotFound(f"{address} is not suppressed")
        audit.record(connection, workspace_id, actor, "suppression.lifted", target=address, now=now)
