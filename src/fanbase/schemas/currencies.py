"""Exchange rates: what one unit of another currency is worth in the workspace currency, from a date on."""

from __future__ import annotations

import re
from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator
from pydantic import Field

from fanbase.schemas.common import Input
from fanbase.schemas.common import Record

_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_RATE_DIGITS = 12


def currency_code(value: str) -> str:
    code = value.strip().upper()
    if not _CURRENCY.match(code):
        raise ValueError("must be a three-letter ISO 4217 code, e.g. EUR")
    return code


def exchange_rate(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError("must be a positive number")
    if value >= Decimal("1e9"):
        raise ValueError("is too large")
    normalised = value.normalize()
    if len(normalised.as_tuple().digits) > MAX_RATE_DIGITS:
        raise ValueError(f"has more than {MAX_RATE_DIGITS} significant digits")
    return normalised


CurrencyCode = Annotated[str, AfterValidator(currency_code)]
Rate = Annotated[Decimal, AfterValidator(exchange_rate)]


class ExchangeRateIn(Input):
    currency: CurrencyCode = Field(description="The currency converted from (ISO 4217).")
    valid_from: date = Field(description="The first day (UTC) orders are converted at this rate.")
    rate: Rate = Field(description="Workspace-currency units per one unit of `currency`, e.g. 1.0825.")


class ExchangeRatesIn(Input):
    rates: Annotated[list[ExchangeRateIn], Field(min_length=1, max_length=10_000)]


class ExchangeRate(Record):
    id: int
    currency: str
    valid_from: date
    rate: Decimal
    created_at: datetime


class ExchangeRatesWritten(Record):
    created: int
    updated: int
    unchanged: int
