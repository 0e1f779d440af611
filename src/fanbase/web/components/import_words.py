"""The Import page's words: what the sales formats, a report's figures, the sales sources and a delivery's outcome
are called where people read them (the schema's names never reach the page)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from fanbase.schemas.sales import ImportKind
from fanbase.services.vendor_formats import FORMATS

KINDS: dict[str, str] = {"orders": "Orders", "events": "Events"}
KIND_HINTS: dict[str, str] = {
    "orders": "Purchases: merch, music, tickets. An Eventbrite summary gives tickets and, for those checked in, "
    "gig attendance.",
    "events": "What fans did: gigs attended and other activity. From an Eventbrite summary, only the check-ins.",
}
AUTO = "auto"
GENERIC = "generic"
# The vendors' own names for their exports (the formats' titles), after "detect" and fanbase's own columns.
FORMAT_CHOICES: dict[str, str] = {
    AUTO: "Detect automatically",
    GENERIC: "fanbase's own columns",
    **{found.name: found.title for found in FORMATS if found.name != GENERIC},
}
EVENTBRITE = "eventbrite"


def format_title(name: str, kind: ImportKind) -> str:
    """What a recognised format is called: "Shopify orders export", "fanbase events CSV"."""
    for found in FORMATS:
        if found.name == name and found.reads(kind):
            return found.title
    return FORMAT_CHOICES.get(name, name)


# A report's figures, in the order shown: (the report's field, what it is called, what it means).
REPORT_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("orders_created", "Orders created", "new purchases recorded"),
    ("orders_refunded", "Orders refunded", "recorded before, refunded by this file"),
    ("events_created", "Events created", "gigs attended and other activity"),
    ("fans_created", "New fans", "people fanbase did not know yet"),
    ("unchanged", "Unchanged", "already recorded exactly so"),
    ("skipped", "Skipped", "no purchase: unpaid, pending, payouts"),
    ("error_count", "Rejected", "rows fanbase could not read"),
)

RECORD_WORDS = {"order": "Order", "event": "Event", "refund": "Refund"}
ORDER_STATUS_WORDS = {"completed": "Completed", "refunded": "Refunded"}

VENDORS: dict[str, str] = {"shopify": "Shopify", "stripe": "Stripe", "generic": "Your own shop or script"}
VENDOR_SHORT: dict[str, str] = {"shopify": "Shopify", "stripe": "Stripe", "generic": "Generic"}
# Where each vendor's URL and secret go, in the vendor's own menus.
VENDOR_HELP: dict[str, str] = {
    "shopify": "In Shopify: Settings → Notifications → Webhooks. Add webhooks for Order creation, Order payment and "
    "Refund create (format JSON) to the URL below, then paste the signing secret Shopify shows there.",
    "stripe": "In Stripe: Developers → Webhooks → Add endpoint. Send checkout.session.completed and charge.refunded "
    "to the URL below, then paste the endpoint's signing secret (whsec_…).",
    "generic": 'POST JSON {"topic": "sales", "orders": […], "events": […]} (the columns of the CSV formats) to '
    'the URL below, signed with the header Fanbase-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.body">.',
}
SECRET_LABELS: dict[str, str] = {
    "shopify": "Signing secret",
    "stripe": "Signing secret (whsec_…)",
}

OUTCOMES: dict[str, str] = {
    "processed": "Processed",
    "unchanged": "Unchanged (a repeat)",
    "ignored": "Ignored",
    "rejected": "Rejected",
    "failed": "Failed",
}
OUTCOME_COLORS: dict[str, str] = {
    "processed": "green-7",
    "unchanged": "grey-7",
    "ignored": "blue-grey-5",
    "rejected": "red-7",
    "failed": "deep-orange-8",
}
# What each outcome means, for the deliveries card's legend.
OUTCOME_HINTS: dict[str, str] = {
    "processed": "written",
    "unchanged": "already recorded: nothing changed",
    "ignored": "a kind of notification fanbase does not read",
    "rejected": "the signature did not match: nothing read",
    "failed": "nothing written; the vendor retries",
}


def as_utc(text: str) -> datetime:
    """An ISO 8601 time from a preview (with its offset) in UTC, as every page shows times."""
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"
