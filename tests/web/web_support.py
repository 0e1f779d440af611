"""What the browser tests share with their fixtures."""

from __future__ import annotations

from dataclasses import dataclass

from fanbase.db.engine import Database

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Site:
    url: str
    database: Database
    workspace_id: int
    user_email: str
    other_email: str
    other_workspace_id: int
