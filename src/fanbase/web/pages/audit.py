"""The audit log: who did what, to what, when and from where, newest first, filterable by action."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from fanbase.schemas.audit import AUDIT_ACTIONS
from fanbase.schemas.users import SignedInUser
from fanbase.services import audit
from fanbase.web.components.common import column
from fanbase.web.components.common import dashboard_page
from fanbase.web.layout import frame
from fanbase.web.layout import page_title
from fanbase.web.layout import time_text
from fanbase.web.state import in_workspace

PAGE_SIZE = 50
# Each action in words, for the filter and the table.
ACTION_WORDS = {
    "workspace.updated": "Workspace settings changed",
    "sales_source.created": "Sales endpoint set up",
    "sales_source.deleted": "Sales endpoint removed",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "user.created": "User created",
    "sign_in.succeeded": "Signed in",
    "sign_in.failed": "Sign-in failed",
    "export.fans": "Fans exported",
    "export.members": "Segment members exported",
    "export.fan": "A fan's data exported",
    "fan.erased": "Fan erased",
    "webhook.created": "Webhook created",
    "webhook.disabled": "Webhook disabled",
    "segment.deleted": "Segment deleted",
    "suppression.added": "Email suppressed",
    "suppression.lifted": "Suppression lifted",
    "message.scheduled": "Message scheduled",
    "message.unscheduled": "Message back to draft",
    "message.sent": "Message sent",
    "message.cancelled": "Message cancelled",
}
COLUMNS = [
    column("at", "When"),
    column("actor", "Who"),
    column("action", "What"),
    column("target", "To what"),
    column("client", "From", is_hidden_when_narrow=True),
]


@dashboard_page("/audit", title="Audit log")
def audit_page(user: SignedInUser) -> None:
    with frame(user, active="audit", title="Audit log"):
        page_title(
            "Audit log",
            subtitle="Keys, users, sign-ins, exports, erasures, webhooks, deleted segments and messages sent.",
        )
        action = (
            ui.select({None: "Every action", **ACTION_WORDS}, value=None, label="Action")
            .props('dense outlined data-testid="audit-action"')
            .classes("w-64")
        )
        table = (
            ui.table(
                columns=COLUMNS,
                rows=[],
                row_key="id",
                pagination={"page": 1, "rowsPerPage": PAGE_SIZE, "rowsNumber": 0},
            )
            .classes("w-full")
            .props('flat bordered dense data-testid="audit-table" no-data-label="Nothing recorded yet."')
        )

        total = 0

        async def show(page: int = 1) -> None:
            nonlocal total
            chosen = action.value if action.value in AUDIT_ACTIONS else None
            entries = await in_workspace(user, audit.entries, action=chosen, page=page, page_size=PAGE_SIZE)
            total = entries.total
            table.rows = [_row(entry) for entry in entries.items]
            table.pagination = {"page": page, "rowsPerPage": PAGE_SIZE, "rowsNumber": entries.total}
            table.update()

        def keep_total(_event: Any) -> None:
            # The server owns the total: Quasar echoes the pagination it mounted with (0 rows), see FanTable.
            if table.pagination.get("rowsNumber") != total:
                table.pagination = {**table.pagination, "rowsNumber": total}

        async def requested(event: Any) -> None:
            await show(max(1, int(event.args["pagination"].get("page") or 1)))

        table.on_pagination_change(keep_total)
        table.on("request", requested)
        action.on_value_change(lambda _event: show())
        ui.timer(0.01, show, once=True)


def _row(entry: Any) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": time_text(entry.at),
        "actor": entry.actor,
        "action": ACTION_WORDS.get(entry.action, entry.action),
        "target": entry.target or "—",
        "client": entry.client or "—",
    }
