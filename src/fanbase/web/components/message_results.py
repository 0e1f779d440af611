"""After a message is sent: how its sending went and what its recipients did (with opens and clicks by day), and
who it went to, each with their state."""

from __future__ import annotations

from datetime import date
from datetime import timedelta
from typing import Any

from nicegui import ui

from fanbase.schemas.common import Page
from fanbase.schemas.messages import Message
from fanbase.schemas.messages import MessageStats
from fanbase.schemas.messages import Recipient
from fanbase.schemas.messages import RecipientState
from fanbase.schemas.users import SignedInUser
from fanbase.services import messages
from fanbase.web.components.common import PagedTable
from fanbase.web.components.common import column
from fanbase.web.components.common import day_chart_options
from fanbase.web.components.common import link_cell
from fanbase.web.layout import time_text
from fanbase.web.state import current
from fanbase.web.words import RECIPIENT_STATE_COLORS
from fanbase.web.words import RECIPIENT_STATES

CHART_DAYS = 90  # the by-day chart shows at most this many days, the latest


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "—"


def _days(message: Message, stats: MessageStats, today: date) -> list[str]:
    """Every day from the sending (or the first open) to today or the last open: a chart without gaps."""
    known = [date.fromisoformat(day.day) for day in stats.by_day]
    first = min([*known, message.sent_at.date() if message.sent_at else today])
    last = max([*known, today])
    first = max(first, last - timedelta(days=CHART_DAYS - 1))
    return [(first + timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]


class StatsCard:
    """Sent, failed, bounced (of its recipients); opened, clicked, unsubscribed (of those sent); opens and clicks
    by day. ``show`` puts new figures in place (the page reads them again every few seconds)."""

    # Each tile's figure (a field of the stats, titled with its name: "Sent") and the figure its rate is a share of.
    TILES: dict[str, str] = {
        "sent": "recipients",
        "failed": "recipients",
        "bounced": "recipients",
        "opened": "sent",
        "clicked": "sent",
        "unsubscribed": "sent",
    }

    def __init__(self, message: Message, stats: MessageStats, *, is_tracking: bool) -> None:
        self.message = message
        self.stats: MessageStats | None = None
        self.values: dict[str, ui.label] = {}
        self.rates: dict[str, ui.label] = {}
        with ui.card().classes("w-full gap-2").props('data-testid="message-stats"'):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label("Results").classes("text-subtitle1 text-weight-medium")
                ui.space()
                self.progress = ui.label("").classes("fb-muted").props('data-testid="stats-progress"')
            with (
                ui.grid()
                .classes("w-full gap-2")
                .style("grid-template-columns: repeat(auto-fit, minmax(min(150px, 40vw), 1fr))")
            ):
                for key in self.TILES:
                    with (
                        ui.column()
                        .classes("gap-0 q-pa-sm rounded-borders")
                        .style("border: 1px solid #e5e7eb")
                        .props(f'data-testid="stat-{key}"')
                    ):
                        ui.label(key.capitalize()).classes("text-overline fb-muted")
                        self.values[key] = ui.label("").classes("text-h5 text-weight-bold")
                        self.values[key].props(f'data-testid="stat-{key}-value"')
                        self.rates[key] = ui.label("").classes("fb-muted text-caption")
                        self.rates[key].props(f'data-testid="stat-{key}-rate"')
            if not is_tracking:
                ui.label("Counting opens and clicks is off (Mail settings): they show 0 for mail sent since.").classes(
                    "fb-muted text-caption"
                )
            self.chart = ui.echart({}).classes("w-full").style("height: 260px").props('data-testid="stats-chart"')
        self.show(stats)

    def show(self, stats: MessageStats) -> None:
        if stats == self.stats:
            return
        self.stats = stats
        for key, whole_name in self.TILES.items():
            value, whole = getattr(stats, key), getattr(stats, whole_name)
            self.values[key].set_text(f"{value:,}")
            self.rates[key].set_text(f"{_share(value, whole)} of {whole_name}")
        waiting = [f"{stats.queued:,} waiting"] if stats.queued else []
        waiting += [f"{stats.skipped:,} skipped (cancelled)"] if stats.skipped else []
        self.progress.set_text(
            f"{stats.recipients:,} recipient{'' if stats.recipients == 1 else 's'}"
            + (f" · {', '.join(waiting)}" if waiting else "")
        )
        days = _days(self.message, stats, current().now().date())
        counts = {day.day: day for day in stats.by_day}
        series = [
            ("Opens", [counts[day].opened if day in counts else 0 for day in days]),
            ("Clicks", [counts[day].clicked if day in counts else 0 for day in days]),
        ]
        self.chart.options.clear()
        self.chart.options.update(day_chart_options("Opens and clicks by day", days, series, kind="bar"))
        self.chart.update()


RECIPIENT_COLUMNS: list[dict[str, Any]] = [
    column("email", "Recipient"),
    column("state", "State"),
    column("sent_at", "Sent", is_hidden_when_narrow=True),
    column("attempts", "Attempts", align="right", is_hidden_when_narrow=True, is_count=True),
    column("error", "Error"),
]


def _recipient_row(recipient: Recipient) -> dict[str, Any]:
    return {
        "id": recipient.id,
        "fan_id": recipient.fan_id,
        "email": recipient.email,
        "state": recipient.state,
        "state_text": RECIPIENT_STATES.get(recipient.state, recipient.state),
        "color": RECIPIENT_STATE_COLORS.get(recipient.state, "grey-7"),
        "sent_at": time_text(recipient.sent_at) if recipient.sent_at else "—",
        "attempts": recipient.attempts,
        "error": recipient.error or "—",
    }


class RecipientsCard:
    """Who the message went to (frozen when it was sent), paged, filtered by state."""

    def __init__(self, user: SignedInUser, message: Message) -> None:
        state = current()
        with ui.card().classes("w-full gap-2").props('data-testid="recipients"'):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label("Recipients").classes("text-subtitle1 text-weight-medium")
                ui.space()
                self.state = (
                    ui.select({None: "Every state", **RECIPIENT_STATES}, value=None, label="State")
                    .props('dense outlined options-dense data-testid="recipient-state"')
                    .classes("w-44")
                )

            def load(page: int, size: int) -> Page[Recipient]:
                chosen: RecipientState | None = self.state.value
                return messages.recipients(
                    state.database, user.workspace_id, message.id, state=chosen, page=page, page_size=size
                )

            self.table = PagedTable(
                load,
                row=_recipient_row,
                columns=RECIPIENT_COLUMNS,
                testid="recipients-table",
                empty="No recipient in this state.",
            )
            self.table.table.add_slot("body-cell-email", link_cell("/fans/", key="fan_id"))
            self.table.table.add_slot(
                "body-cell-state",
                '<q-td :props="props"><q-badge :color="props.row.color">{{ props.row.state_text }}</q-badge></q-td>',
            )
        self.state.on_value_change(lambda _event: self.table.refresh(page=1))
        ui.timer(0.01, self.table.refresh, once=True)

    async def refresh(self) -> None:
        await self.table.refresh()
