"""Export of fans: CSV (one column per declared custom field) and JSON Lines, streamed in chunks; an import's
rejected rows as CSV; and the audit entry an export writes.

CSV cells are neutralised against spreadsheet formulas (OWASP "CSV injection"): a cell starting with ``=``, ``+``,
``-``, ``@``, tab or CR, possibly after apostrophes, gets one more ``'`` in front (``fan_csv.neutralise_cell``);
import removes exactly that one, so an export re-imports to the very same values.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from typing import Literal

from fanbase.db.engine import Database
from fanbase.schemas.audit import Actor
from fanbase.schemas.audit import AuditAction
from fanbase.schemas.fan_csv import ImportRowError
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.services import audit
from fanbase.services import custom_fields as custom_fields_service
from fanbase.services import fans as fans_service
from fanbase.services.fan_csv import LABEL_COLUMNS
from fanbase.services.fan_csv import neutralise_cell

# The fan record's fields in its order, but updated_at (not exported) and the custom fields (a column each, after).
EXPORT_COLUMNS = tuple(name for name in Fan.model_fields if name not in {"updated_at", "custom_fields"})


# --- export ----------------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """One value as CSV text that import reads back to the same value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralise_cell(cell) for cell in cells])
    return buffer.getvalue()


def _fan_cells(fan: Fan, custom_names: Sequence[str]) -> list[str]:
    subscribed = [name for name, status in fan.lists.items() if status == "subscribed"]
    core = {
        **fan.model_dump(include=set(EXPORT_COLUMNS) - set(LABEL_COLUMNS)),
        "tags": ";".join(fan.tags),
        "lists": ";".join(subscribed),
    }
    return [cell_text(core[name]) for name in EXPORT_COLUMNS] + [
        cell_text(fan.custom_fields.get(name)) for name in custom_names
    ]


def export_fans_csv(
    database: Database,
    workspace_id: int,
    fan_filter: FanFilter,
    *,
    batch: int = 500,
    now: datetime | None = None,
) -> Iterator[str]:
    """CSV text in chunks, header first: every fan matching the filter, one column per declared custom field.

    ``now`` resolves the relative dates of a rule filter (``rule`` / ``rule_text``); other filters do not need it.

    Tags and subscribed lists are joined with ``;`` (so a tag or list whose name contains ``;`` or ``|`` does not
    survive a round trip). Cells are neutralised against formula injection.
    """
    custom_names = [custom.name for custom in custom_fields_service.list_custom_fields(database, workspace_id)]
    matching = fans_service.iterate_fans(database, workspace_id, fan_filter, now=now)
    # Read the first fan before the header: a bad filter (unknown segment, invalid rule) then fails on the first
    # chunk, which a caller can pull before it starts a response, instead of midway through the CSV.
    first = next(matching, None)
    yield csv_line([*EXPORT_COLUMNS, *custom_names])
    lines: list[str] = []
    for fan in itertools.chain(() if first is None else (first,), matching):
        lines.append(csv_line(_fan_cells(fan, custom_names)))
        if len(lines) >= batch:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def record_export(
    database: Database, workspace_id: int, fan_filter: FanFilter, *, form: str, actor: Actor | None, now: datetime
) -> None:
    """Log an export as it starts: a segment's members, or fans (with the filter used)."""
    if fan_filter.segment_id is not None:
        action: AuditAction = "export.members"
        target = f"segment {fan_filter.segment_id}"
    else:
        action, target = "export.fans", "fans"
    details = {"format": form, **fan_filter.model_dump(mode="json", exclude_none=True, exclude_defaults=True)}
    with database.transaction(workspace_id=workspace_id) as connection:  # of its own: an export only reads
        audit.record(connection, workspace_id, actor, action, target=target, details=details, now=now)


def start_export(
    database: Database,
    workspace_id: int,
    fan_filter: FanFilter,
    *,
    form: Literal["csv", "json_lines"] = "csv",
    actor: Actor | None,
    now: datetime,
) -> Iterator[str]:
    """The fans matching ``fan_filter`` as CSV or JSON Lines, for a download or a file: the first chunk is read here,
    so a bad filter (an unknown segment, an invalid rule) raises before a byte is written, and the export is
    audited as it starts."""
    export = export_fans_json_lines if form == "json_lines" else export_fans_csv
    chunks = export(database, workspace_id, fan_filter, now=now)
    first = next(chunks, None)  # None: no fan to write (JSON Lines has no header)
    record_export(database, workspace_id, fan_filter, form=form, actor=actor, now=now)
    return itertools.chain(() if first is None else (first,), chunks)


def export_fans_json_lines(
    database: Database, workspace_id: int, fan_filter: FanFilter, *, batch: int = 500, now: datetime | None = None
) -> Iterator[str]:
    """JSON Lines in chunks: every fan matching the filter, one JSON object per line, as the API returns a fan."""
    lines: list[str] = []
    for fan in fans_service.iterate_fans(database, workspace_id, fan_filter, now=now):
        lines.append(fan.model_dump_json() + "\n")
        if len(lines) >= batch:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def errors_csv(errors: Sequence[ImportRowError]) -> str:
    """An import's rejected rows as CSV (line, email, reason), neutralised like every export."""
    return csv_line(["line", "email", "reason"]) + "".join(
        csv_line([str(error.line), error.email or "", error.reason]) for error in errors
    )
