"""`fanbase segments verify`: recompute every segment from scratch and report any drift from stored membership."""

from __future__ import annotations

import typer

from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import open_workspace
from fanbase.cli.common import print_table
from fanbase.cli.common import stdout
from fanbase.clock import utc_now
from fanbase.services import segments


def verify(workspace: WorkspaceOption = None) -> None:
    """Recompute every dynamic segment from scratch and compare with its stored members (exit 1 on drift).

    Differences explained by time boundaries crossed since the last scheduler tick are shown as "pending" and
    are not drift: the next tick applies them."""
    with open_workspace(workspace) as (database, workspace_id):
        report = segments.verify(database, workspace_id, now=utc_now())
    print_table(
        ("segment", "missing", "extra", "pending (time)", "state"),
        (
            (
                item.segment_name,
                str(item.missing),
                str(item.extra),
                str(item.pending_time),
                "exact" if item.is_exact else "DRIFT",
            )
            for item in report
        ),
    )
    drifted = [item for item in report if not item.is_exact]
    stdout().print(f"{len(report)} dynamic segment(s) checked; {len(drifted)} with drift.")
    if drifted:
        raise typer.Exit(1)
