"""Suppressed emails: addresses that are never re-created as fans until the suppression is lifted."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from fanbase.schemas.common import Email
from fanbase.schemas.common import Input
from fanbase.schemas.common import Record

SuppressionReason = Literal["erased", "requested", "bounced", "complained"]


class SuppressionIn(Input):
    email: Email


class Suppression(Record):
    email: str
    reason: SuppressionReason = Field(
        description=(
            "erased (the fan was erased), requested (added by the workspace), bounced (mail to it bounced for"
            " good) or complained (a message was marked as spam)"
        )
    )
    at: datetime
