"""Custom fields: typed fan fields a workspace declares."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import Field
from pydantic import model_validator

from fanbase.schemas.common import Input
from fanbase.schemas.common import Record
from fanbase.schemas.common import Slug
from fanbase.schemas.fans import CORE_FAN_FIELDS

CustomFieldType = Literal["text", "number", "money", "enum", "datetime", "boolean"]


def default_label(name: str) -> str:
    """What a custom field declared without a label shows: its key with spaces ("favourite album"), as the rule
    language's English names core fields ("total spent")."""
    return name.replace("_", " ")


class CustomFieldIn(Input):
    name: Slug
    type: CustomFieldType
    choices: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] | None = None
    label: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=100,
            description='What people read in the dashboard and in rules\' English, e.g. "T-shirt size" '
            "(default: the name with spaces).",
        ),
    ] = None

    @model_validator(mode="after")
    def _choices_fit_type(self) -> CustomFieldIn:
        if self.name in CORE_FAN_FIELDS:
            raise ValueError(f"name '{self.name}' is a core fan field")
        if self.type == "enum" and not self.choices:
            raise ValueError("an enum field needs at least one choice")
        if self.type != "enum" and self.choices is not None:
            raise ValueError("only enum fields take choices")
        return self


class CustomField(Record):
    id: int
    name: str
    label: str
    type: CustomFieldType
    choices: tuple[str, ...] | None
    created_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _labelled(cls, data: Any) -> Any:
        """A field stored without a label shows its default one."""
        if isinstance(data, Mapping) and not data.get("label"):
            return {**data, "label": default_label(str(data.get("name", "")))}
        return data
