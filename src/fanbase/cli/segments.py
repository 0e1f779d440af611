"""`fanbase segments …`: create, inspect, preview and use segments from the command line.

A bad rule is one line on stderr naming its path in the rule (``error: all[2].count.where.field: unknown order
field 'colour'``) and exit code 1, like every other expected error (see ``fanbase.cli.main``).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from fanbase.cli.common import CommandError
from fanbase.cli.common import UsageError
from fanbase.cli.common import WorkspaceOption
from fanbase.cli.common import command_line_actor
from fanbase.cli.common import open_workspace
from fanbase.cli.common import print_table
from fanbase.cli.common import short_time
from fanbase.cli.common import stderr
from fanbase.cli.common import stdout
from fanbase.cli.common import write_chunks
from fanbase.clock import utc_now
from fanbase.schemas.common import MAX_ID
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.segments import EmailsIn
from fanbase.schemas.segments import MembershipChange
from fanbase.schemas.segments import RuleIn
from fanbase.schemas.segments import Segment
from fanbase.schemas.segments import SegmentIn
from fanbase.schemas.segments import SegmentPatch
from fanbase.services import fan_export
from fanbase.services import previews
from fanbase.services import segments

segments_app = typer.Typer(help="Segments: dynamic (a rule) and static (a curated list of fans).", no_args_is_help=True)

SegmentArgument = Annotated[
    int, typer.Argument(help="The segment's id (see `fanbase segments list`).", min=1, max=MAX_ID, show_default=False)
]
RuleTextOption = Annotated[
    str | None,
    typer.Option("--rule-text", "-r", help="The rule in the text form, e.g. 'total_spent > 100 and tag \"VIP\"'."),
]
RuleJsonOption = Annotated[
    str | None, typer.Option("--rule-json", help="A file holding the rule's JSON form, or - for stdin.")
]
FanIdsOption = Annotated[
    list[int] | None,
    typer.Option("--fan-id", help="A fan's id; repeat for several.", min=1, max=MAX_ID, show_default=False),
]


def _read_rule_json(source: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"--rule-json: cannot read {source}: {error.strerror or error}") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"--rule-json: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error
    if not isinstance(data, dict):
        raise UsageError('--rule-json: a rule is a JSON object, e.g. {"tag": "VIP"}')
    return data


def _freshness(segment: Segment, now: datetime) -> str:
    """How long ago the stored membership was last brought up to date (static segments are always current)."""
    if segment.last_error:
        return "error"
    if segment.kind == "static":
        return "manual"
    if segment.last_evaluated_at is None:
        return "never evaluated"
    seconds = max(0, int((now - segment.last_evaluated_at).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def _print_change(what: str, segment_id: int, change: MembershipChange) -> None:
    stdout().print(
        f"{what} segment {segment_id}: {change.entered} entered, {change.exited} left; {change.size} members.",
        markup=False,
    )


def _print_segment(segment: Segment, *, verb: str | None = None) -> None:
    console = stdout()
    fans_word = "fan" if segment.size == 1 else "fans"
    heading = f"Segment {segment.id} “{segment.name}” ({segment.kind}, {segment.size} {fans_word})"
    console.print(f"{verb} {heading[0].lower()}{heading[1:]}." if verb else heading, markup=False)
    if segment.description:
        console.print(segment.description, markup=False)
    if segment.rule_text is not None:
        console.print(f"Rule: {segment.rule_text}", markup=False)
        console.print(f"In English: {segment.rule_english}", markup=False)
    if segment.last_error:
        console.print(f"Last error: {segment.last_error}", markup=False)


@segments_app.command("list")
def list_segments(workspace: WorkspaceOption = None) -> None:
    """List the workspace's segments with their size and how fresh their membership is."""
    with open_workspace(workspace) as (database, workspace_id):
        found = segments.list_segments(database, workspace_id)
    now = utc_now()
    print_table(
        ("id", "name", "type", "size", "evaluated"),
        (
            (str(segment.id), Text(segment.name), segment.kind, f"{segment.size:,}", _freshness(segment, now))
            for segment in found
        ),
    )


@segments_app.command("show")
def show_segment(segment_id: SegmentArgument, workspace: WorkspaceOption = None) -> None:
    """Show a segment: its rule in text and in English, its size and when it was last evaluated."""
    with open_workspace(workspace) as (database, workspace_id):
        segment = segments.get_segment(database, workspace_id, segment_id)
    _print_segment(segment)
    stdout().print(
        f"Rule version {segment.rule_version}; evaluated {short_time(segment.last_evaluated_at)} UTC "
        f"({_freshness(segment, utc_now())}).",
        markup=False,
    )


@segments_app.command("create")
def create_segment(
    name: Annotated[str, typer.Argument(help="The segment's name (unique in the workspace).")],
    rule_text: RuleTextOption = None,
    rule_json: RuleJsonOption = None,
    is_static: Annotated[
        bool, typer.Option("--static", help="A static segment: no rule; add fans with `segments add`.")
    ] = False,
    description: Annotated[str | None, typer.Option(help="What the segment is for.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Create a dynamic segment from a rule (--rule-text or --rule-json), or a static one (--static)."""
    if [rule_text is not None, rule_json is not None, is_static].count(True) != 1:
        raise UsageError("give exactly one of --rule-text, --rule-json or --static")
    data = SegmentIn(
        name=name,
        description=description,
        kind="static" if is_static else "dynamic",
        rule=_read_rule_json(rule_json) if rule_json is not None else None,
        rule_text=rule_text,
    )
    with open_workspace(workspace) as (database, workspace_id):
        segment = segments.create_segment(database, workspace_id, data, now=utc_now())
    _print_segment(segment, verb="Created")


@segments_app.command("templates")
def list_templates() -> None:
    """List the ready-made segments (create one with `fanbase segments from-template KEY`)."""
    print_table(
        ("key", "name", "rule"),
        ((template.key, Text(template.name), Text(template.rule_text)) for template in segments.list_templates()),
    )


@segments_app.command("from-template")
def create_from_template(
    key: Annotated[str, typer.Argument(help="A template's key (see `fanbase segments templates`).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Create a template's segment (and first the segments it is built on, when missing)."""
    if key not in {template.key for template in segments.list_templates()}:
        raise CommandError(f"no template '{key}'; see `fanbase segments templates`")
    with open_workspace(workspace) as (database, workspace_id):
        segment = segments.create_from_template(database, workspace_id, key, now=utc_now())
    _print_segment(segment, verb="Created")


@segments_app.command("edit")
def edit_segment(
    segment_id: SegmentArgument,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    rule_text: RuleTextOption = None,
    rule_json: RuleJsonOption = None,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Rename a segment, describe it, or change its rule (membership follows at once)."""
    if rule_text is not None and rule_json is not None:
        raise UsageError("give at most one of --rule-text or --rule-json")
    values: dict[str, Any] = {"name": name, "rule_text": rule_text}
    if rule_json is not None:
        values["rule"] = _read_rule_json(rule_json)
    if description is not None:
        values["description"] = description
    patch = SegmentPatch.model_validate({key: value for key, value in values.items() if value is not None})
    if not patch.model_fields_set:
        raise UsageError("nothing to change: give --name, --rule-text, --rule-json or --description")
    with open_workspace(workspace) as (database, workspace_id):
        segment = segments.update_segment(database, workspace_id, segment_id, patch, now=utc_now())
    _print_segment(segment, verb="Updated")


@segments_app.command("delete")
def delete_segment(
    segment_id: SegmentArgument,
    is_confirmed: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Delete a segment (refused while another segment's rule uses it)."""
    with open_workspace(workspace) as (database, workspace_id):
        segment = segments.get_segment(database, workspace_id, segment_id)
        if not is_confirmed:
            typer.confirm(f"Delete segment {segment.id} “{segment.name}” ({segment.size} members)?", abort=True)
        segments.delete_segment(database, workspace_id, segment_id, now=utc_now(), actor=command_line_actor())
    stdout().print(f"Deleted segment {segment_id}.", markup=False)


@segments_app.command("duplicate")
def duplicate_segment(segment_id: SegmentArgument, workspace: WorkspaceOption = None) -> None:
    """Copy a segment as "<name> (copy)": its description and rule, or a static segment's members."""
    with open_workspace(workspace) as (database, workspace_id):
        segment = segments.duplicate_segment(database, workspace_id, segment_id, now=utc_now())
    _print_segment(segment, verb="Created")


@segments_app.command("preview")
def preview_rule(
    rule_text: Annotated[str, typer.Argument(help="The rule in the text form, e.g. 'tag \"VIP\"'.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Who a rule matches, without creating anything: the count, each top-level condition's count, a sample."""
    with open_workspace(workspace) as (database, workspace_id):
        result = previews.preview(database, workspace_id, RuleIn(rule_text=rule_text), now=utc_now())
    console = stdout()
    console.print(f"{result.count:,} {'fan matches' if result.count == 1 else 'fans match'}.", markup=False)
    console.print(f"In English: {result.rule_english}", markup=False)
    for hint in result.hints:
        console.print(f"Hint ({hint.path}): {hint.message}", markup=False)
    if len(result.conditions) > 1:
        conditions = Table("path", "condition", "fans")
        for item in result.conditions:
            conditions.add_row(item.path, Text(item.description), f"{item.count:,}")
        console.print(conditions)
    if result.sample:
        sample = Table("id", "email", "name", "stage", title="Sample")
        for fan in result.sample:
            full_name = " ".join(part for part in (fan.first_name, fan.last_name) if part)
            sample.add_row(str(fan.id), Text(fan.email), Text(full_name), fan.lifecycle_stage)
        console.print(sample)


@segments_app.command("members")
def export_members(
    segment_id: SegmentArgument,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this CSV file instead of stdout.", dir_okay=False)
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Export a segment's members as CSV (the columns of `fanbase export fans`)."""
    with open_workspace(workspace) as (database, workspace_id):
        # Started first, so a missing segment is an error before a file is created.
        members = FanFilter(segment_id=segment_id)
        chunks = fan_export.start_export(database, workspace_id, members, actor=command_line_actor(), now=utc_now())
        write_chunks(chunks, out)
    if out is not None:
        stderr().print(f"Exported the members of segment {segment_id} to {out}.", markup=False)


@segments_app.command("add")
def add_members(
    segment_id: SegmentArgument,
    fan_ids: FanIdsOption = None,
    emails_csv: Annotated[
        Path | None,
        typer.Option(
            "--emails-csv", help="A CSV of emails (an `email` column, or one column).", exists=True, dir_okay=False
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Add fans to a static segment, by id (--fan-id, repeatable) or from a CSV of emails (--emails-csv)."""
    if bool(fan_ids) == (emails_csv is not None):
        raise UsageError("give --fan-id (one or more) or --emails-csv")
    with open_workspace(workspace) as (database, workspace_id):
        if emails_csv is not None:
            emails = EmailsIn(emails=segments.emails_from_csv(emails_csv.read_bytes()))
            change = segments.add_fans_by_email(database, workspace_id, segment_id, emails, now=utc_now())
        else:
            change = segments.add_fans(database, workspace_id, segment_id, fan_ids or [], now=utc_now())
    _print_change("Added to", segment_id, change)


@segments_app.command("remove")
def remove_members(
    segment_id: SegmentArgument, fan_ids: FanIdsOption = None, workspace: WorkspaceOption = None
) -> None:
    """Remove fans from a static segment by id (--fan-id, repeatable)."""
    if not fan_ids:
        raise UsageError("give --fan-id (one or more)")
    with open_workspace(workspace) as (database, workspace_id):
        change = segments.remove_fans(database, workspace_id, segment_id, fan_ids, now=utc_now())
    _print_change("Removed from", segment_id, change)


@segments_app.command("refresh")
def refresh(
    segment_id: Annotated[
        int | None, typer.Argument(help="The segment's id.", min=1, max=MAX_ID, show_default=False)
    ] = None,
    is_all: Annotated[
        bool, typer.Option("--all", help="Every dynamic segment that needs it (see --full), in dependency order.")
    ] = False,
    is_full: Annotated[
        bool,
        typer.Option(
            "--full", help="With --all: evaluate every rule over every fan (repairs drift that `verify` reports)."
        ),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Re-evaluate a dynamic segment's membership from its rule (or every one with --all)."""
    if (segment_id is None) == (not is_all):
        raise UsageError("give a segment id or --all")
    with open_workspace(workspace) as (database, workspace_id):
        if segment_id is not None:
            _print_change(
                "Refreshed", segment_id, segments.refresh_segment(database, workspace_id, segment_id, now=utc_now())
            )
            return
        changes = segments.refresh_all(database, workspace_id, now=utc_now(), is_full=is_full)
    for changed_id, change in changes.items():
        _print_change("Refreshed", changed_id, change)
    stdout().print(f"Refreshed {len(changes)} dynamic segments.", markup=False)
