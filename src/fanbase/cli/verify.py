"""`fanbase segments verify`: recompute every segment from scratch and report any drift from stored membership."""

from __future__ import annotations

import typer

from fanbase.cli.common import EXIT_DRIFT
from fanbase.cli.common import JsonOption
from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import open_workspace
from fanbase.cli.common import print_json
from fanbase.cli.common import print_table
from fanbase.cli.common import stdout
from fanbase.clock import utc_now
from fanbase.services import segments


def verify(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Recompute every dynamic segment from scratch and compare with its stored members (exit code 3 on drift).

    Differences explained by time boundaries crossed since the last scheduler tick are shown as "pending" and
    are not drift: the next tick applies them."""
    with open_workspace(workspace) as (database, workspace_id):
        report = segments.verify(database, workspace_id, now=utc_now())
    drifted = [item for item in report if not item.is_exact]
    if as_json:
        print_json({"segments": report, "checked": len(report), "drifted": len(drifted)})
        if drifted:
            raise typer.Exit(EXIT_DRIFT)
        return
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
    stdout().print(f"{len(report)} dynamic segment(s) checked; {len(drifted)} with drift.")
    if drifted:
        raise typer.Exit(EXIT_DRIFT)
