"""The ledger from the command line: a segment's history and sizes, its members as of a date, a fan's memberships."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Annotated

import typer

from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import open_workspace
from fanbase.cli.common import print_table
from fanbase.cli.common import short_time
from fanbase.cli.common import stdout
from fanbase.clock import utc_now
from fanbase.errors import InvalidInput
from fanbase.schemas.common import require_utc
from fanbase.schemas.history import Bucket
from fanbase.schemas.history import MembershipEvent
from fanbase.services import history


def _instant(text: str, *, option: str) -> datetime:
    try:
        return require_utc(datetime.fromisoformat(text))
    except ValueError as error:
        raise InvalidInput(f"{error}; e.g. 2026-06-01T00:00:00Z", field=option) from error


PageOption = Annotated[int, typer.Option(min=1)]
PageSizeOption = Annotated[int, typer.Option(min=1, max=500)]


def _print_events(events: list[MembershipEvent]) -> None:
    print_table(
        ("when (UTC)", "fan", "segment", "", "cause", "rule v."),
        (
            (
                short_time(event.at),
                event.fan_email,
                event.segment_name,
                "entered" if event.entered else "left",
                event.cause,
                str(event.rule_version),
            )
            for event in events
        ),
    )


def segment_history(
    segment_id: int, workspace: WorkspaceOption = None, page: PageOption = 1, page_size: PageSizeOption = 50
) -> None:
    """Who entered and left the segment, when and why (newest first)."""
    with open_workspace(workspace) as (database, workspace_id):
        result = history.segment_history(database, workspace_id, segment_id, page=page, page_size=page_size)
    _print_events(result.items)
    stdout().print(f"{len(result.items)} of {result.total} entries and exits.")


def segment_sizes(
    segment_id: int,
    workspace: WorkspaceOption = None,
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many days back")] = 30,
    bucket: Annotated[str, typer.Option(help="hour or day")] = "day",
) -> None:
    """Size, entered and exited per hour or day."""
    if bucket not in ("hour", "day"):
        raise InvalidInput("must be hour or day", field="--bucket")
    resolution: Bucket = "hour" if bucket == "hour" else "day"
    now = utc_now()
    with open_workspace(workspace) as (database, workspace_id):
        points = history.segment_sizes(
            database, workspace_id, segment_id, start=now - timedelta(days=days), end=now, bucket=resolution
        )
    print_table(
        ("from (UTC)", "size", "entered", "exited"),
        ((short_time(point.at), str(point.size), str(point.entered), str(point.exited)) for point in points),
    )


def members_as_of(
    segment_id: int,
    at: Annotated[str, typer.Option("--at", help="An instant, ISO 8601 with timezone")],
    workspace: WorkspaceOption = None,
    page: PageOption = 1,
    page_size: PageSizeOption = 100,
) -> None:
    """The members the segment had at a past instant (from the ledger)."""
    instant = _instant(at, option="--at")
    with open_workspace(workspace) as (database, workspace_id):
        result = history.members_as_of(database, workspace_id, segment_id, at=instant, page=page, page_size=page_size)
    console = stdout()
    for fan in result.items:
        console.print(f"{fan.id}\t{fan.email}", markup=False)
    console.print(f"{len(result.items)} of {result.total} members at {short_time(instant)} UTC.")


def fan_segments(fan_id: int, workspace: WorkspaceOption = None) -> None:
    """The segments a fan is in: since when, and why."""
    with open_workspace(workspace) as (database, workspace_id):
        memberships = history.fan_segments(database, workspace_id, fan_id)
    print_table(
        ("segment", "type", "since (UTC)", "cause", "rule v."),
        (
            (item.segment_name, item.kind, short_time(item.since), item.cause, str(item.rule_version))
            for item in memberships
        ),
    )


def fan_history(
    fan_id: int, workspace: WorkspaceOption = None, page: PageOption = 1, page_size: PageSizeOption = 50
) -> None:
    """Every segment the fan entered or left (newest first)."""
    with open_workspace(workspace) as (database, workspace_id):
        result = history.fan_history(database, workspace_id, fan_id, page=page, page_size=page_size)
    _print_events(result.items)
