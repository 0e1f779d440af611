"""Custom fields: declared per workspace with a type; fans' values are checked against the declaration.

Storage keeps values comparable in SQL on both databases: money as integer cents, datetimes as fixed-width UTC
ISO text (sorts as it should), booleans as JSON booleans. ``decode_values`` turns them back for people.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.engine import IntegrityError
from fanbase.db.repositories import custom_fields as custom_fields_repo
from fanbase.db.repositories.fans import cents_to_money
from fanbase.db.types import format_stored_datetime
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.schemas.common import JsonScalar
from fanbase.schemas.common import require_utc
from fanbase.schemas.custom_fields import CustomField
from fanbase.schemas.custom_fields import CustomFieldIn


def create_custom_field(database: Database, workspace_id: int, field: CustomFieldIn, *, now: datetime) -> CustomField:
    try:
        with database.transaction(workspace_id=workspace_id) as connection:
            return custom_fields_repo.insert_custom_field(connection, workspace_id, field, now=now)
    except IntegrityError as error:
        raise Conflict(f"a custom field named '{field.name}' already exists", field="name") from error


def list_custom_fields(database: Database, workspace_id: int) -> list[CustomField]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return custom_fields_repo.list_custom_fields(connection, workspace_id)


def definitions(connection: Connection, workspace_id: int) -> dict[str, CustomField]:
    return {field.name: field for field in custom_fields_repo.list_custom_fields(connection, workspace_id)}


def encode_value(field: CustomField, value: JsonScalar, *, path: str) -> Any:
    """Check one value against its field's type and return its stored form."""
    problem = f"must be a {field.type}"
    match field.type:
        case "text":
            # No NUL: PostgreSQL's JSONB cannot store it (and CSV imports reach here without the API's models).
            if isinstance(value, str) and len(value) <= 1000 and "\x00" not in value:
                return value
            problem = "must be text of at most 1000 characters, without NUL characters"
        case "number":
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                return value
            problem = "must be a finite number"
        case "money":
            try:
                amount = (
                    Decimal(str(value))
                    if isinstance(value, int | float | str) and not isinstance(value, bool)
                    else None
                )
            except InvalidOperation:
                amount = None
            if amount is not None and amount.is_finite() and amount == amount.quantize(Decimal("0.01")):
                return int(amount * 100)
            problem = "must be an amount with at most 2 decimal places"
        case "enum":
            if isinstance(value, str) and field.choices and value in field.choices:
                return value
            problem = f"must be one of {', '.join(field.choices or ())}"
        case "datetime":
            if isinstance(value, str):
                try:
                    return format_stored_datetime(require_utc(datetime.fromisoformat(value)))
                except ValueError:
                    pass
            problem = "must be an ISO 8601 date-time with a timezone, e.g. 2025-06-01T20:00:00Z"
        case "boolean":
            if isinstance(value, bool):
                return value
            problem = "must be true or false"
    raise InvalidInput(problem, field=path)


def encode_values(
    fields: Mapping[str, CustomField], values: Mapping[str, JsonScalar], *, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Merge new values into the current ones; a value of null removes the field from the fan."""
    stored = dict(current or {})
    for name, value in values.items():
        path = f"custom_fields.{name}"
        field = fields.get(name)
        if field is None:
            raise InvalidInput(f"unknown custom field '{name}'; declare it first", field=path)
        if value is None:
            stored.pop(name, None)
        else:
            stored[name] = encode_value(field, value, path=path)
    return stored


def decode_values(fields: Mapping[str, CustomField], stored: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: cents_to_money(value) if name in fields and fields[name].type == "money" else value
        for name, value in stored.items()
    }
