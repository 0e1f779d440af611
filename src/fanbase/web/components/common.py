"""Small pieces the pages share: the registration of a signed-in page, a record's page, buttons, a form's problems,
table columns and cells, sparklines, charts, the paginated tables."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import date
from typing import Any
from typing import Generic
from typing import Literal
from typing import TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fanbase.errors import FanbaseError
from fanbase.errors import NotFound
from fanbase.schemas.common import Page
from fanbase.schemas.fans import Fan
from fanbase.web.auth import request_user
from fanbase.web.layout import AXIS_DAY
from fanbase.web.layout import money
from fanbase.web.state import in_thread


def column(
    name: str,
    label: str,
    *,
    align: Literal["left", "right"] = "left",
    field: str | None = None,
    is_sortable: bool = False,
    is_hidden_when_narrow: bool = False,
    is_count: bool = False,
) -> dict[str, Any]:
    """A table column showing the row's ``field`` (by default its ``name``); a count is shown with thousands
    separators (and still sorts as a number)."""
    spec: dict[str, Any] = {"name": name, "label": label, "field": field or name, "align": align}
    if is_count:
        spec[":format"] = "value => value == null ? '' : Number(value).toLocaleString('en-US')"
    if is_sortable:
        spec["sortable"] = True
    if is_hidden_when_narrow:
        spec["classes"] = spec["headerClasses"] = "fb-hide-sm"
    return spec


ACTIONS_COLUMN = column("actions", "", field="id", align="right")
# The style of a line in a table cell cut to the column's width (with class "ellipsis"): it takes the column's
# width but adds nothing to the column's minimum, so a long line never widens a table (on a phone, sideways).
CUT_TO_COLUMN = "width: 0; min-width: 100%"


def link_cell(path: str, *, key: str = "id", under: str = "", is_name: bool = False) -> str:
    """A table cell's template (a ``body-cell-…`` slot): the value as a link to ``path`` and the row's ``key``
    ("/fans/" and the fan's id), then ``under`` (HTML below it); a row's name (``is_name``) is set in bold."""
    weight = " text-weight-medium" if is_name else ""
    return (
        f'<q-td :props="props"><a class="text-indigo-8{weight}" :href="\'{path}\' + props.row.{key}">'
        f"{{{{ props.value }}}}</a>{under}</q-td>"
    )


def cut_caption(key: str) -> str:
    """A muted line under a cell's value: the row's ``key`` cut to the column's width."""
    return f'<div class="fb-muted text-caption ellipsis" style="{CUT_TO_COLUMN}">{{{{ props.row.{key} }}}}</div>'


RecordT = TypeVar("RecordT")

FAN_COLUMNS: list[dict[str, Any]] = [
    column("email", "Email"),
    column("name", "Name"),
    column("stage", "Lifecycle Stage", is_hidden_when_narrow=True),
    column("spent", "Total Spent", align="right"),
    column("orders", "Purchase Count", align="right", is_hidden_when_narrow=True, is_count=True),
    column("country", "Country", is_hidden_when_narrow=True),
]


def action_button(
    text: str,
    *,
    icon: str | None = None,
    on_click: Callable[..., Any],
    testid: str | None = None,
    is_main: bool = False,
    is_danger: bool = False,
    is_dense: bool = False,
) -> ui.button:
    """A button in the dashboard's style: filled for the main action of its place (``is_main``), flat for the others;
    indigo, or red for what removes or stops something (``is_danger``)."""
    color = "negative" if is_danger else "indigo-8"
    props = f'{"unelevated" if is_main else "flat"}{" dense" if is_dense else ""} no-caps color="{color}"'
    if testid is not None:
        props += f' data-testid="{testid}"'
    return ui.button(text, icon=icon, on_click=on_click).props(props)


async def make_change(change: Callable[[], None], *, done: str) -> None:
    """Make a change that answers nothing (a deletion) off the event loop, then say in a toast that it was ``done``,
    or why it was refused."""

    def changed() -> bool:
        change()
        return True  # in_thread reads an answer of None as the server shutting down

    try:
        await in_thread(changed)
    except FanbaseError as error:
        ui.notify(error.message, type="negative")
    else:
        ui.notify(done, type="positive")


def show_problems_at(fields: Mapping[str, Any], problems: Iterable[tuple[str | None, str]], *, below: ui.label) -> None:
    """A form's problems: each at its field (its ``error``), those about no field (or another) in the line ``below``."""
    elsewhere = []
    for field_name, message in problems:
        field = fields.get(field_name or "")
        if field is not None:
            field.error = message
        else:
            elsewhere.append(message)
    below.set_text("; ".join(elsewhere))
    below.set_visibility(bool(elsewhere))


def clear_problems_at(fields: Mapping[str, Any], *, below: ui.label) -> None:
    for field in fields.values():
        field.error = None
    below.set_visibility(False)


PageBuilder = Callable[..., None]


def dashboard_page(path: str, *, title: str) -> Callable[[PageBuilder], PageBuilder]:
    """Register a page for signed-in users at ``path``: a visitor who is not signed in is sent to the sign-in page;
    otherwise the decorated function builds the page, called with the signed-in user first and then with the path's
    and query's parameters it names (``request`` too, when it names it). ``title`` is the page's name before the
    frame names it with the workspace."""

    def register(build: PageBuilder) -> PageBuilder:
        # The parameters after the user are the page's own: FastAPI reads them (types included) from the signature.
        parameters = list(inspect.signature(build, eval_str=True).parameters.values())[1:]
        is_request_named = any(parameter.name == "request" for parameter in parameters)

        def page(request: Request, **arguments: Any) -> RedirectResponse | None:
            user = request_user(request)
            if user is None:
                return RedirectResponse("/login", status_code=303)
            if is_request_named:
                arguments["request"] = request
            build(user, **arguments)
            return None

        request_parameter = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
        page_parameters = [parameter for parameter in parameters if parameter.name != "request"]
        page.__signature__ = inspect.Signature([request_parameter, *page_parameters])  # type: ignore[attr-defined]
        page.__name__ = build.__name__
        ui.page(path, title=f"{title} · fanbase")(page)
        return build

    return register


def found_or_none(lookup: Callable[[], RecordT]) -> RecordT | None:
    """What ``lookup`` finds, or None when it is not there: a record's page says so instead of failing."""
    try:
        return lookup()
    except NotFound:
        return None


def show_record(record: RecordT | None, content: Callable[[RecordT], object], *, missing: str) -> None:
    """A record's page content, or when the record is not in the workspace (deleted since, or another workspace's
    address) the line ``missing`` saying so."""
    if record is None:
        ui.label(missing).classes("text-h6")
    else:
        content(record)


def fan_row(fan: Fan, currency: str) -> dict[str, Any]:
    return {
        "id": fan.id,
        "email": fan.email,
        "name": " ".join(part for part in (fan.first_name, fan.last_name) if part) or "—",
        "stage": fan.lifecycle_stage,
        "spent": money(fan.total_spent, currency),
        "orders": fan.purchase_count,
        "country": fan.country or "—",
    }


def sparkline_svg(values: Sequence[int], *, width: int = 120, height: int = 28) -> str:
    """A tiny inline SVG line of the values (sizes per day); a flat line when they do not change."""
    if not values:
        return '<span class="fb-muted">—</span>'
    if len(values) == 1:  # a segment's first day: a line of one point is drawn as nothing
        values = [values[0], values[0]]
    low, high = min(values), max(values)
    span = (high - low) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{index * step:.1f},{height - 3 - (value - low) / span * (height - 6):.1f}"
        for index, value in enumerate(values)
    )
    trend = "#16a34a" if values[-1] >= values[0] else "#dc2626"
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="size: {values[0]:,} to {values[-1]:,}">'
        f'<polyline fill="none" stroke="{trend}" stroke-width="2" points="{points}"/></svg>'
    )


# A chart axis's numbers as the tables show counts: 12,345.
COUNT_LABEL = "value => Number(value).toLocaleString('en-US')"


def size_chart(points: Sequence[Any]) -> ui.echart:
    """Size over time (line) with entered / exited per bucket (bars)."""
    return ui.echart(size_chart_options(points)).classes("w-full").style("height: 300px")


def show_size_chart(chart: ui.echart, points: Sequence[Any]) -> None:
    """Put other points in a size chart (another period, or after a change of its size)."""
    chart.options.clear()
    chart.options.update(size_chart_options(points))
    chart.update()


def size_chart_options(points: Sequence[Any]) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["Size", "Entered", "Left"], "bottom": 0},
        "grid": {"left": 56, "right": 56, "top": 36, "bottom": 50},
        "xAxis": {"type": "category", "data": [point.at.strftime(AXIS_DAY) for point in points]},
        "yAxis": [
            {"type": "value", "name": "fans", "minInterval": 1, "axisLabel": {":formatter": COUNT_LABEL}},
            {
                "type": "value",
                "name": "entered / left",
                "minInterval": 1,
                "splitLine": {"show": False},
                "axisLabel": {":formatter": COUNT_LABEL},
            },
        ],
        "series": [
            {
                "name": "Size",
                "type": "line",
                "data": [point.size for point in points],
                "smooth": True,
                # Points are drawn on short histories: a segment created today has one, and a lone point of a line
                # without symbols is invisible.
                "symbolSize": 6,
                "showSymbol": len(points) < 60,
                "areaStyle": {"opacity": 0.12},
                "color": "#3949ab",
            },
            {
                "name": "Entered",
                "type": "bar",
                "yAxisIndex": 1,
                "data": [point.entered for point in points],
                "color": "#43a047",
            },
            {
                "name": "Left",
                "type": "bar",
                "yAxisIndex": 1,
                "data": [-point.exited for point in points],
                "color": "#e53935",
            },
        ],
    }


def day_chart_options(
    title: str, buckets: list[str], series: list[tuple[str, list[Any]]], *, kind: str, currency: str | None = None
) -> dict[str, Any]:
    """A chart of one figure per day; money (``currency``) and counts are labelled as the tables show them."""
    unit = "" if currency is None else money(0, currency).split("0")[0]
    label = f"value => '{unit}' + Number(value).toLocaleString('en-US')"
    return {
        "title": {"text": title, "textStyle": {"fontSize": 14, "fontWeight": "normal"}},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "type": "scroll"},
        "grid": {"left": 50, "right": 20, "top": 36, "bottom": 50},
        "xAxis": {"type": "category", "data": [date.fromisoformat(b).strftime(AXIS_DAY) for b in buckets]},
        # Counts (sizes, orders, opens) step by whole numbers: no "0.5 orders" on the axis.
        "yAxis": {"type": "value", "minInterval": 1 if currency is None else 0, "axisLabel": {":formatter": label}},
        "series": [
            # Points are drawn: a segment created today has one, and a line of one point is otherwise invisible.
            {
                "name": name,
                "type": kind,
                "data": values,
                "smooth": True,
                "symbolSize": 6,
                "connectNulls": True,
                "barMaxWidth": 32,  # a chart of one or two days keeps bars a bar's width, not half the chart's
            }
            for name, values in series
        ],
    }


class PagedTable(Generic[RecordT]):
    """A table paginated on the server: ``load(page, page_size)`` returns one page, ``row`` makes a record's row.

    The server owns the total. Quasar sends the table's pagination back when it mounts (``update:pagination``, with
    the total it was first rendered with, 0), and NiceGUI's table adopts any pagination the browser sends. Arriving
    after the first page's load, that message used to reset the total to 0: "1-0 of 0" and no page buttons on about
    a third of loads. So every pagination from the browser is taken for its page and size only, and the total is
    put back.
    """

    def __init__(
        self,
        load: Callable[[int, int], Page[RecordT]],
        *,
        row: Callable[[RecordT], dict[str, Any]],
        columns: list[dict[str, Any]],
        page_size: int = 25,
        on_row: Callable[[dict[str, Any]], None] | None = None,
        on_shown: Callable[[Page[RecordT]], None] | None = None,
        testid: str,
        empty: str = "Nothing here yet.",
    ) -> None:
        self.load = load
        self.row = row
        self.on_shown = on_shown  # told each page shown (a stale load, superseded, is not shown)
        self.table = (
            ui.table(
                columns=columns,
                rows=[],
                row_key="id",
                pagination={"page": 1, "rowsPerPage": page_size, "rowsNumber": 0},
            )
            .classes("w-full")
            .props(f'flat bordered dense :rows-per-page-options="[10,25,50,100]" data-testid="{testid}"')
        )
        self.table.props["no-data-label"] = empty
        self.total = 0
        self._asked = 0  # refreshes started; only the latest one's page is shown
        self.table.on_pagination_change(self._keep_total)
        self.table.on("request", self.on_request)
        if on_row is not None:
            self.table.on("rowClick", lambda event: on_row(event.args[1]))

    async def refresh(self, page: int | None = None) -> bool:
        """Load the table's page (or ``page``) and show it, unless a later refresh started meanwhile: loads run in
        threads and can finish out of order (next, then previous, clicked quickly), and the page asked for last is
        the one to show. Whether this one was shown."""
        self._asked += 1
        asked = self._asked
        pagination = dict(self.table.pagination)
        if page is not None:
            pagination["page"] = page
        self.table.props("loading")
        try:
            result = await in_thread(self.load, int(pagination["page"]), int(pagination["rowsPerPage"]))
        finally:
            if asked == self._asked:
                self.table.props(remove="loading")
        if asked != self._asked:
            return False  # a later refresh shows its own page
        self.total = result.total
        pagination["rowsNumber"] = result.total
        self.table.pagination = pagination
        self.table.rows = [self.row(item) for item in result.items]
        self.table.update()
        if self.on_shown is not None:
            self.on_shown(result)
        return True

    def _keep_total(self, event: Any) -> None:
        if self.table.pagination.get("rowsNumber") != self.total:
            self.table.pagination = {**self.table.pagination, "rowsNumber": self.total}

    async def on_request(self, event: Any) -> None:
        requested = event.args["pagination"]
        pagination = dict(self.table.pagination)
        pagination["page"] = max(1, int(requested.get("page") or 1))
        pagination["rowsPerPage"] = requested.get("rowsPerPage", pagination["rowsPerPage"]) or 25
        self.table.pagination = pagination
        await self.refresh()


class FanTable(PagedTable[Fan]):
    """A fans table paginated on the server (Email, Name, Lifecycle Stage, …), each email a link to the fan."""

    def __init__(
        self,
        load: Callable[[int, int], Page[Fan]],
        *,
        currency: str,
        page_size: int = 25,
        extra_columns: list[dict[str, Any]] | None = None,
        on_row: Callable[[dict[str, Any]], None] | None = None,
        on_shown: Callable[[Page[Fan]], None] | None = None,
        testid: str = "fans-table",
    ) -> None:
        self.currency = currency
        super().__init__(
            load,
            row=lambda fan: fan_row(fan, currency),
            columns=FAN_COLUMNS + (extra_columns or []),
            page_size=page_size,
            on_row=on_row,
            on_shown=on_shown,
            testid=testid,
            empty="No fans to show.",
        )
        self.table.add_slot("body-cell-email", link_cell("/fans/"))
