"""Orders in any currency: the workspace's exchange rates and the conversion every order write goes through.

An order keeps what the shop charged (amount and currency) and gets its workspace-currency amount when it is
written, at the rate valid on the day it was placed (UTC): the latest rate of that currency whose ``valid_from`` is
on or before that day. The rate used is stored with the order, so editing or adding rates later never changes a
total. Conversion rounds half to even, to the cent. An order in the workspace currency needs no rate (rate 1).
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from decimal import ROUND_HALF_EVEN
from decimal import Decimal

from pydantic import ValidationError

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import exchange_rates as rates_repo
from fanbase.db.repositories import workspaces as workspaces_repo
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.errors import TooLarge
from fanbase.schemas.common import plain_message
from fanbase.schemas.currencies import ExchangeRate
from fanbase.schemas.currencies import ExchangeRateIn
from fanbase.schemas.currencies import ExchangeRatesWritten

RATES_CSV_COLUMNS = ("currency", "valid_from", "rate")
MAX_RATES_CSV_BYTES = 2_000_000
ONE = Decimal(1)


class MissingRate(InvalidInput):
    """No rate converts this currency on this day: the message says which rate to add."""

    def __init__(self, currency: str, day: date, workspace_currency: str, *, field: str) -> None:
        super().__init__(
            f"no exchange rate from {currency} to {workspace_currency} valid on {day.isoformat()}: add one valid "
            f"from {day.isoformat()} or earlier (PUT /api/v1/exchange-rates, or `fanbase rates set {currency} "
            f"{day.isoformat()} RATE`)",
            field=field,
        )
        self.currency = currency
        self.day = day


@dataclass(frozen=True)
class Converter:
    """Converts amounts (in cents of their currency) into the workspace currency, at the rates loaded for it."""

    workspace_currency: str
    rates: dict[str, list[tuple[date, Decimal]]]

    def rate(self, currency: str, at: datetime, *, field: str) -> Decimal:
        if currency == self.workspace_currency:
            return ONE
        day = at.date()
        table = self.rates.get(currency, [])
        index = bisect.bisect_right(table, day, key=lambda entry: entry[0])
        if index == 0:
            raise MissingRate(currency, day, self.workspace_currency, field=field)
        return table[index - 1][1]


def to_cents(cents: int, rate: Decimal) -> int:
    """An amount in cents of its currency, at ``rate``, in cents of the workspace currency (half to even)."""
    return int((Decimal(cents) * rate).quantize(ONE, rounding=ROUND_HALF_EVEN))


def cents_to_amount(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def rate_text(rate: Decimal) -> str:
    return format(rate.normalize(), "f")


def converter(connection: Connection, workspace_id: int, currencies: Iterable[str]) -> Converter:
    workspace = workspaces_repo.get_workspace(connection, workspace_id)
    assert workspace is not None
    others = {currency for currency in currencies if currency != workspace.currency}
    return Converter(workspace.currency, rates_repo.rates_of(connection, workspace_id, others))


def list_rates(database: Database, workspace_id: int, *, currency: str | None = None) -> list[ExchangeRate]:
    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return rates_repo.list_rates(connection, workspace_id, currency=currency)


def set_rates(
    database: Database, workspace_id: int, rates: Sequence[ExchangeRateIn], *, now: datetime
) -> ExchangeRatesWritten:
    """Add or replace rates (a later entry for the same currency and day wins). Orders already written keep theirs."""
    latest: dict[tuple[str, date], ExchangeRateIn] = {}
    for rate in rates:
        latest[(rate.currency, rate.valid_from)] = rate
    with database.transaction(workspace_id=workspace_id) as connection:
        workspace = workspaces_repo.get_workspace(connection, workspace_id)
        assert workspace is not None
        for index, rate in enumerate(rates):
            if rate.currency == workspace.currency:
                raise InvalidInput(
                    f"{rate.currency} is this workspace's own currency: it needs no rate", field=f"rates[{index}]"
                )
        created, updated, unchanged = rates_repo.write_rates(connection, workspace_id, list(latest.values()), now=now)
    return ExchangeRatesWritten(created=created, updated=updated, unchanged=unchanged)


def delete_rate(database: Database, workspace_id: int, rate_id: int) -> None:
    with database.transaction(workspace_id=workspace_id) as connection:
        if not rates_repo.delete_rate(connection, workspace_id, rate_id):
            raise NotFound(f"exchange rate {rate_id} not found")


def rates_from_csv(data: bytes) -> list[ExchangeRateIn]:
    """A rates CSV (columns currency, valid_from, rate; any order, case-insensitive) as rates; every bad line named."""
    if len(data) > MAX_RATES_CSV_BYTES:
        raise TooLarge(f"the file is {len(data):,} bytes; the limit is {MAX_RATES_CSV_BYTES:,}", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"must be UTF-8 ({error.reason} at byte {error.start})", field="file") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell.strip().lower() for cell in next(reader, [])]
    missing = [name for name in RATES_CSV_COLUMNS if name not in header]
    if missing:
        raise InvalidInput(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; expected currency, valid_from, "
            "rate",
            field="file",
        )
    positions = {name: header.index(name) for name in RATES_CSV_COLUMNS}
    rates: list[ExchangeRateIn] = []
    problems: list[str] = []
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        line = reader.line_num
        values = {name: record[index] if index < len(record) else "" for name, index in positions.items()}
        try:
            rates.append(ExchangeRateIn.model_validate(values))
        except ValidationError as error:
            reasons = "; ".join(
                f"{item['loc'][0] if item.get('loc') else 'row'}: {plain_message(item['msg'])}"
                for item in error.errors()
            )
            problems.append(f"line {line}: {reasons}")
    if problems:
        shown = problems[:20]
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise InvalidInput("; ".join(shown) + more, field="file")
    if not rates:
        raise InvalidInput("the file has no rates", field="file")
    return rates
