"""Analytics: compare segments over a chosen period (size, revenue, orders, activity), and how two or three overlap;
every chart's data can be downloaded as CSV (the same figures are in the API and the CLI)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from nicegui import ui

from fanbase.errors import FanbaseError
from fanbase.schemas.analytics import SegmentComparison
from fanbase.schemas.users import SignedInUser
from fanbase.services import analytics
from fanbase.web import data
from fanbase.web.components.common import action_button
from fanbase.web.components.common import dashboard_page
from fanbase.web.components.common import day_chart_options
from fanbase.web.layout import frame
from fanbase.web.layout import page_title
from fanbase.web.state import current
from fanbase.web.state import in_workspace

PERIODS = {7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days"}
METRICS: tuple[tuple[str, str], ...] = (
    ("sizes", "Size"),
    ("revenue", "Revenue"),
    ("orders", "Orders"),
    ("active_fans", "Active fans"),
)


@dashboard_page("/analytics", title="Analytics")
def analytics_page(user: SignedInUser) -> None:
    state = current()
    segments = data.all_segments(user.workspace_id)
    options = {segment.id: segment.name for segment in segments}
    with frame(user, active="analytics", title="Analytics"):
        page_title("Analytics", subtitle="Compare segments over time: size, revenue, orders and activity.")
        with ui.card().classes("w-full"), ui.row().classes("w-full items-center gap-2"):
            chosen = (
                ui.select(
                    options,
                    label="Segments to compare (type to find one)",
                    multiple=True,
                    with_input=True,
                    clearable=True,
                    value=[segment.id for segment in segments[:2]],
                )
                .props('dense outlined use-chips data-testid="compare-segments"')
                .classes("col-grow min-w-[16rem]")
            )
            period = ui.select(PERIODS, value=30, label="Period").props("dense outlined").classes("w-40")
            action_button("Compare", icon="insights", on_click=lambda: compare(), testid="compare", is_main=True)
        status = ui.label("").classes("fb-muted")
        charts = ui.grid().classes("w-full gap-4").style("grid-template-columns: repeat(auto-fit, minmax(340px, 1fr))")

        async def compare() -> None:
            ids = [int(value) for value in chosen.value or []]
            if not ids:
                status.set_text("Choose at least one segment.")
                return
            now = state.now()
            status.set_text("Computing…")
            spinner = ui.spinner()
            try:
                result = await in_workspace(
                    user,
                    analytics.compare_segments,
                    ids,
                    start=now - timedelta(days=int(period.value)),
                    end=now,
                    bucket="day",
                )
            except FanbaseError as error:
                status.set_text(str(error))
                return
            finally:
                spinner.delete()
            status.set_text("")
            charts.clear()
            with charts:
                for attribute, title in METRICS:
                    values = [
                        (
                            s.segment_name,
                            [float(v) if v is not None else None for v in getattr(s, attribute)],
                        )
                        for s in result.series
                    ]
                    with ui.card().classes("w-full"):
                        ui.echart(
                            day_chart_options(
                                title,
                                result.buckets,
                                values,
                                kind="line" if attribute == "sizes" else "bar",
                                currency=user.currency if attribute == "revenue" else None,
                            )
                        ).classes("w-full").style("height: 280px")
                        _csv_button(title, ["day (UTC)", *(name for name, _ in values)], _columns(result, attribute))

        ui.timer(0.01, compare, once=True)
        _overlap_card(user, options)


def _columns(result: SegmentComparison, attribute: str) -> list[list[Any]]:
    """One row per bucket: its key, then each segment's value."""
    return [
        [bucket, *(getattr(series, attribute)[index] for series in result.series)]
        for index, bucket in enumerate(result.buckets)
    ]


def _csv_button(title: str, header: list[str], rows: list[list[Any]]) -> None:
    """Download a chart's data as CSV, named after the chart and the day."""

    def download() -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(["" if value is None else value for value in row] for row in rows)
        day = current().now().date().isoformat()
        ui.download.content(buffer.getvalue().encode(), f"{title} {day}.csv", media_type="text/csv")

    action_button(
        "CSV", icon="download", on_click=download, testid=f"csv-{title.lower().replace(' ', '-')}", is_dense=True
    )


def _overlap_card(user: SignedInUser, options: dict[int, str]) -> None:
    """How two or three segments overlap: each region of their Venn diagram, and each pair's shared fans."""
    with ui.card().classes("w-full").props('data-testid="overlap-card"'):
        ui.label("Overlap").classes("text-subtitle1 text-weight-medium")
        ui.label("How many fans two or three segments share.").classes("fb-muted")
        with ui.row().classes("w-full items-center gap-2"):
            chosen = (
                ui.select(
                    options,
                    label="Two or three segments",
                    multiple=True,
                    with_input=True,
                    clearable=True,
                    value=list(options)[:2],
                )
                .props('dense outlined use-chips max-values=3 data-testid="overlap-segments"')
                .classes("col-grow min-w-[16rem]")
            )
            action_button(
                "Show overlap", icon="join_inner", on_click=lambda: show(), testid="show-overlap", is_main=True
            )
        result_area = ui.column().classes("w-full gap-2")

        async def show() -> None:
            ids = [int(value) for value in chosen.value or []]
            result_area.clear()
            try:
                result = await in_workspace(user, analytics.overlap, ids)
            except FanbaseError as error:
                with result_area:
                    ui.label(str(error)).classes("fb-error")
                return
            regions = [(" and ".join(region.segments), region.fans) for region in result.regions]
            with result_area:
                ui.label(f"{result.in_any:,} fans in any; {result.in_all:,} in all.").props(
                    'data-testid="overlap-summary"'
                )
                ui.echart(
                    {
                        "tooltip": {"trigger": "axis"},
                        "grid": {"left": 180, "right": 30, "top": 10, "bottom": 30},
                        "xAxis": {"type": "value", "minInterval": 1},
                        "yAxis": {
                            "type": "category",
                            "data": [f"only {name}" if " and " not in name else name for name, _ in regions],
                            "inverse": True,
                        },
                        "series": [{"type": "bar", "data": [fans for _, fans in regions], "color": "#3949ab"}],
                    }
                ).classes("w-full").style(f"height: {60 + 34 * len(regions)}px")
                names = {segment.id: segment.name for segment in result.segments}
                ui.table(
                    columns=[
                        {"name": "pair", "label": "Segments", "field": "pair", "align": "left"},
                        {"name": "shared", "label": "Shared fans", "field": "shared", "align": "right"},
                        {"name": "first", "label": "Share of the first", "field": "first", "align": "right"},
                        {"name": "second", "label": "Share of the second", "field": "second", "align": "right"},
                    ],
                    rows=[
                        {
                            "pair": f"{names[pair.first_id]} / {names[pair.second_id]}",
                            "shared": f"{pair.shared:,}",
                            "first": f"{pair.share_of_first:.1%}",
                            "second": f"{pair.share_of_second:.1%}",
                        }
                        for pair in result.pairs
                    ],
                    row_key="pair",
                ).classes("w-full").props('flat bordered dense data-testid="overlap-pairs"')
                _csv_button("Overlap", ["fans in exactly", "fans"], [[name, fans] for name, fans in regions])

        ui.timer(0.01, show, once=True)
