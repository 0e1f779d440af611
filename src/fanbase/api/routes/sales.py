"""Data in from where artists sell: CSV imports of orders and events (any vendor format), exchange rates, the
signed sales endpoints and their deliveries. (The endpoints themselves are public: ``api.public_sales``.)"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi import Depends
from fastapi import File
from fastapi import Path
from fastapi import Query
from fastapi import Request
from fastapi import Response
from fastapi import UploadFile
from fastapi import status

from fanbase.api.deps import ActorDep
from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import PagingDep
from fanbase.api.deps import StateDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.schemas import error_responses
from fanbase.api.schemas import object_id
from fanbase.api.uploads import read_upload
from fanbase.errors import InvalidInput
from fanbase.errors import TooLarge
from fanbase.schemas.common import Page
from fanbase.schemas.common import require_utc
from fanbase.schemas.currencies import CurrencyCode
from fanbase.schemas.currencies import ExchangeRate
from fanbase.schemas.currencies import ExchangeRatesIn
from fanbase.schemas.currencies import ExchangeRatesWritten
from fanbase.schemas.sales import FormatChoice
from fanbase.schemas.sales import ImportKind
from fanbase.schemas.sales import SalesDelivery
from fanbase.schemas.sales import SalesImportPreview
from fanbase.schemas.sales import SalesImportReport
from fanbase.schemas.sales import SalesSource
from fanbase.schemas.sales import SalesSourceIn
from fanbase.schemas.sales import Vendor
from fanbase.services import currencies
from fanbase.services import sales_csv
from fanbase.services import sales_sources
from fanbase.services.sales_formats import ImportOptions

router = APIRouter(responses=error_responses(401, 422))

RateId = Annotated[int, object_id("exchange rate")]
KindPath = Annotated[ImportKind, Path(description="orders or events")]
VendorPath = Annotated[Vendor, Path(description="shopify, stripe or generic")]
SalesFile = Annotated[UploadFile, File(description="A CSV file: fanbase's columns or a vendor's export.")]
FormatQuery = Annotated[
    FormatChoice, Query(alias="format", description="auto: recognised by the header; or the vendor's format.")
]


def _options(
    event_name: Annotated[str | None, Query(max_length=200, description="Eventbrite: the event, if no column.")] = None,
    venue: Annotated[str | None, Query(max_length=200, description="Eventbrite: the venue of the event.")] = None,
    city: Annotated[str | None, Query(max_length=200, description="Eventbrite: the city of the venue.")] = None,
    attended_at: Annotated[
        datetime | None, Query(description="Eventbrite: when checked-in attendees attended (the file has no time).")
    ] = None,
) -> ImportOptions:
    """What an Eventbrite attendee summary leaves out and the person importing knows."""
    if attended_at is not None:
        try:
            attended_at = require_utc(attended_at)
        except ValueError as error:
            raise InvalidInput(str(error), field="attended_at") from None
    return ImportOptions(event_name=event_name, venue=venue, city=city, attended_at=attended_at)


OptionsDep = Annotated[ImportOptions, Depends(_options)]


def _stream(file: UploadFile, state: StateDep) -> UploadFile:
    """The uploaded file, from its start; refused when empty or over the upload limit (the CLI takes any size)."""
    limit = state.settings.max_csv_bytes
    size = file.size if file.size is not None else file.file.seek(0, 2)
    if size > limit:
        raise TooLarge(
            f"the file is {size:,} bytes, over the limit of {limit:,}; split it, or import it with "
            "`fanbase import orders FILE`",
            field="file",
        )
    if size == 0:
        raise InvalidInput("the file is empty; expected a header row", field="file")
    file.file.seek(0)
    return file


@router.post("/imports/{kind}", tags=["imports"], responses=error_responses(413))
def import_sales(
    kind: KindPath,
    file: SalesFile,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
    state: StateDep,
    options: OptionsDep,
    format_choice: FormatQuery = "auto",
) -> SalesImportReport:
    """Import orders or events from a CSV: fanbase's columns, or a Shopify orders export, Bandcamp sales report,
    Stripe payments export or Eventbrite attendee summary (recognised by the header). Fans are found by email and
    created when unknown; amounts in another currency are converted at the workspace's rates. Importing the same
    file again changes nothing; a later export brings refunds in. Bad rows are reported by line; the rest go in.
    Eventbrite's `venue`, `city` and `attended_at` fill what its report leaves out."""
    upload = _stream(file, state)
    return sales_csv.import_sales_csv(
        database, workspace_id, upload.file, kind=kind, format_choice=format_choice, options=options, now=now
    )


@router.post("/imports/{kind}/preview", tags=["imports"], responses=error_responses(413))
def preview_sales(
    kind: KindPath,
    file: SalesFile,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    state: StateDep,
    options: OptionsDep,
    format_choice: FormatQuery = "auto",
    rows: Annotated[int, Query(ge=1, le=200)] = sales_csv.PREVIEW_ROWS,
) -> SalesImportPreview:
    """A dry run: the format recognised and the first rows as the import would write them (converted amounts
    included), with their problems. Nothing is written."""
    upload = _stream(file, state)
    return sales_csv.preview_sales_csv(
        database, workspace_id, upload.file, kind=kind, format_choice=format_choice, options=options, rows=rows
    )


@router.get("/exchange-rates", tags=["exchange rates"])
def list_rates(
    database: DatabaseDep, workspace_id: WorkspaceDep, currency: CurrencyCode | None = None
) -> list[ExchangeRate]:
    """The workspace's rates, by currency, newest first. One unit of `currency` is worth `rate` of the workspace
    currency from `valid_from` (UTC) until the next rate of that currency."""
    return currencies.list_rates(database, workspace_id, currency=currency)


@router.put("/exchange-rates", tags=["exchange rates"])
def set_rates(
    body: ExchangeRatesIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> ExchangeRatesWritten:
    """Add rates, or replace the rate of a currency and day. Orders already written keep the rate they were
    converted at: totals never change retroactively."""
    return currencies.set_rates(database, workspace_id, body.rates, now=now)


@router.post("/exchange-rates/import", tags=["exchange rates"], responses=error_responses(413))
def import_rates(
    file: Annotated[UploadFile, File(description="CSV with columns currency, valid_from, rate.")],
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
) -> ExchangeRatesWritten:
    """Rates from a CSV (columns `currency`, `valid_from`, `rate`); all or nothing: a bad line refuses the file."""
    limit = currencies.MAX_RATES_CSV_BYTES
    data = read_upload(file, limit=limit, too_large=f"the file is larger than the limit of {limit:,} bytes")
    return currencies.set_rates(database, workspace_id, currencies.rates_from_csv(data), now=now)


@router.delete(
    "/exchange-rates/{rate_id}",
    tags=["exchange rates"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404),
)
def delete_rate(rate_id: RateId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Response:
    """Delete a rate: orders converted at it keep it."""
    currencies.delete_rate(database, workspace_id, rate_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _base_url(request: Request, state: StateDep) -> str:
    return str(state.settings.public_url or request.base_url).rstrip("/")


@router.get("/sales-sources", tags=["sales webhooks"])
def list_sources(
    request: Request, database: DatabaseDep, workspace_id: WorkspaceDep, state: StateDep
) -> list[SalesSource]:
    """The workspace's signed sales endpoints: where to point Shopify's or Stripe's webhooks."""
    return sales_sources.list_sources(database, workspace_id, base_url=_base_url(request, state))


@router.put("/sales-sources/{vendor}", tags=["sales webhooks"])
def set_source(
    vendor: VendorPath,
    body: SalesSourceIn,
    request: Request,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    state: StateDep,
    now: NowDep,
    actor: ActorDep,
) -> SalesSource:
    """Set up (or re-key) a vendor's endpoint. Shopify: its app's client secret; Stripe: the endpoint's signing
    secret (whsec_…). Generic: fanbase makes the secret and shows it in this reply only."""
    return sales_sources.set_source(
        database, workspace_id, vendor, body.secret, base_url=_base_url(request, state), now=now, actor=actor
    )


@router.delete(
    "/sales-sources/{vendor}",
    tags=["sales webhooks"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404),
)
def delete_source(
    vendor: VendorPath, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> Response:
    """Remove an endpoint: its deliveries are refused (404) from now on."""
    sales_sources.delete_source(database, workspace_id, vendor, now=now, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/sales-deliveries", tags=["sales webhooks"])
def list_deliveries(database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep) -> Page[SalesDelivery]:
    """Every delivery to the sales endpoints, newest first, with its outcome: processed, unchanged (a replay),
    ignored (a topic fanbase does not read), rejected (bad signature) or failed (nothing written, and why)."""
    return sales_sources.list_deliveries(database, workspace_id, page=paging.page, page_size=paging.page_size)
