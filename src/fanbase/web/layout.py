"""The one layout: a header (brand, workspace, user, sign-out), the CRM tabs, and a centred content column."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from datetime import datetime

from nicegui import ui

from fanbase.schemas.users import SignedInUser

# The CRM tabs, in order: each one's name (its page is at /<name>) and label.
TABS: dict[str, str] = {
    "fans": "Fans",
    "segments": "Segment Manage",
    "tags": "Tags",
    "lists": "Lists",
    "analytics": "Analytics",
    "messages": "Messages",
    "imports": "Import",
    "audit": "Audit log",
}

_CSS = """
body { background: #f6f7fb; }
.fb-page { width: 100%; max-width: 1200px; margin: 0 auto; padding: 16px; gap: 16px; }
.fb-card { width: 100%; }
.fb-muted { color: #6b7280; }
.fb-mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.fb-group { border-left: 3px solid #c7d2fe; padding-left: 10px; }
.fb-group-any { border-left-color: #fde68a; }
.fb-cond { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 6px 8px; }
.fb-error { color: #b91c1c; font-size: 0.85rem; }
.fb-count { min-width: 4.5rem; text-align: right; }
.q-tab { text-transform: none; }
/* A visible focus ring wherever the keyboard is (Quasar's own focus helpers are faint on buttons). Quasar's
   buttons carry .no-outline, whose `outline: 0 !important` sits in NiceGUI's last cascade layer; an important
   declaration in an earlier layer wins over a later one, so the ring is declared in the first layer, theme. */
@layer theme {
  body :focus-visible, body .no-outline:focus-visible {
    outline: 2px solid #3949ab !important; outline-offset: 2px; border-radius: 4px;
  }
  /* A field shows its focus with its own coloured border: no second ring around the text inside it. */
  body .q-field :focus-visible { outline: none !important; }
}
/* A dialog's backdrop is fixed to the window; it also reaches far below it, so that a picture of the whole of a
   long page (a full-page screenshot, a print) shows the page covered, not a band at its top. */
.q-dialog__backdrop { bottom: auto !important; height: 10000vh; }
/* Touch targets of at least 36 px for the builder's small buttons and toggles. */
.fb-target { min-height: 36px; min-width: 36px; }
@media (max-width: 600px) {
  .fb-page { padding: 8px; }
  .fb-hide-sm { display: none !important; }
  /* On a phone a table's cells wrap (a long email breaks) rather than make the page scroll sideways. */
  .q-table td, .q-table th { white-space: normal; overflow-wrap: anywhere; padding: 6px 6px; }
  /* ... but never inside a number or an amount ($177.00 on one line). */
  .q-table td.text-right { white-space: nowrap; overflow-wrap: normal; }
  /* A large dialog (Create Segment) takes the whole screen. */
  .q-dialog__inner--minimized:has(.fb-dialog-full) { padding: 0 !important; }
  .fb-dialog-full {
    width: 100vw !important; max-width: 100vw !important; min-height: 100vh; border-radius: 0 !important;
  }
}
"""


def freshness(value: datetime | None, *, now: datetime) -> str:
    """'just now', '5 min ago', '3 h ago', '2 days ago' — how long since a segment was last evaluated."""
    if value is None:
        return "never evaluated"
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


# One date style on every page ("6 Dec 2026", "6 Dec 2026, 14:05"); every time is UTC, which the page's foot says
# once (TIME_ZONE_NOTE) instead of each value repeating it.
TIME_ZONE_NOTE = "Dates and times are in UTC."
AXIS_DAY = "%-d %b"  # a chart's day axis: "6 Dec"


def day_text(value: date | datetime) -> str:
    return f"{value.day} {value:%b %Y}"


def time_text(value: datetime) -> str:
    return f"{day_text(value)}, {value:%H:%M}"


def money(amount: object, currency: str) -> str:
    symbols = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
    symbol = symbols.get(currency, f"{currency} ")
    return f"{symbol}{float(str(amount)):,.2f}"


def page_title(text: str, *, subtitle: str | None = None) -> None:
    with ui.column().classes("gap-0"):
        ui.label(text).classes("text-h5 text-weight-medium")
        if subtitle:
            ui.label(subtitle).classes("fb-muted")


@contextmanager
def frame(user: SignedInUser, *, active: str, title: str, back: tuple[str, str] | None = None) -> Iterator[ui.column]:
    """Every signed-in page: header with the workspace and sign-out, the tabs, then the page's own column, opening
    with the link ``back`` (its text and path: "← Messages") to the page this one belongs to."""
    ui.add_css(_CSS)
    ui.page_title(f"{title} · {user.workspace_name} · fanbase")
    with ui.header(elevated=True).classes("bg-white text-grey-9 q-px-md q-py-xs items-center gap-2"):
        ui.label("fanbase").classes("text-h6 text-weight-bold text-indigo-8")
        ui.label(user.workspace_name).classes("text-subtitle1 fb-muted ellipsis").props('data-testid="workspace-name"')
        ui.space()
        ui.label(user.display_name).classes("fb-muted fb-hide-sm")
        with ui.element("form").props('method="post" action="/auth/logout"'):
            ui.button("Sign out", icon="logout").props('type="submit" flat dense no-caps')
    with ui.column().classes("fb-page"):
        tabs = (
            ui.tabs()
            .props("inline-label outside-arrows mobile-arrows no-caps align=left")
            .classes("w-full text-indigo-8 bg-white rounded-borders shadow-1")
        )
        with tabs:
            by_name = {name: ui.tab(name, label=label) for name, label in TABS.items()}
        tabs.value = by_name[active]
        tabs.on_value_change(lambda event: ui.navigate.to(f"/{event.value}"))
        with ui.column().classes("w-full gap-4") as content:
            if back is not None:
                ui.link(*back).classes("text-indigo-8")
            yield content
        ui.label(TIME_ZONE_NOTE).classes("fb-muted text-caption").props('data-testid="time-zone-note"')
