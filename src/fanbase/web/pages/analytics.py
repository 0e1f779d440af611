"""Analytics: compare two or more segments over a chosen period — size, revenue, orders, activity."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fanbase.errors import FanbaseError
from fanbase.services import analytics
from fanbase.web import data
from fanbase.web.components.common import signed_in
from fanbase.web.layout import frame
from fanbase.web.layout import page_title
from fanbase.web.state import current
from fanbase.web.state import in_thread

PERIODS = {7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days"}
METRICS: tuple[tuple[str, str], ...] = (
    ("sizes", "Size"),
    ("revenue", "Revenue"),
    ("orders", "Orders"),
    ("active_fans", "Active fans"),
)


def _chart_options(title: str, buckets: list[str], series: list[tuple[str, list[Any]]], *, kind: str) -> dict[str, Any]:
    return {
        "title": {"text": title, "textStyle": {"fontSize": 14, "fontWeight": "normal"}},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "type": "scroll"},
        "grid": {"left": 50, "right": 20, "top": 36, "bottom": 50},
        "xAxis": {"type": "category", "data": [b[5:] for b in buckets]},
        "yAxis": {"type": "value"},
        "series": [
            {"name": name, "type": kind, "data": values, "smooth": True, "symbol": "none", "connectNulls": True}
            for name, values in series
        ],
    }


@ui.page("/analytics", title="Analytics · fanbase")
def analytics_page(request: Request) -> RedirectResponse | None:
    user = signed_in(request)
    if isinstance(user, RedirectResponse):
        return user
    state = current()
    segments = data.all_segments(user.workspace_id)
    options = {segment.id: segment.name for segment in segments}
    with frame(user, active="analytics", title="Analytics"):
        page_title("Analytics", subtitle="Compare segments over time: size, revenue, orders and activity.")
        with ui.card().classes("w-full"), ui.row().classes("w-full items-center gap-2"):
            chosen = (
                ui.select(
                    options,
                    label="Segments to compare",
                    multiple=True,
                    value=[segment.id for segment in segments[:3]],
                )
                .props('dense outlined use-chips data-testid="compare-segments"')
                .classes("col-grow min-w-[16rem]")
            )
            period = ui.select(PERIODS, value=30, label="Period").props("dense outlined").classes("w-40")
            ui.button("Compare", icon="insights", on_click=lambda: compare()).props(
                'unelevated no-caps color="indigo-8" data-testid="compare"'
            )
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
                result = await in_thread(
                    analytics.compare_segments,
                    state.database,
                    user.workspace_id,
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
                            _chart_options(
                                title, result.buckets, values, kind="line" if attribute == "sizes" else "bar"
                            )
                        ).classes("w-full").style("height: 280px")

        ui.timer(0.01, compare, once=True)
    return None
