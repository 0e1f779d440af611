"""Tags: granular labels on fans."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from fanbase.schemas.common import Color
from fanbase.schemas.common import Input
from fanbase.schemas.common import Name
from fanbase.schemas.common import Record


class TagIn(Input):
    name: Name
    color: Color | None = None
    category: Annotated[str, Field(max_length=64)] | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None


class TagPatch(Input):
    name: Name | None = None
    color: Color | None = None
    category: Annotated[str, Field(max_length=64)] | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None


class Tag(Record):
    id: int
    name: str
    color: str | None
    category: str | None
    description: str | None
    created_at: datetime
    fan_count: int = 0
