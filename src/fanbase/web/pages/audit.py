"""The audit log: who did what, to what, when and from where, newest first, filterable by action."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from fanbase.schemas.audit import AUDIT_ACTIONS
from fanbase.schemas.audit import AuditEntry
from fanbase.schemas.common import Page
from fanbase.schemas.users import SignedInUser
from fanbase.services import audit
from fanbase.web.components.common import PagedTable
from fanbase.web.components.common import column
from fanbase.web.components.common import dashboard_page
from fanbase.web.layout import frame
from fanbase.web.layout import page_title
from fanbase.web.layout import time_text
from fanbase.web.state import current

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

        def load(page: int, size: int) -> Page[AuditEntry]:
            chosen = action.value if action.value in AUDIT_ACTIONS else None
            return audit.entries(current().database, user.workspace_id, action=chosen, page=page, page_size=size)

        table = PagedTable(
            load, row=_row, columns=COLUMNS, page_size=PAGE_SIZE, testid="audit-table", empty="Nothing recorded yet."
        )
        action.on_value_change(lambda _event: table.refresh(page=1))
        ui.timer(0.01, table.refresh, once=True)


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": time_text(entry.at),
        "actor": entry.actor,
        "action": ACTION_WORDS.get(entry.action, entry.action),
        "target": entry.target or "—",
        "client": entry.client or "—",
    }
