"""The database schema: which migration it is at, and bringing it to this code's (Alembic, programmatically)."""

from __future__ import annotations

from dataclasses import dataclass

from fanbase.db.engine import Database
from fanbase.db.migrate import current_revision
from fanbase.db.migrate import head_revision
from fanbase.db.migrate import upgrade


@dataclass(frozen=True)
class SchemaRevisions:
    current: str | None  # None: no fanbase schema yet
    head: str | None  # what this code needs

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def revisions(database: Database) -> SchemaRevisions:
    return SchemaRevisions(current=current_revision(database.engine), head=head_revision())


def upgrade_schema(database: Database) -> str | None:
    """Create or migrate the schema (safe to repeat); returns the revision it is at."""
    upgrade(database.engine)
    return current_revision(database.engine)
