"""Dashboard users and sign-in sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults). A session is a random token kept in an HttpOnly cookie;
only its SHA-256 is stored, so a copy of the database cannot be replayed as a sign-in. Sessions expire after
``SESSION_LIFETIME``; signing out deletes the row.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError

from fanbase.db.engine import ACROSS_WORKSPACES
from fanbase.db.engine import Database
from fanbase.db.engine import IntegrityError
from fanbase.db.repositories import users as users_repo
from fanbase.db.repositories import workspaces as workspaces_repo
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.errors import Unauthorized
from fanbase.errors import Unavailable
from fanbase.schemas.audit import Actor
from fanbase.schemas.common import normalize_email
from fanbase.schemas.users import SignedInUser
from fanbase.schemas.users import User
from fanbase.services import audit
from fanbase.services import throttles
from fanbase.services.throttles import BackOff

SESSION_LIFETIME = timedelta(days=14)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password (no user probing).
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
# argon2id takes 64 MiB per verification: at most this many run at once in a process; more sign-ins queue for a
# slot (up to HASHING_WAIT_SECONDS, then 503) instead of each allocating its own.
CONCURRENT_HASHING = 2
HASHING_WAIT_SECONDS = 10.0
_hashing = threading.BoundedSemaphore(CONCURRENT_HASHING)
# Failed sign-ins back off per account (after 5) and per client address (after 20): 1 s, doubling, at most 15 min.
ACCOUNT_BACK_OFF = BackOff(free=5)
ADDRESS_BACK_OFF = BackOff(free=20)


@dataclass(frozen=True, kw_only=True)
class NewSession:
    token: str
    expires_at: datetime
    user: SignedInUser


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"must be at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"must be at most {MAX_PASSWORD_LENGTH} characters", field="password")


def _email(value: str) -> str:
    try:
        return normalize_email(value)
    except ValueError as error:
        raise InvalidInput(str(error), field="email") from error


def create_user(
    database: Database,
    workspace_id: int,
    *,
    email: str,
    password: str,
    name: str | None = None,
    now: datetime,
    actor: Actor | None = None,
) -> User:
    address = _email(email)
    _check_password(password)
    name = (name or "").strip() or None
    if name is not None and len(name) > 200:
        raise InvalidInput("must be at most 200 characters", field="name")
    password_hash = _hasher.hash(password)
    try:
        with database.transaction(workspace_id=workspace_id) as connection:
            if workspaces_repo.get_workspace(connection, workspace_id) is None:
                raise NotFound(f"workspace {workspace_id} not found", field="workspace")
            if users_repo.find_user_by_email(connection, address) is not None:
                raise Conflict(f"a user with email {address} already exists", field="email")
            row = users_repo.insert_user(
                connection, workspace_id, email=address, name=name, password_hash=password_hash, now=now
            )
            audit.record(connection, workspace_id, actor, "user.created", target=f"user {address}", now=now)
    except IntegrityError as error:  # a concurrent create of the same email
        raise Conflict(f"a user with email {address} already exists", field="email") from error
    return row


def list_users(database: Database, workspace_id: int) -> list[User]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return users_repo.list_users(connection, workspace_id)


def _throttle_keys(address: str, client: str | None) -> tuple[str, str]:
    """The back-off keys of an account (its email's hash: the throttle table holds no addresses in clear) and of a
    client address."""
    return f"sign-in:account:{hashlib.sha256(address.encode()).hexdigest()[:32]}", f"sign-in:client:{client or '?'}"


def _verify(password_hash: str, password: str) -> bool:
    if not _hashing.acquire(timeout=HASHING_WAIT_SECONDS):
        raise Unavailable("too many sign-ins at once; try again", retry_after=2)
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False
    finally:
        _hashing.release()


def sign_in(database: Database, *, email: str, password: str, now: datetime, client: str | None = None) -> NewSession:
    """Check the password and open a session; the same ``Unauthorized`` for an unknown email or a wrong password.

    Failed attempts back off per account and per client address (``Throttled`` until the back-off ends, checked
    before any hashing); a success clears the account's count."""
    refused = Unauthorized("wrong email or password")
    try:
        address = normalize_email(email)
    except ValueError:
        raise refused from None
    account_key, client_key = _throttle_keys(address, client)
    throttles.check_blocked(database, (account_key, client_key), now=now, what="sign-ins")
    # Across workspaces: an email signs in to whichever workspace its user belongs to.
    with database.transaction(workspace_id=ACROSS_WORKSPACES, write=False) as connection:
        user = users_repo.find_user_by_email(connection, address)
    right = 0 < len(password) <= MAX_PASSWORD_LENGTH and _verify(user.password_hash if user else _DUMMY_HASH, password)
    signing_in = Actor(kind="user", name=address, client=client)
    if user is None or not right:
        throttles.record_failure(database, ((account_key, ACCOUNT_BACK_OFF), (client_key, ADDRESS_BACK_OFF)), now=now)
        if user is not None:
            with database.transaction(workspace_id=user.workspace_id) as connection:
                audit.record(connection, user.workspace_id, signing_in, "sign_in.failed", now=now)
        raise refused
    throttles.clear(database, account_key)
    token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    with database.transaction(workspace_id=user.workspace_id) as connection:
        if _hasher.check_needs_rehash(user.password_hash):
            users_repo.set_password_hash(connection, user.workspace_id, user.id, _hasher.hash(password))
        users_repo.delete_expired_sessions(connection, user.workspace_id, user.id, now=now)
        users_repo.insert_session(
            connection, user.workspace_id, user.id, token_hash=hash_token(token), now=now, expires_at=expires_at
        )
        audit.record(connection, user.workspace_id, signing_in, "sign_in.succeeded", now=now)
        row = users_repo.find_session(connection, hash_token(token))
    assert row is not None
    return NewSession(token=token, expires_at=expires_at, user=row)


def session_user(database: Database, token: str | None, *, now: datetime) -> SignedInUser | None:
    """The user a session token belongs to, or None when it is missing, unknown or expired."""
    if not token or len(token) > 200:
        return None
    with database.transaction(workspace_id=ACROSS_WORKSPACES, write=False) as connection:  # finds the workspace
        row = users_repo.find_session(connection, hash_token(token))
    if row is None or row.expires_at <= now:
        return None
    return row


def sign_out(database: Database, token: str | None) -> None:
    if not token or len(token) > 200:
        return
    with database.transaction(workspace_id=ACROSS_WORKSPACES) as connection:  # a token names its workspace's session
        users_repo.delete_session(connection, hash_token(token))


DEMO_USER_EMAIL = "demo@fanbase.local"


def ensure_demo_user(database: Database, workspace_id: int, *, now: datetime) -> tuple[str, str]:
    """The demo user of the demo workspace with a fresh random password (passwords are stored hashed, so an earlier
    one cannot be shown again). Returns (email, password)."""
    password = secrets.token_urlsafe(12)
    password_hash = _hasher.hash(password)
    with database.transaction(workspace_id=workspace_id) as connection:
        user = users_repo.find_user_by_email(connection, DEMO_USER_EMAIL)
        if user is None:
            users_repo.insert_user(
                connection, workspace_id, email=DEMO_USER_EMAIL, name="Demo", password_hash=password_hash, now=now
            )
        elif user.workspace_id != workspace_id:
            raise Conflict(f"{DEMO_USER_EMAIL} belongs to another workspace", field="email")
        else:
            users_repo.set_password_hash(connection, workspace_id, user.id, password_hash)
    return DEMO_USER_EMAIL, password
