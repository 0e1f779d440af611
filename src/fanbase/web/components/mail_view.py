"""A mail as the dashboard shows it: its HTML part in a sandboxed frame, its text part, and for a stored mail the
raw message.

The HTML is the mail's own, written by the workspace and filled with a fan's data, so it is shown in an
``<iframe sandbox="" srcdoc="…">``: no script runs and it has no origin of its own. Looking at a stored mail must
not count as its recipient opening it or clicking in it. The dashboard's own policy (``web/security.py``) already
keeps most of that from happening; the document is also given a policy of its own (no image loads, which includes
the open pixel) and a ``<base target="_blank">`` (a sandbox without ``allow-popups`` opens no new window, so a click
on a tracked link goes nowhere), so that it holds whatever the page's policy and wherever the links lead.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage

from nicegui import ui

# Added to the frame's document: nothing loads (images only from data: URLs), links open nothing.
FRAME_GUARD = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
    '<base target="_blank">'
)
FRAME_STYLE = "height: 520px; border: 1px solid #e5e7eb; border-radius: 8px; background: #fff"
BOX_STYLE = "max-height: 520px; overflow: auto; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px"
_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)
SHOWN_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe")
FORMATS = {"html": "HTML", "text": "Text", "raw": "Raw message"}


def guarded(document: str) -> str:
    """The mail's HTML document with FRAME_GUARD first in its head."""
    head = _HEAD.search(document)
    if head is None:
        return FRAME_GUARD + document
    return document[: head.end()] + FRAME_GUARD + document[head.end() :]


@dataclass(frozen=True)
class StoredMail:
    """A stored mail's parts, read back from its bytes."""

    headers: list[tuple[str, str]]
    html: str
    text: str
    raw: str


def read_stored(raw: bytes) -> StoredMail:
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)  # the default policy's factory
    html_part = mail.get_body(preferencelist=("html",))
    text_part = mail.get_body(preferencelist=("plain",))
    return StoredMail(
        headers=[(name, str(mail[name])) for name in SHOWN_HEADERS if mail[name] is not None],
        html=html_part.get_content() if isinstance(html_part, EmailMessage) else "",
        text=text_part.get_content() if isinstance(text_part, EmailMessage) else "",
        # RFC 5322 bytes are ASCII (the bodies are quoted-printable or base64); anything else is shown replaced.
        raw=raw.decode("ascii", errors="replace"),
    )


class MailView:
    """A toggle between the mail's HTML (framed, as above), its text and (when given) the raw message."""

    def __init__(self, *, html: str, text: str, raw: str | None = None, testid: str) -> None:
        options = {key: label for key, label in FORMATS.items() if key != "raw" or raw is not None}
        self.toggle = ui.toggle(options, value="html", on_change=lambda _event: self._show_chosen()).props(
            f'no-caps unelevated dense toggle-color="indigo-8" data-testid="{testid}-format"'
        )
        self.frame = ui.element("iframe").classes("w-full").style(FRAME_STYLE)
        # The sandbox first: it must be in place before the document loads.
        self.frame.props["sandbox"] = ""
        self.frame.props["title"] = "The mail as HTML"
        self.frame.props["data-testid"] = f"{testid}-html"
        self.text = (
            ui.label("")
            .classes("w-full fb-mono text-body2")
            .style(f"white-space: pre-wrap; overflow-wrap: anywhere; {BOX_STYLE}")
            .props(f'data-testid="{testid}-text"')
        )
        self.raw = (
            ui.label(raw or "")
            .classes("w-full fb-mono text-caption")
            # Long header lines scroll inside the box, never the page.
            .style(f"white-space: pre; {BOX_STYLE}")
            .props(f'data-testid="{testid}-raw" tabindex="0" aria-label="The raw message"')
        )
        self.show(html=html, text=text)

    def show(self, *, html: str, text: str) -> None:
        self.frame.props["srcdoc"] = guarded(html)
        self.frame.update()
        self.text.set_text(text)
        self._show_chosen()

    def _show_chosen(self) -> None:
        chosen = self.toggle.value
        self.frame.set_visibility(chosen == "html")
        self.text.set_visibility(chosen == "text")
        self.raw.set_visibility(chosen == "raw")
