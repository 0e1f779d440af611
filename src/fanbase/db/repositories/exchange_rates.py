"""Exchange rates a workspace maintains (decimal text, per currency and first valid day)."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from datetime import date
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from fanbase.db.tables import exchange_rates
from fanbase.schemas.currencies import ExchangeRate
from fanbase.schemas.currencies import ExchangeRateIn

_COLUMNS = (
    exchange_rates.c.id,
    exchange_rates.c.currency,
    exchange_rates.c.valid_from,
    exchange_rates.c.rate,
    exchange_rates.c.created_at,
)


def list_rates(connection: Connection, workspace_id: int, *, currency: str | None = None) -> list[ExchangeRate]:
    statement = select(*_COLUMNS).where(exchange_rates.c.workspace_id == workspace_id)
    if currency is not None:
        statement = statement.where(exchange_rates.c.currency == currency)
    rows = connection.execute(statement.order_by(exchange_rates.c.currency, exchange_rates.c.valid_from.desc()))
    return [ExchangeRate.model_validate(row._mapping) for row in rows]


def rates_of(
    connection: Connection, workspace_id: int, currencies: Iterable[str]
) -> dict[str, list[tuple[date, Decimal]]]:
    """Each currency's rates, oldest first."""
    wanted = sorted(set(currencies))
    found: dict[str, list[tuple[date, Decimal]]] = {currency: [] for currency in wanted}
    if not wanted:
        return found
    rows = connection.execute(
        select(exchange_rates.c.currency, exchange_rates.c.valid_from, exchange_rates.c.rate)
        .where(exchange_rates.c.workspace_id == workspace_id, exchange_rates.c.currency.in_(wanted))
        .order_by(exchange_rates.c.currency, exchange_rates.c.valid_from)
    )
    for row in rows:
        found[row.currency].append((row.valid_from, Decimal(row.rate)))
    return found


def write_rates(
    connection: Connection, workspace_id: int, rates: Sequence[ExchangeRateIn], *, now: datetime
) -> tuple[int, int, int]:
    """Insert or replace each (currency, valid_from)'s rate (given once each); (created, updated, unchanged)."""
    stored = {
        (row.currency, row.valid_from): (row.id, Decimal(row.rate))
        for row in connection.execute(
            select(exchange_rates.c.id, exchange_rates.c.currency, exchange_rates.c.valid_from, exchange_rates.c.rate)
            .where(
                exchange_rates.c.workspace_id == workspace_id,
                exchange_rates.c.currency.in_(sorted({rate.currency for rate in rates})),
            )
            .with_for_update()
        )
    }
    created = updated = unchanged = 0
    for rate in rates:
        text = format(rate.rate, "f")
        existing = stored.get((rate.currency, rate.valid_from))
        if existing is None:
            connection.execute(
                insert(exchange_rates).values(
                    workspace_id=workspace_id,
                    currency=rate.currency,
                    valid_from=rate.valid_from,
                    rate=text,
                    created_at=now,
                )
            )
            created += 1
        elif existing[1] != rate.rate:
            connection.execute(update(exchange_rates).where(exchange_rates.c.id == existing[0]).values(rate=text))
            updated += 1
        else:
            unchanged += 1
    return created, updated, unchanged


def delete_rate(connection: Connection, workspace_id: int, rate_id: int) -> bool:
    result = connection.execute(
        delete(exchange_rates).where(exchange_rates.c.workspace_id == workspace_id, exchange_rates.c.id == rate_id)
    )
    return result.rowcount > 0
