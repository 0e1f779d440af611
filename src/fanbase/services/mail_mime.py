"""A rendered mail as the documents and bytes handed to SMTP: the HTML and text documents (preheader, footer,
tracking) and the RFC 5322 message. Pure: no database, no network, no clock.

The MIME message is assembled here rather than by ``email.message.EmailMessage``: that took half the sender's
budget per mail (bench/RESULTS.md), and it encodes a ``List-Unsubscribe``
longer than a line into encoded-words, which no mailbox provider reads as URLs. The rules kept are few and
written below: headers folded at 78 characters, non-ASCII words as RFC 2047 UTF-8 encoded-words, bodies in
quoted-printable or base64 (whichever is shorter, as the email package chooses), CRLF everywhere. The tests parse
every mail back with ``email.policy.default``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
from datetime import datetime
from email.utils import format_datetime
from functools import lru_cache

from fanbase.errors import InvalidInput
from fanbase.services.mail_content import Links
from fanbase.services.mail_content import Rendered
from fanbase.services.mail_content import Sender
from fanbase.services.mail_content import clean_text

_LINK = re.compile(r'<a href="((?i:https?)://[^"]*)"')
_PREHEADER_STYLE = (
    "display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;mso-hide:all;font-size:1px;line-height:1px"
)


def build_html(rendered: Rendered, *, links: Links) -> str:
    """The HTML part: a minimal document with the preheader first (hidden), the body (its http(s) links passed
    through ``links.click_url`` when set), the unsubscribe footer and the open pixel when set."""
    body = rendered.html
    click_url = links.click_url
    if click_url is not None:
        body = _LINK.sub(lambda match: f'<a href="{html.escape(click_url(html.unescape(match[1])))}"', body)
    preheader = (
        f'<span style="{_PREHEADER_STYLE}">{html.escape(rendered.preheader)}</span>\n' if rendered.preheader else ""
    )
    pixel = (
        f'<img src="{html.escape(links.open_pixel_url)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0">\n'
        if links.open_pixel_url
        else ""
    )
    return (
        '<!doctype html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(rendered.subject)}</title>\n</head>\n<body>\n{preheader}"
        f'<div style="max-width:600px;margin:0 auto">\n{body}</div>\n'
        '<hr>\n<p style="font-size:12px;color:#666666">'
        f'<a href="{html.escape(links.unsubscribe_url)}">Unsubscribe</a></p>\n{pixel}</body>\n</html>\n'
    )


def build_text(rendered: Rendered, *, links: Links) -> str:
    """The text part: the body as text (links untracked: a redirect URL only makes it harder to read), then the
    unsubscribe line."""
    body = rendered.text.rstrip("\n")
    return f"{body}\n\nUnsubscribe: {links.unsubscribe_url}\n" if body else f"Unsubscribe: {links.unsubscribe_url}\n"


def build_mail(
    rendered: Rendered,
    *,
    sender: Sender,
    to_address: str,
    to_name: str | None,
    message_id: str,
    links: Links,
    now: datetime,
) -> bytes:
    """The whole RFC 5322 message, CRLF line endings, 7-bit clean: multipart/alternative with text/plain then
    text/html (UTF-8), ``List-Unsubscribe`` (RFC 2369) with one-click POST (RFC 8058). ``message_id`` is used as
    given ("<…@sender-domain>"), ``now`` is the Date. The bytes depend only on the arguments, so a retried send is
    the same mail. Raises ``InvalidInput`` for an unusable sender or recipient address (field "sender" or
    "to_address"), ``ValueError`` for malformed links, Message-ID or a naive ``now`` (the caller's mistakes)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    unsubscribe_url = _list_url(links.unsubscribe_url, schemes=("https://", "http://"))
    unsubscribe_mailto = _list_url(links.unsubscribe_mailto, schemes=("mailto:",))
    boundary = "=_fanbase_" + hashlib.sha256(message_id.encode()).hexdigest()[:32]  # "=_" never occurs in QP/base64
    headers = (
        f"From: {_mailbox('From', sender.name, sender.address, field='sender')}",
        f"To: {_mailbox('To', to_name, to_address, field='to_address')}",
        _unstructured("Subject", rendered.subject),
        f"Date: {format_datetime(now)}",
        f"Message-ID: {message_id}",
        f"List-Unsubscribe: <{unsubscribe_url}>,\r\n <{unsubscribe_mailto}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
    )
    parts = (
        _part("text/plain", build_text(rendered, links=links)),
        _part("text/html", build_html(rendered, links=links)),
    )
    head, body = "\r\n".join(headers), "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return f"{head}\r\n\r\n{body}--{boundary}--\r\n".encode("ascii")


_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,400}@[!-;=?-~]{1,400}>")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDRESS = re.compile(
    rf"({_ATOM}(?:\.{_ATOM})*)@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
)
_LINE = 78  # RFC 5322's recommended line length; 998 is the limit


def _list_url(url: str, *, schemes: tuple[str, ...]) -> str:
    if not url.lower().startswith(schemes) or len(url) > 900 or not re.fullmatch(r"[!-;=?-~]+", url):
        raise ValueError(f"not a usable List-Unsubscribe address (ASCII, no spaces or <>): {url!r}")
    return url


@lru_cache(maxsize=256)  # the sender's is the same for a whole send
def _mailbox(header: str, name: str | None, address: str, *, field: str) -> str:
    """``"Name" <local@domain>``: the name quoted, or RFC 2047 encoded when it is not plain ASCII; an
    internationalised domain in its IDNA form. A non-ASCII local part would need SMTPUTF8: refused."""
    local, _, domain = address.strip().rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        domain = ""
    addr_spec = f"{local}@{domain}"
    if len(addr_spec) > 254 or not _ADDRESS.fullmatch(addr_spec):
        raise InvalidInput(f"not a usable email address: {address!r}", field=field)
    phrase = clean_text(name)
    if not phrase:
        return addr_spec
    if phrase.isascii() and "=?" not in phrase and len(phrase) <= 200:
        phrase = '"' + phrase.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = _encoded_words(phrase, used=len(header) + 2)
    last_line = (phrase if "\r\n" in phrase else f"{header}: {phrase}").rpartition("\r\n")[2]
    separator = "\r\n " if len(last_line) + len(addr_spec) + 3 > _LINE else " "
    return f"{phrase}{separator}<{addr_spec}>"


def _unstructured(header: str, value: str) -> str:
    """``Header: value`` folded at spaces, or as encoded-words when the value is not plain ASCII (or holds "=?",
    or a word too long to fold)."""
    words = value.split(" ")
    if not value.isascii() or "=?" in value or any(len(word) > _LINE - 2 for word in words):
        return f"{header}: {_encoded_words(value, used=len(header) + 2)}"
    lines = [f"{header}:"]
    for index, word in enumerate(words):
        if index and len(lines[-1]) + 1 + len(word) > _LINE:
            lines.append("")  # a folded line starts with the space before its first word
        lines[-1] += f" {word}"
    return "\r\n".join(lines)


def _encoded_words(text: str, *, used: int) -> str:
    """RFC 2047 "B" encoded-words in UTF-8, whole characters in each, each line within 78 characters and each
    word within 75; ``used`` is how much of the first line the header name takes."""
    words: list[str] = []
    chunk: list[bytes] = []
    size = 0
    limit = min(45, (_LINE - used - 12) // 4 * 3)
    for character in text:
        encoded = character.encode("utf-8")
        if size + len(encoded) > limit and chunk:
            words.append(base64.b64encode(b"".join(chunk)).decode("ascii"))
            chunk, size, limit = [], 0, 45
        chunk.append(encoded)
        size += len(encoded)
    words.append(base64.b64encode(b"".join(chunk)).decode("ascii"))
    return "\r\n ".join(f"=?utf-8?b?{word}?=" for word in words)


def _part(content_type: str, text: str) -> str:
    """A UTF-8 text part: quoted-printable, or base64 when shorter (text in mostly non-Latin scripts)."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, istext=True).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    encoding = "quoted-printable"
    if len(encoded) > (len(data) + 2) // 3 * 4 * 78 // 76:
        encoded, encoding = base64.encodebytes(data).replace(b"\n", b"\r\n"), "base64"
    head = f'Content-Type: {content_type}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n'
    return head + encoded.decode("ascii")
