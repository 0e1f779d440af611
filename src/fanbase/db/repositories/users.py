"""Dashboard users and their sign-in sessions (only a session token's hash is stored)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from fanbase.db.repositories.sql import insert_returning_row
from fanbase.db.repositories.sql import read_one
from fanbase.db.tables import users
from fanbase.db.tables import web_sessions
from fanbase.db.tables import workspaces
from fanbase.schemas.users import SignedInUser
from fanbase.schemas.users import User


@dataclass(frozen=True, kw_only=True)
class UserWithHash(User):
    password_hash: str


USER_COLUMNS = (
    users.c.id,
    users.c.workspace_id,
    users.c.email,
    users.c.name,
    users.c.created_at,
)


def insert_user(
    connection: Connection, workspace_id: int, *, email: str, name: str | None, password_hash: str, now: datetime
) -> User:
    values = {"workspace_id": workspace_id, "email": email, "name": name, "password_hash": password_hash}
    return User(**insert_returning_row(connection, users, {**values, "created_at": now}, USER_COLUMNS))


def find_user_by_email(connection: Connection, email: str) -> UserWithHash | None:
    """A user with their password hash, by (already lower-cased) email; emails are unique across workspaces."""
    statement = select(*USER_COLUMNS, users.c.password_hash).where(func.lower(users.c.email) == email)
    return read_one(connection, statement, UserWithHash)


def set_password_hash(connection: Connection, workspace_id: int, user_id: int, password_hash: str) -> None:
    connection.execute(
        update(users)
        .where(users.c.workspace_id == workspace_id, users.c.id == user_id)
        .values(password_hash=password_hash)
    )


def list_users(connection: Connection, workspace_id: int) -> list[User]:
    rows = connection.execute(select(*USER_COLUMNS).where(users.c.workspace_id == workspace_id).order_by(users.c.id))
    return [User(**row._mapping) for row in rows]


def insert_session(
    connection: Connection, workspace_id: int, user_id: int, *, token_hash: str, now: datetime, expires_at: datetime
) -> None:
    connection.execute(
        insert(web_sessions).values(
            token_hash=token_hash, workspace_id=workspace_id, user_id=user_id, created_at=now, expires_at=expires_at
        )
    )


def find_session(connection: Connection, token_hash: str) -> SignedInUser | None:
    """The session with its user and workspace; the join leads with workspace_id on both sides."""
    statement = (
        select(
            web_sessions.c.expires_at,
            users.c.id.label("user_id"),
            users.c.email,
            users.c.name,
            workspaces.c.id.label("workspace_id"),
            workspaces.c.name.label("workspace_name"),
            workspaces.c.currency,
        )
        .select_from(
            web_sessions.join(
                users, (users.c.workspace_id == web_sessions.c.workspace_id) & (users.c.id == web_sessions.c.user_id)
            ).join(workspaces, workspaces.c.id == web_sessions.c.workspace_id)
        )
        .where(web_sessions.c.token_hash == token_hash)
    )
    # The labels above are the record's fields, one for one.
    return read_one(connection, statement, SignedInUser)


def delete_session(connection: Connection, token_hash: str) -> None:
    connection.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))


def delete_expired_sessions(connection: Connection, workspace_id: int, user_id: int, *, now: datetime) -> int:
    result = connection.execute(
        delete(web_sessions).where(
            web_sessions.c.workspace_id == workspace_id,
            web_sessions.c.user_id == user_id,
            web_sessions.c.expires_at <= now,
        )
    )
    return result.rowcount
