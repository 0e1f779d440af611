"""CSV import of fans (their export is ``fan_export``).

Import decisions (also in the README):

- **Columns** are matched case-insensitively, with surrounding spaces trimmed and inner spaces or hyphens read as
  ``_`` ("First Name" is ``first_name``). Known: the core profile fields, ``tags``, ``lists``, every declared custom
  field by name, and the read-only columns our own export writes (``id``, ``total_spent``, …), which are ignored:
  they are derived from orders and events. **Any other column refuses the whole file** (``InvalidInput`` naming it):
  a typo in a header would otherwise silently drop a column of data for every row.
- **Rows**: each bad row is reported with its physical line (header = line 1; a quoted value spanning lines is
  reported at the line where its row starts) and every problem found; valid rows go in. Validation is the API's:
  ``FanIn`` and the custom fields' declared types.
- **Merging** is by lower(email). Within the file, later rows win field by field; tags and lists accumulate. Into
  an existing fan, only non-empty cells change anything (an empty cell never blanks stored data), tags are added,
  lists subscribed, ``created_at`` keeps the earlier of the two instants (the fan joined when we first knew them),
  and a fan whose values are already equal is not rewritten (``updated_at`` stays). ``updated`` counts the existing
  fans the file changed (a field, a new tag, a list subscription): a file imported twice updates nobody the second
  time. An import never re-subscribes a fan who unsubscribed or bounced from a
  list: withdrawn consent is only given back by the fan.
- **Encoding**: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252 (what spreadsheets call "ANSI"; it
  agrees with Latin-1 on every printable Latin-1 character), else Latin-1. The delimiter is sniffed from the header
  line among ``,`` ``;`` and tab; anything else is read as ``,``.
- **Suppressed emails** (an erased fan's, or one the workspace suppressed) are reported at their first line and
  neither created nor merged into.
- **In chunks**: the file is read and checked whole, then written 2,000 fans at a time, each chunk in its own
  transaction, so other writers wait for a chunk (a fraction of a second), never for the whole file. An import
  record (table ``imports``) counts the chunks written; an import that fails part-way keeps the chunks it wrote
  (each a complete merge by email) and the same file imported again resumes after them.

Export neutralises spreadsheet formulas (``neutralise_cell``, see ``fan_export``); import removes exactly the
``'`` it added (``restore_cell``), so an export re-imports to the very same values (``-5`` → ``'-5`` → ``-5``).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import re
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.engine import IntegrityError
from fanbase.db.engine import refresh_statistics_in
from fanbase.db.repositories import bulk as bulk_repo
from fanbase.db.repositories import fan_groups as fan_groups_repo
from fanbase.db.repositories import fans as fans_repo
from fanbase.db.repositories import imports as imports_repo
from fanbase.db.repositories import lists as lists_repo
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import TooLarge
from fanbase.schemas.common import MAX_PROPERTY_TEXT
from fanbase.schemas.common import JsonScalar
from fanbase.schemas.common import plain_message
from fanbase.schemas.custom_fields import CustomField
from fanbase.schemas.fan_csv import ImportReport
from fanbase.schemas.fan_csv import ImportRowError
from fanbase.schemas.fans import FanIn
from fanbase.schemas.lists import SubscriptionStatus
from fanbase.services import custom_fields as custom_fields_service
from fanbase.services import fans as fans_service
from fanbase.services import membership
from fanbase.services import suppressions

PROFILE_COLUMNS = ("email", "first_name", "last_name", "lifecycle_stage", "source", "country", "city", "created_at")
LABEL_COLUMNS = ("tags", "lists")
# Written by export, ignored by import: derived from orders and events (or assigned by the database).
READ_ONLY_COLUMNS = (
    "id",
    "updated_at",
    "total_spent",
    "purchase_count",
    "first_purchase_at",
    "last_purchase_at",
    "last_active_at",
)
IMPORT_SOURCE = "import"
LABEL_SEPARATOR = re.compile(r"[;|]")
TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "0"})
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEUTRALISED = re.compile(r"^'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")
BLANK_COLUMN = ""  # a column without a header: must stay empty in every row

Progress = Callable[[int, int], None]


# --- formula neutralisation ------------------------------------------------------------------------------


def neutralise_cell(text: str) -> str:
    """Make a cell inert in spreadsheets: prefix ``'`` when it would start a formula (see the module notes)."""
    return "'" + text if _NEUTRALISED.match(text) else text


def restore_cell(text: str) -> str:
    """Undo ``neutralise_cell``: drop one ``'`` in front of a formula trigger."""
    return text[1:] if _ESCAPED.match(text) else text


# --- import ----------------------------------------------------------------------------------------------


@dataclass
class _Merged:
    """Everything the file says about one email, later rows overriding earlier ones field by field."""

    line: int  # where the file first names the email
    profile: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, JsonScalar] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)


def decode_csv(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # every byte is a Latin-1 character: this cannot fail


def sniff_delimiter(text: str) -> str:
    """The delimiter of the file's header line, among comma, semicolon and tab; comma when none is clear."""
    header = text.split("\n", 1)[0].rstrip("\r")
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def column_key(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def numbered_records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank record of a ``csv.reader`` with the physical line it starts on (a quoted value may span lines);
    a record that is not CSV is refused, naming its line."""
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise InvalidInput(f"line {line}: cannot read CSV ({error})", field="file") from error
        if any(cell.strip() for cell in record):
            yield line, record


def _read_records(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and each non-blank record with the physical line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    numbered = numbered_records(reader)
    first = next(numbered, None)
    if first is None:
        raise InvalidInput("the file is empty; expected a header row with at least an 'email' column", field="file")
    return first[1], list(numbered)


def _map_columns(header: Sequence[str], fields: Mapping[str, CustomField]) -> list[str | None]:
    """Header cells → the name each column feeds (None: a read-only column, ignored). Refuses unknown ones."""
    known = {*PROFILE_COLUMNS, *LABEL_COLUMNS, *fields}
    mapped: list[str | None] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for cell in header:
        key = column_key(cell)
        if not key:
            mapped.append(BLANK_COLUMN)  # spreadsheets often add empty trailing columns; rows are checked
            continue
        if key in READ_ONLY_COLUMNS:
            mapped.append(None)
            continue
        if key not in known:
            unknown.append(cell.strip() or "(blank)")
            continue
        if key in seen:
            raise InvalidInput(f"columns '{seen[key]}' and '{cell.strip()}' both mean '{key}'", field="file")
        seen[key] = cell.strip()
        mapped.append(key)
    if unknown:
        names = ", ".join(f"'{name}'" for name in unknown)
        raise InvalidInput(
            f"unknown column{'s' if len(unknown) > 1 else ''} {names}; known columns are the fan fields "
            f"({', '.join(PROFILE_COLUMNS)}), tags, lists and declared custom fields "
            f"({', '.join(sorted(fields)) or 'none declared'})",
            field="file",
        )
    if "email" not in seen:
        raise InvalidInput("no 'email' column: every row needs the fan's email", field="file")
    return mapped


def custom_value_from_text(custom_field: CustomField, text: str) -> JsonScalar:
    """A CSV cell as the JSON value the API would take for this field's type (checked later by the type)."""
    match custom_field.type:
        case "number":
            try:
                return int(text)
            except ValueError:
                pass
            try:
                number = float(text)
            except ValueError:
                raise InvalidInput("must be a number", field=custom_field.name) from None
            if not math.isfinite(number):
                raise InvalidInput("must be a finite number", field=custom_field.name)
            return number
        case "boolean":
            word = text.lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise InvalidInput("must be true/false, yes/no or 1/0", field=custom_field.name)
        case "enum":
            # Spreadsheets change case freely; store the declared spelling.
            for choice in custom_field.choices or ():
                if choice.lower() == text.lower():
                    return choice
            return text
        case _:
            if len(text) > MAX_PROPERTY_TEXT:
                raise InvalidInput(f"must be at most {MAX_PROPERTY_TEXT:,} characters", field=custom_field.name)
            return text


def _split_labels(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in LABEL_SEPARATOR.split(text) if name.strip())


def _pydantic_reasons(error: ValidationError) -> list[str]:
    reasons = []
    for item in error.errors():
        location = item.get("loc", ())
        name = str(location[0]) if location else "row"
        message = plain_message(item.get("msg", "invalid"))
        reasons.append(f"{name}: {message}")
    return reasons


def _parse_row(
    cells: Mapping[str, str], fields: Mapping[str, CustomField]
) -> tuple[FanIn | None, dict[str, JsonScalar], list[str]]:
    """One record → (validated FanIn, custom values, problems). Empty cells are absent, not blanks."""
    problems: list[str] = []
    arguments: dict[str, Any] = {}
    custom: dict[str, JsonScalar] = {}
    for name, text in cells.items():
        if not text:
            continue
        if name in LABEL_COLUMNS:
            arguments[name] = _split_labels(text)
        elif name in fields:
            try:
                custom[name] = custom_value_from_text(fields[name], text)
            except InvalidInput as error:
                problems.append(str(error))
        else:
            arguments[name] = text
    if "email" not in arguments:
        problems.insert(0, "email: required")
        return None, custom, problems
    try:
        fan = FanIn.model_validate(arguments)
    except ValidationError as error:
        problems[:0] = _pydantic_reasons(error)
        fan = None
    try:
        custom_fields_service.encode_values(fields, custom)
    except InvalidInput as error:
        problems.append(f"{(error.field or '').removeprefix('custom_fields.')}: {error.message}")
    return fan, custom, problems


def _changed(current: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if getattr(current, name) != value}


# The tables a fan import writes to: fans, their tags and lists, and the segments they enter with the ledger.
IMPORT_TABLES = ("fans", "fan_tags", "list_members", "segment_members", "segment_membership_log")
# Fans written per transaction: on SQLite each chunk holds the one write lock for a fraction of a second.
IMPORT_CHUNK = 2_000


def import_fans_csv(
    database: Database,
    workspace_id: int,
    data: bytes,
    *,
    now: datetime,
    progress: Progress | None = None,
    max_bytes: int | None = None,
    chunk_size: int = IMPORT_CHUNK,
) -> ImportReport:
    """Create or merge fans from a CSV file; see the module notes for the rules.

    The file is read and checked whole first; then its fans are written ``chunk_size`` at a time, each chunk in its
    own transaction (with its live segment changes), so other writers wait for one chunk at most, not the whole
    file. An import record counts the chunks written: if the import fails part-way, what was written stays (each
    chunk is a merge by email, complete in itself) and importing the same file again resumes after the last chunk
    written, so the result is the one a single run would have given."""
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge(f"the file is {len(data):,} bytes; the limit is {max_bytes:,}", field="file")
    if not data.strip():
        raise InvalidInput("the file is empty; expected a header row with at least an 'email' column", field="file")
    header, records = _read_records(decode_csv(data))
    total = len(records)
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        fields = custom_fields_service.definitions(connection, workspace_id)
    columns = _map_columns(header, fields)
    merged, errors = _merge_rows(records, columns, fields)
    # A suppressed email (an erased fan's) is reported, never created or merged into.
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        suppressed = suppressions.suppressed_among(connection, workspace_id, merged)
    for email, reason in suppressed.items():
        errors.append(
            ImportRowError(line=merged.pop(email).line, email=email, reason=suppressions.refusal(email, reason))
        )
    errors.sort(key=lambda error: error.line)
    emails = list(merged)
    chunks = [emails[start : start + chunk_size] for start in range(0, len(emails), chunk_size)]
    digest = hashlib.sha256(data).hexdigest()
    with database.transaction(workspace_id=workspace_id) as connection:
        record = imports_repo.unfinished(connection, workspace_id, kind="fans", file_sha256=digest, chunks=len(chunks))
        if record is None:
            record = imports_repo.start(
                connection, workspace_id, kind="fans", file_sha256=digest, rows=total, chunks=len(chunks), now=now
            )
        else:
            imports_repo.resume(connection, workspace_id, record.id)
    created = updated = 0
    for index, emails_of_chunk in enumerate(chunks):
        if index < record.chunks_done:
            continue  # written by an earlier run of this file
        try:
            with database.transaction(workspace_id=workspace_id) as connection:
                chunk = {email: merged[email] for email in emails_of_chunk}
                made, changed = _write(connection, workspace_id, chunk, fields=fields, now=now)
                imports_repo.chunk_written(connection, workspace_id, record.id, chunks_done=index + 1)
        except IntegrityError as error:
            # Another writer added one of these emails between our lookup and insert (PostgreSQL only: SQLite
            # serialises writers). This chunk wrote nothing; the same import again resumes with it and merges.
            _finish(database, workspace_id, record.id, status="failed", error=str(error.orig), now=now)
            raise Conflict(
                f"fans were added concurrently with this import; {index} of {len(chunks)} chunks were written. "
                "Import the same file again to finish it.",
                field="file",
            ) from error
        except Exception as error:
            _finish(database, workspace_id, record.id, status="failed", error=repr(error)[:1000], now=now)
            raise
        created += made
        updated += changed
        if progress is not None:
            progress(total * (index + 1) // len(chunks), total)  # rows, as a share of the chunks written
        database.let_other_writers_in()
    _finish(database, workspace_id, record.id, status="done", error=None, now=now)
    if progress is not None:
        progress(total, total)
    # A bulk load changes the data's shape: the planner must know it before the next preview (see the method).
    database.refresh_statistics_after_write(dict.fromkeys(IMPORT_TABLES, created + updated), workspace_id=workspace_id)
    return ImportReport(rows=total, created=created, updated=updated, errors=errors, import_id=record.id)


def _finish(
    database: Database, workspace_id: int, import_id: int, *, status: str, error: str | None, now: datetime
) -> None:
    with database.transaction(workspace_id=workspace_id) as connection:
        imports_repo.finish(connection, workspace_id, import_id, status=status, error=error, now=now)


def _merge_rows(
    records: Sequence[tuple[int, list[str]]], columns: Sequence[str | None], fields: Mapping[str, CustomField]
) -> tuple[dict[str, _Merged], list[ImportRowError]]:
    """Every valid row merged by email (later rows win field by field), and every bad row with its line."""
    merged: dict[str, _Merged] = {}
    errors: list[ImportRowError] = []
    for line, record in records:
        # A short record is a row whose trailing cells are empty (spreadsheets drop them); a long one
        # has shifted values, and guessing which column is which would store data in the wrong field.
        cells = {
            name: restore_cell(text).strip() for name, text in zip(columns, record, strict=False) if name is not None
        }
        email_cell = cells.get("email") or None
        if any(cell.strip() for cell in record[len(columns) :]):
            reason = f"has {len(record)} values but the header has {len(columns)} columns"
            errors.append(ImportRowError(line=line, email=email_cell, reason=reason))
            continue
        cells.pop(BLANK_COLUMN, None)
        if any(text.strip() for name, text in zip(columns, record, strict=False) if name == BLANK_COLUMN):
            errors.append(
                ImportRowError(line=line, email=email_cell, reason="has a value in a column without a header")
            )
            continue
        fan, custom, problems = _parse_row(cells, fields)
        if fan is None or problems:
            errors.append(ImportRowError(line=line, email=email_cell, reason="; ".join(problems)))
            continue
        entry = merged.setdefault(fan.email, _Merged(line=line))
        profile_fields = fan.model_fields_set - {"email", "tags", "lists", "custom_fields"}
        entry.profile.update(fan.model_dump(include=profile_fields))
        entry.custom.update(custom)
        entry.tags.extend(fan.tags)
        entry.lists.extend(fan.lists)
    return merged, errors


def _write(
    connection: Connection,
    workspace_id: int,
    merged: Mapping[str, _Merged],
    *,
    fields: Mapping[str, CustomField],
    now: datetime,
) -> tuple[int, int]:
    existing = bulk_repo.fan_rows_by_email(connection, workspace_id, merged)
    new_emails = [email for email in merged if email not in existing]
    new_rows = []
    for email in new_emails:
        entry = merged[email]
        profile = entry.profile
        new_rows.append(
            {
                "email": email,
                "first_name": profile.get("first_name"),
                "last_name": profile.get("last_name"),
                "lifecycle_stage": profile.get("lifecycle_stage", "subscriber"),
                "source": profile.get("source", IMPORT_SOURCE),
                "country": profile.get("country"),
                "city": profile.get("city"),
                "custom_fields": custom_fields_service.encode_values(fields, entry.custom),
                "created_at": profile.get("created_at") or now,
                "updated_at": now,
            }
        )
    fan_ids = {email: int(row.id) for email, row in existing.items()}
    fan_ids.update(zip(new_emails, fans_repo.insert_fans(connection, workspace_id, new_rows), strict=True))

    # Existing fans: write only what differs, grouped by the set of columns so each group is one executemany.
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    changed: set[int] = set()
    for email, current in existing.items():
        entry = merged[email]
        values = dict(entry.profile)
        if "created_at" in values:
            values["created_at"] = min(values["created_at"], current.created_at)
        if entry.custom:
            values["custom_fields"] = custom_fields_service.encode_values(
                fields, entry.custom, current=current.custom_fields
            )
        changes = _changed(current, values)
        if changes:
            changes["updated_at"] = now
            updates.setdefault(tuple(sorted(changes)), []).append({"fan_id": current.id, **changes})
            changed.add(int(current.id))
    for rows in updates.values():
        fans_repo.update_fans_by_id(connection, workspace_id, rows)

    tag_pairs = [(fan_ids[email], name) for email, entry in merged.items() for name in entry.tags]
    list_pairs = _consenting_list_pairs(
        connection,
        workspace_id,
        [(fan_ids[email], name) for email, entry in merged.items() for name in entry.lists],
        now=now,
    )
    labelled = fans_service.attach_labels(
        connection,
        workspace_id,
        tag_pairs=tag_pairs,
        list_pairs=list_pairs,
        consent_source="csv import",
        now=now,
    )
    # Live membership, same transaction, set-based: the imported fans may now match any rule. Planned on the rows
    # this import wrote (a new database's statistics would say the tables are empty).
    refresh_statistics_in(
        connection,
        {"fans": len(new_rows), "fan_tags": len(tag_pairs), "list_members": len(list_pairs)},
        workspace_id=workspace_id,
    )
    membership.apply_change(
        connection, workspace_id, list(fan_ids.values()), membership.NEW_FANS, cause="import", now=now
    )
    # "Updated" counts the existing fans this import changed (a field, a new tag or list), not every row it matched.
    existing_ids = {int(row.id) for row in existing.values()}
    return len(new_emails), len(changed | (labelled & existing_ids))


def _consenting_list_pairs(
    connection: Connection, workspace_id: int, pairs: Sequence[tuple[int, str]], *, now: datetime
) -> list[tuple[int, str]]:
    """Drop (fan, list) pairs where the fan unsubscribed or bounced: an import must not undo that."""
    if not pairs:
        return []
    list_ids = lists_repo.LISTS.ensure_named(connection, workspace_id, (name for _, name in pairs), now=now)
    by_list: dict[int, list[int]] = {}
    for fan_id, name in pairs:
        by_list.setdefault(list_ids[fan_groups_repo.name_key(name)], []).append(fan_id)
    withdrawn: set[tuple[int, int]] = set()
    for list_id, fan_ids in by_list.items():
        statuses: dict[int, SubscriptionStatus] = lists_repo.current_statuses(
            connection, workspace_id, list_id, fan_ids
        )
        withdrawn.update((list_id, fan_id) for fan_id, status in statuses.items() if status != "subscribed")
    return [
        (fan_id, name) for fan_id, name in pairs if (list_ids[fan_groups_repo.name_key(name)], fan_id) not in withdrawn
    ]
