"""Alembic environment: runs on the connection handed in by ``fanbase.db.migrate``."""

from __future__ import annotations

from alembic import context

from fanbase.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached through a misconfigured alembic CLI call
    raise RuntimeError("run migrations through `fanbase db upgrade` (fanbase.db.migrate.upgrade)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
