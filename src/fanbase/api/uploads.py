"""Uploaded files, read within the server's bound."""

from __future__ import annotations

from fastapi import UploadFile

from fanbase.errors import TooLarge


def read_upload(file: UploadFile, *, limit: int, too_large: str) -> bytes:
    """The file's bytes; a 413 (``too_large`` its message) when it holds more than ``limit`` bytes."""
    # Read one byte past the limit: enough to know the file is too large without holding all of it in memory.
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(too_large, field="file")
    return data
