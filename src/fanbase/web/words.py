"""The user's words for what the schema names (the guides' field names, ledger causes), in one place for every
page."""

from __future__ import annotations

from fanbase.core.fields import Catalogue
from fanbase.core.fields import FieldSpec

# The fan fields as the guides name them ("Lifecycle Stage", "Total Spent", "Last Active Date").
FIELD_TITLES = {
    "email": "Email",
    "first_name": "First Name",
    "last_name": "Last Name",
    "lifecycle_stage": "Lifecycle Stage",
    "source": "Source",
    "country": "Country",
    "city": "City",
    "created_at": "Sign-up Date",
    "total_spent": "Total Spent",
    "purchase_count": "Purchase Count",
    "first_purchase_at": "First Purchase Date",
    "last_purchase_at": "Last Purchase Date",
    "last_active_at": "Last Active Date",
}

# Why a fan entered or left a segment (the ledger's cause).
CAUSES = {
    "write": "an order, activity or fan change",
    "time": "time passed",
    "manual": "added or removed by hand",
    "import": "imported (a CSV or a list of emails)",
    "rule_edit": "the rule was edited",
    "build": "the segment was created",
    "refresh": "a refresh",
}


def field_title(catalogue: Catalogue, spec: FieldSpec) -> str:
    """A fan field's title in the dashboard: the guide's for core fields, the workspace's label for custom ones."""
    if catalogue.is_custom(spec.name):
        return spec.label[:1].upper() + spec.label[1:]
    return FIELD_TITLES.get(spec.name, spec.label.capitalize())


# A count in a behaviour sentence: "at least 2 times".
COUNT_WORDS = {
    ">=": "at least",
    ">": "more than",
    "=": "exactly",
    "!=": "other than",
    "<": "fewer than",
    "<=": "at most",
    "between": "between",
}
# An amount (money): "more than $100".
AMOUNT_WORDS = {
    ">": "more than",
    ">=": "at least",
    "=": "exactly",
    "<": "less than",
    "<=": "at most",
    "between": "between",
}
# The filters of orders and events, as people name them.
FILTER_TITLES = {
    "amount": "Amount",
    "currency": "Currency",
    "category": "Category",
    "product": "Product",
    "placed_at": "Order date",
    "type": "Event type",
    "occurred_at": "Event date",
}


def humanize(value: str) -> str:
    """An identifier-like value as words: "gig_attended" → "Gig attended"."""
    text = value.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def filter_title(field_name: str) -> str:
    """A filter's field in words: "Category", "Event date", "Property venue" for properties.venue."""
    if field_name.startswith("properties."):
        return f"Property {field_name.removeprefix('properties.')}"
    return FIELD_TITLES.get(field_name) or FILTER_TITLES.get(field_name) or humanize(field_name)


# Messages: a message's status, a recipient's state, and why a fan of its segments is not reachable.
MESSAGE_STATUS = {
    "draft": "Draft",
    "scheduled": "Scheduled",
    "sending": "Sending",
    "sent": "Sent",
    "cancelled": "Cancelled",
}
MESSAGE_STATUS_COLORS = {
    "draft": "grey-7",
    "scheduled": "amber-9",
    "sending": "indigo-6",
    "sent": "green-7",
    "cancelled": "red-7",
}
RECIPIENT_STATES = {
    "queued": "Queued",
    "sending": "Sending",
    "accepted": "Accepted",  # by the mail server, a moment before it is recorded as sent
    "sent": "Sent",
    "failed": "Failed",
    "bounced": "Bounced",
    "skipped": "Skipped",
}
RECIPIENT_STATE_COLORS = {
    "queued": "grey-7",
    "sending": "indigo-6",
    "accepted": "green-5",
    "sent": "green-7",
    "failed": "red-7",
    "bounced": "deep-orange-8",
    "skipped": "grey-5",
}
# Each fan is counted under the first reason that applies, in this order (services.messages).
UNREACHABLE_WORDS = {
    "excluded": "In an excluded segment",
    "suppressed": "On the suppression list",
    "bounced": "Their address bounced",
    "complained": "Marked a mail as spam",
    "unsubscribed": "Unsubscribed from the list",
    "no_consent": "Not on the list (no consent)",
}


def delay_words(minutes: int) -> str:
    """A send-on-entry delay: "right away", "30 minutes", "2 hours", "1 day"."""
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes and minutes % size == 0:
            count = minutes // size
            return f"{count:,} {unit}{'' if count == 1 else 's'} after entering"
    return "right away"
