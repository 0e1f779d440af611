"""Dashboard users, and who a sign-in session belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class User:
    id: int
    workspace_id: int
    email: str
    name: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class SignedInUser:
    """Who a session belongs to: the user and their one workspace."""

    user_id: int
    email: str
    name: str | None
    workspace_id: int
    workspace_name: str
    currency: str
    expires_at: datetime

    @property
    def display_name(self) -> str:
        return self.name or self.email
