"""Custom field definitions, declared per workspace."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy import insert
from sqlalchemy import select

from fanbase.db.repositories.sql import named_columns
from fanbase.db.tables import custom_fields
from fanbase.schemas.custom_fields import CustomField
from fanbase.schemas.custom_fields import CustomFieldIn

_COLUMNS = named_columns(CustomField.model_fields, custom_fields)


def insert_custom_field(
    connection: Connection, workspace_id: int, field: CustomFieldIn, *, now: datetime
) -> CustomField:
    row = connection.execute(
        insert(custom_fields)
        .values(
            workspace_id=workspace_id,
            name=field.name,
            type=field.type,
            choices=list(field.choices) if field.choices else None,
            label=field.label.strip() if field.label else None,
            created_at=now,
        )
        .returning(*_COLUMNS)
    ).one()
    return CustomField.model_validate(row._mapping)


def list_custom_fields(connection: Connection, workspace_id: int) -> list[CustomField]:
    rows = connection.execute(
        select(*_COLUMNS).where(custom_fields.c.workspace_id == workspace_id).order_by(custom_fields.c.name)
    )
    return [CustomField.model_validate(row._mapping) for row in rows]
