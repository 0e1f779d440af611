"""CSV import of orders and events, from fanbase's own columns or a vendor's export (``sales_formats``).

- **Streamed.** The file is read row by row, spread by fan into partitions of about ``chunk_rows`` rows on disk
  (``sales_partitions``: each fan's rows land in one chunk, evaluated once), and written a partition at a time,
  each in its own transaction with its live segment changes: memory stays flat whatever the file's size, other
  writers wait for one chunk at most, and no fan is half imported between two commits. An order's rows (Shopify's
  line items) never straddle two chunks.
- **Idempotent.** Every row has an external id (the vendor's, or one derived from what the row says), so an
  import that stopped part-way is finished by importing the file again, and a second import changes nothing
  (``sales.write_sales``).
- **Bad rows** are reported with their physical line (the header is line 1) and the reason; the rest go in.
- **Encoding** as for fan imports: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252; the delimiter
  is sniffed from the header among comma, semicolon and tab.
- **Preview** reads the first rows exactly as the import would, converts them at the workspace's rates, and
  writes nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO
from typing import Any

from fanbase.db.engine import Database
from fanbase.db.engine import IntegrityError
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.schemas.fan_csv import ImportRowError
from fanbase.schemas.sales import FormatChoice
from fanbase.schemas.sales import ImportKind
from fanbase.schemas.sales import PreviewRow
from fanbase.schemas.sales import SalesImportPreview
from fanbase.schemas.sales import SalesImportReport
from fanbase.services import currencies
from fanbase.services import sales
from fanbase.services import sales_partitions
from fanbase.services.currencies import MissingRate
from fanbase.services.fan_csv import column_key
from fanbase.services.fan_csv import numbered_records
from fanbase.services.fan_csv import sniff_delimiter
from fanbase.services.sales_formats import Format
from fanbase.services.sales_formats import ImportOptions
from fanbase.services.sales_formats import NotASale
from fanbase.services.sales_formats import PartRefused
from fanbase.services.sales_formats import Row
from fanbase.services.sales_formats import RowProblem
from fanbase.services.sales_formats import Writable
from fanbase.services.sales_formats import column_positions
from fanbase.services.sales_formats import detect
from fanbase.services.sales_formats import generic_for
from fanbase.services.sales_formats import headers_of
from fanbase.services.sales_partitions import Cells
from fanbase.services.vendor_formats import FORMATS

CHUNK_ROWS = 10_000
MAX_REPORTED_ERRORS = 1_000
PREVIEW_ROWS = 20
SAMPLE_BYTES = 64 * 1024
# A bytes-read progress callback: (bytes read, bytes in all).
Progress = Callable[[int, int], None]


@dataclass
class _Chunk:
    records: list[Writable]
    rows: int
    errors: list[ImportRowError]
    skipped: int


def _encoding(sample: bytes) -> str:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def _open(stream: IO[bytes]) -> tuple[io.TextIOWrapper, list[str], Any]:
    """The stream as text, its header and a CSV reader positioned after it."""
    sample = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    if not sample.strip():
        raise InvalidInput("the file is empty; expected a header row", field="file")
    encoding = _encoding(sample)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
    first_line = sample.decode(encoding, errors="replace").split("\n", 1)[0]
    reader = csv.reader(text, delimiter=sniff_delimiter(first_line))
    for header in reader:
        if any(cell.strip() for cell in header):
            return text, header, reader
    raise InvalidInput("the file is empty; expected a header row", field="file")


def _choose(header: Sequence[str], kind: ImportKind, choice: FormatChoice) -> Format:
    if choice == "auto":
        return detect(header, kind, FORMATS)
    chosen = generic_for(kind) if choice == "generic" else next(f for f in FORMATS if f.name == choice)
    if not chosen.reads(kind):
        raise InvalidInput(f"the {chosen.title} holds no {kind}", field="format")
    try:
        return detect(header, kind, [chosen])
    except InvalidInput:
        # Named as the vendor writes them ("bandcamp transaction id"), not by their keys.
        theirs = {column_key(name): name for ours in chosen.columns for name in headers_of(chosen, ours)}
        missing = sorted(chosen.signature - {column_key(cell) for cell in header})
        raise InvalidInput(
            f"this file is not in the {chosen.title} format: its header lacks "
            f"{', '.join(repr(theirs.get(key, key)) for key in missing)}",
            field="format",
        ) from None


def _cells(reader: Any, positions: Mapping[str, int]) -> Iterator[Cells]:
    """Each non-blank row's line and the cells the format reads, in the order of ``positions``."""
    indexes = list(positions.values())
    for line, record in numbered_records(reader):
        yield line, [record[index].strip() if index < len(record) else "" for index in indexes]


def _groups(rows: Iterable[Cells], fields: Sequence[str], chosen: Format) -> Iterator[list[Row]]:
    """The rows as ``Row``s, grouped as the format groups them (one row a group when it does not), the group's
    first row giving its ``carried`` cells to the others."""
    group: list[Row] = []
    key: str | None = None
    carried: dict[str, str] = {}
    for line, values in rows:
        cells = dict(zip(fields, values, strict=True))
        if chosen.group_by is None:
            yield [Row(line, cells)]
            continue
        row_key = cells.get(chosen.group_by, "")
        if group and row_key != key:
            yield group
            group = []
        if not group:
            key = row_key
            carried = {name: cells.get(name, "") for name in chosen.carried}
        else:
            cells = {**cells, **{name: value for name, value in carried.items() if not cells.get(name)}}
        group.append(Row(line, cells))
    if group:
        yield group


def _read_group(chosen: Format, group: Sequence[Row], kind: ImportKind, options: ImportOptions, chunk: _Chunk) -> None:
    chunk.rows += len(group)
    try:
        records = chosen.read(group, kind, options)
    except RowProblem as problem:
        email = group[0].text("email") or None
        chunk.errors.append(ImportRowError(line=group[0].line, email=email, reason=str(problem)))
        return
    except NotASale:
        chunk.skipped += len(group)
        return
    for part in records:
        if isinstance(part, PartRefused):
            chunk.errors.append(ImportRowError(line=part.line, email=part.email, reason=part.reason))
    writable = [record for record in records if not isinstance(record, PartRefused)]
    if kind == "events":
        writable = [record for record in writable if isinstance(record, sales.SaleEvent)]
    chunk.records.extend(writable)


def _estimated_rows(stream: IO[bytes], size: int) -> int:
    """From the first rows' length: how many rows a file of ``size`` bytes has."""
    sample = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    return max(1, size * max(1, sample.count(b"\n")) // max(1, len(sample)))


def _chunks(
    reader: Any,
    header: Sequence[str],
    chosen: Format,
    kind: ImportKind,
    options: ImportOptions,
    *,
    chunk_rows: int,
    estimated_rows: int,
    reading: Callable[[], None],
) -> Iterator[_Chunk]:
    """The file as chunks to write, each holding every row of its fans (``sales_partitions``)."""
    positions = column_positions(header, chosen)
    fields = list(positions)
    partitions = sales_partitions.by_fan(
        _cells(reader, positions),
        fields=fields,
        group_by=chosen.group_by,
        chunk_rows=chunk_rows,
        estimated_rows=estimated_rows,
        reading=reading,
    )
    for partition in partitions:
        chunk = _Chunk([], 0, [], 0)
        for group in _groups(partition, fields, chosen):
            _read_group(chosen, group, kind, options, chunk)
        if chunk.rows or chunk.errors:
            yield chunk


def _write_chunk(
    database: Database,
    workspace_id: int,
    orders: list[sales.SaleOrder],
    events: list[sales.SaleEvent],
    refunds: list[sales.SaleRefund],
    *,
    now: datetime,
) -> sales.SalesWritten:
    """One chunk in one transaction. A concurrent writer (another import of the same file, a webhook) may record
    one of its orders first: the unique external id refuses the chunk whole, and written again it finds it."""
    for attempt in range(2):
        try:
            with database.transaction(workspace_id=workspace_id) as connection:
                return sales.write_sales(connection, workspace_id, orders, events, refunds=refunds, now=now)
        except IntegrityError:
            if attempt:
                raise Conflict(
                    "a concurrent writer is recording the same orders; the rows before this chunk are in, "
                    "import the file again to finish it",
                    field="file",
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def import_sales_csv(
    database: Database,
    workspace_id: int,
    stream: IO[bytes],
    *,
    kind: ImportKind,
    format_choice: FormatChoice = "auto",
    options: ImportOptions = ImportOptions(),
    now: datetime,
    size: int | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> SalesImportReport:
    """Import a CSV of orders or events (``stream``: binary, seekable); see the module notes. ``progress`` hears
    (done, total) in bytes: the file read and spread by fan, then written (twice the file's size in all)."""
    size = size or stream.seek(0, io.SEEK_END)
    stream.seek(0)
    estimated_rows = _estimated_rows(stream, size)
    text, header, reader = _open(stream)
    chosen = _choose(header, kind, format_choice)
    total = sales.SalesWritten()
    rows = skipped = 0
    written_bytes = 0.0

    def reading() -> None:
        if progress is not None:
            progress(min(stream.tell(), size), 2 * size)

    chunks = _chunks(
        reader,
        header,
        chosen,
        kind,
        options,
        chunk_rows=chunk_rows,
        estimated_rows=estimated_rows,
        reading=reading,
    )
    for chunk in chunks:
        rows += chunk.rows
        skipped += chunk.skipped
        total.errors.extend(chunk.errors)
        orders = [record for record in chunk.records if isinstance(record, sales.SaleOrder)]
        events = [record for record in chunk.records if isinstance(record, sales.SaleEvent)]
        refunds = [record for record in chunk.records if isinstance(record, sales.SaleRefund)]
        total.add(_write_chunk(database, workspace_id, orders, events, refunds, now=now))
        written_bytes += size * chunk.rows / max(estimated_rows, rows)
        if progress is not None:
            progress(size + min(int(written_bytes), size), 2 * size)
        database.let_other_writers_in()
    text.detach()
    database.refresh_statistics_after_write(
        {"orders": total.orders_created, "events": total.events_created, "fans": total.fans_created},
        workspace_id=workspace_id,
    )
    if progress is not None:
        progress(2 * size, 2 * size)
    total.errors.sort(key=lambda error: error.line)
    counts = {**vars(total), "errors": total.errors[:MAX_REPORTED_ERRORS], "error_count": len(total.errors)}
    return SalesImportReport(kind=kind, format=chosen.name, rows=rows, skipped=skipped, **counts)


def preview_sales_csv(
    database: Database,
    workspace_id: int,
    stream: IO[bytes],
    *,
    kind: ImportKind,
    format_choice: FormatChoice = "auto",
    options: ImportOptions = ImportOptions(),
    rows: int = PREVIEW_ROWS,
) -> SalesImportPreview:
    """The first ``rows`` rows as the import would write them (amounts converted at today's rates); writes nothing."""
    text, header, reader = _open(stream)
    chosen = _choose(header, kind, format_choice)
    chunk = _Chunk([], 0, [], 0)
    positions = column_positions(header, chosen)
    for group in _groups(_cells(reader, positions), list(positions), chosen):
        _read_group(chosen, group, kind, options, chunk)
        if chunk.rows >= rows:
            break
    text.detach()
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        convert = currencies.converter(
            connection,
            workspace_id,
            {r.currency for r in chunk.records if isinstance(r, sales.SaleOrder) and r.currency},
        )
    previewed = [_previewed(record, convert) for record in chunk.records]
    return SalesImportPreview(
        kind=kind,
        format=chosen.name,
        columns=list(header),
        used_columns=[cell for cell in header if column_key(cell) in _read_keys(chosen)],
        rows=previewed,
        errors=chunk.errors,
    )


def _kept_refund(order: sales.SaleOrder) -> int:
    """The refunded part taken off the stored amount: a partial refund's (a refunded order keeps what it cost)."""
    return 0 if order.status == "refunded" else order.refunded_cents


def _read_keys(chosen: Format) -> set[str]:
    return {column_key(header) for ours in chosen.columns for header in headers_of(chosen, ours)}


def _previewed(record: Writable, convert: currencies.Converter) -> PreviewRow:
    who: dict[str, Any] = {
        "email": record.person.email,
        "first_name": record.person.first_name,
        "last_name": record.person.last_name,
    }
    if isinstance(record, sales.SaleRefund):
        values: dict[str, Any] = {
            **who,
            "refund_of": record.product,
            "amount": str(currencies.cents_to_amount(record.amount_cents)),
            "at": record.at.isoformat(),
        }
        return PreviewRow(line=record.line, record="refund", values=values)
    if isinstance(record, sales.SaleEvent):
        values = {
            **who,
            "type": record.type,
            "occurred_at": record.occurred_at.isoformat(),
            "properties": dict(record.properties),
            "external_id": record.external_id,
        }
        return PreviewRow(line=record.line, record="event", values=values)
    currency = record.currency or convert.workspace_currency
    values = {
        **who,
        "external_id": record.external_id,
        "amount": str(currencies.cents_to_amount(record.amount_cents)),
        "currency": currency,
        "category": record.category,
        "product": record.product,
        "placed_at": record.placed_at.isoformat(),
        "status": record.status,
        "refunded_amount": str(
            currencies.cents_to_amount(record.amount_cents if record.status == "refunded" else record.refunded_cents)
        ),
    }
    try:
        rate = convert.rate(currency, record.placed_at, field="currency")
        values[f"amount_in_{convert.workspace_currency}"] = str(
            currencies.cents_to_amount(currencies.to_cents(record.amount_cents - _kept_refund(record), rate))
        )
        values["exchange_rate"] = currencies.rate_text(rate)
    except MissingRate as error:
        values["problem"] = error.message
    return PreviewRow(line=record.line, record="order", values=values)
