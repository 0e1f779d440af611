"""`fanbase analytics`: segments compared over a period, and how segments overlap (the dashboard's Analytics page)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from fanbase.cli.common import JsonOption
from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import open_workspace
from fanbase.cli.common import print_json
from fanbase.cli.common import print_table
from fanbase.cli.common import stdout
from fanbase.clock import utc_now
from fanbase.schemas.common import MAX_ID
from fanbase.services import analytics

analytics_app = typer.Typer(help="Compare segments and see how they overlap.", no_args_is_help=True)

SegmentIds = Annotated[
    list[int], typer.Argument(help="Segment ids (see `fanbase segments list`).", min=1, max=MAX_ID, show_default=False)
]


@analytics_app.command("overlap")
def overlap(segment_ids: SegmentIds, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """How two or three segments overlap: every region of their Venn diagram, and each pair's shared fans."""
    with open_workspace(workspace) as (database, workspace_id):
        result = analytics.overlap(database, workspace_id, segment_ids)
    if as_json:
        print_json(result)
        return
    print_table(
        ("fans in exactly", "fans"),
        ((" and ".join(region.segments), f"{region.fans:,}") for region in result.regions),
    )
    names = {segment.id: segment.name for segment in result.segments}
    print_table(
        ("segments", "shared", "of the first", "of the second"),
        (
            (
                f"{names[pair.first_id]} / {names[pair.second_id]}",
                f"{pair.shared:,}",
                f"{pair.share_of_first:.1%}",
                f"{pair.share_of_second:.1%}",
            )
            for pair in result.pairs
        ),
    )
    stdout().print(f"In all: {result.in_all:,}; in any: {result.in_any:,}.", markup=False)


@analytics_app.command("compare")
def compare(
    segment_ids: SegmentIds,
    workspace: WorkspaceOption = None,
    days: Annotated[int, typer.Option(min=1, max=90, help="How many days back")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Segments side by side per day: size, revenue, orders and active fans of their current members."""
    now = utc_now()
    with open_workspace(workspace) as (database, workspace_id):
        result = analytics.compare_segments(
            database, workspace_id, segment_ids, start=now - timedelta(days=days), end=now, bucket="day"
        )
    if as_json:
        print_json(result)
        return
    print_table(
        ("day (UTC)", "segment", "size", "revenue", "orders", "active fans"),
        (
            (
                bucket,
                series.segment_name,
                "—" if series.sizes[index] is None else f"{series.sizes[index]:,}",
                f"{series.revenue[index]:,.2f}",
                f"{series.orders[index]:,}",
                f"{series.active_fans[index]:,}",
            )
            for index, bucket in enumerate(result.buckets)
            for series in result.series
        ),
    )
