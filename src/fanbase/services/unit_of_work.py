"""The unit of work the edges hold: one ``Database``, the only way to open a transaction.

The API, the dashboard, the CLI and the jobs open a ``Database`` here and pass it to services; each service use case
opens one transaction (``database.transaction()``), hands its connection to repositories, and commits when the use
case ends normally (any exception rolls it back). Edges import this module, never ``fanbase.db``: they hold a unit
of work, never a repository, a table or the rule compiler (import-linter checks it).
"""

from __future__ import annotations

from fanbase.db.engine import Database
from fanbase.db.engine import DatabaseError
from fanbase.db.engine import DBAPIError as DatabaseFault
from fanbase.db.engine import is_transient

__all__ = ["Database", "DatabaseError", "DatabaseFault", "is_transient", "open_database"]


def open_database(url: str) -> Database:
    """A database from its SQLAlchemy URL (``sqlite:///…`` or ``postgresql+psycopg://…``)."""
    return Database.from_url(url)
