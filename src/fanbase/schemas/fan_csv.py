"""Fan CSV import: what an import reports."""

from __future__ import annotations

from pydantic import Field

from fanbase.schemas.common import Record


class ImportRowError(Record):
    line: int
    email: str | None
    reason: str


class ImportReport(Record):
    rows: int
    created: int
    updated: int
    errors: list[ImportRowError]
    import_id: int | None = Field(
        default=None, description="The import's record: importing the same file again after a failure resumes it."
    )
