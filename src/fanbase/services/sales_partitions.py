"""A sales file's rows spread by fan, so each chunk of an import holds all the rows of the fans in it.

Exports are sorted by time: read in file order, every chunk of a large file names most of its fans again, and each
chunk must re-evaluate every fan it touched against the live segments (and log their moves: a fan entering "Silent
90 days" in one chunk and leaving it in the next). Spread by a hash of the email into partitions of about a chunk
each, written to temporary files as they are read (memory stays flat), every fan is evaluated once, with all their
rows, and no fan is ever half imported between two transactions. A partition keeps the file's order, so the later
of two rows with one external id still wins, a refund row follows the sale it refunds, and the rows of one order
(a format's ``group_by``: Shopify's line items) stay together and consecutive. A file of one chunk or less is not
spread.

Rows travel as their line and the cells the format reads, in the order of ``fields``; the caller makes them
``Row``s once, when their partition is written.
"""

from __future__ import annotations

import csv
import itertools
import math
import tempfile
import zlib
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path

# A row: its physical line and its cells, in the order of the fields read.
Cells = tuple[int, list[str]]
# Rows between two calls of ``reading`` while the file is spread.
READING_REPORT_ROWS = 20_000


def by_fan(
    rows: Iterable[Cells],
    *,
    fields: Sequence[str],
    group_by: str | None,
    chunk_rows: int,
    estimated_rows: int,
    reading: Callable[[], None] | None = None,
) -> Iterator[list[Cells]]:
    """The rows as partitions of about ``chunk_rows`` rows each, by fan (the ``email`` field), an order's rows kept
    with its first."""
    iterator = iter(rows)
    first = list(itertools.islice(iterator, chunk_rows + 1))
    if len(first) <= chunk_rows:
        if first:
            yield first
        return
    count = max(2, math.ceil(estimated_rows / chunk_rows))
    email = fields.index("email") if "email" in fields else None
    group = fields.index(group_by) if group_by in fields else None
    with tempfile.TemporaryDirectory(prefix="fanbase-import-") as directory:
        paths = [Path(directory) / f"{index}.csv" for index in range(count)]
        handles = [path.open("w", newline="", encoding="utf-8") for path in paths]
        try:
            writers = [csv.writer(handle) for handle in handles]
            previous_key: str | None = None
            target = 0
            for seen, (line, cells) in enumerate(itertools.chain(first, iterator), start=1):
                key = cells[group] if group is not None else None
                if key is None or key != previous_key:
                    address = (cells[email] if email is not None else "") or (key or "")
                    target = zlib.crc32(address.lower().encode()) % count
                previous_key = key
                writers[target].writerow([line, *cells])
                if reading is not None and seen % READING_REPORT_ROWS == 0:
                    reading()
            first.clear()
        finally:
            for handle in handles:
                handle.close()
        for path in paths:
            with path.open(newline="", encoding="utf-8") as handle:
                partition = [(int(record[0]), record[1:]) for record in csv.reader(handle)]
            path.unlink()
            yield partition
