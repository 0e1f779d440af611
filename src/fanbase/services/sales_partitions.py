"""A sales file's rows spread by fan, so each chunk of an import holds all the rows of the fans in it.

Exports are sorted by time: read in file order, every chunk of a large file names most of its fans again, and each
chunk must re-evaluate every fan it touched against the live segments (and log their moves: a fan entering "Silent
90 days" in one chunk and leaving it in the next). Spread by a hash of the email into partitions of about a chunk
each, written to temporary files as they are read (memory stays flat), every fan is evaluated once, with all their
rows, and no fan is ever half imported between two transactions. A partition keeps the file's order, so the later
of two rows with one external id still wins, and a refund row follows the sale it refunds. A file of one chunk or
less is not spread.
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

from fanbase.services.sales_formats import Row

# Rows between two calls of ``reading`` while the file is spread.
READING_REPORT_ROWS = 20_000


def by_fan(
    groups: Iterable[list[Row]],
    *,
    fields: Sequence[str],
    chunk_rows: int,
    estimated_rows: int,
    reading: Callable[[], None] | None = None,
) -> Iterator[list[list[Row]]]:
    """The groups of rows, as partitions (lists of groups) of about ``chunk_rows`` rows each, by fan."""
    iterator = iter(groups)
    first: list[list[Row]] = []
    rows = 0
    for group in iterator:
        first.append(group)
        rows += len(group)
        if rows > chunk_rows:
            break
    else:
        if first:
            yield first
        return
    count = max(2, math.ceil(estimated_rows / chunk_rows))
    with tempfile.TemporaryDirectory(prefix="fanbase-import-") as directory:
        paths = [Path(directory) / f"{index}.csv" for index in range(count)]
        handles = [path.open("w", newline="", encoding="utf-8") for path in paths]
        try:
            writers = [csv.writer(handle) for handle in handles]
            seen = 0
            for group in itertools.chain(first, iterator):
                writer = writers[zlib.crc32(group[0].text("email").lower().encode()) % count]
                for position, row in enumerate(group):
                    writer.writerow([row.line, int(position == 0), *(row.cells.get(name, "") for name in fields)])
                seen += len(group)
                if reading is not None and seen >= READING_REPORT_ROWS:
                    reading()
                    seen = 0
            first.clear()
        finally:
            for handle in handles:
                handle.close()
        for path in paths:
            yield list(_groups_of(path, fields))
            path.unlink()


def _groups_of(path: Path, fields: Sequence[str]) -> Iterator[list[Row]]:
    with path.open(newline="", encoding="utf-8") as handle:
        group: list[Row] = []
        for record in csv.reader(handle):
            row = Row(int(record[0]), dict(zip(fields, record[2:], strict=True)))
            if record[1] == "1" and group:
                yield group
                group = []
            group.append(row)
        if group:
            yield group
