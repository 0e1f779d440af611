"""The links a mail carries back to fanbase: one-click unsubscribe, the open pixel, click redirects. Each carries a
token signed with its workspace's mail secret (itsdangerous, HMAC-SHA1 over the payload and a timestamp), so
nobody can unsubscribe someone else, forge an open, or use a click link to send people anywhere not in the mail.

A token is ``<workspace id>.<signed payload>``: the workspace tells which secret to check it with. Unsubscribe
tokens are honoured for a year (a mail is often read long after it was sent); tracking tokens too.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature
from itsdangerous import TimestampSigner
from itsdangerous import URLSafeTimedSerializer

from fanbase.errors import InvalidInput

TOKEN_LIFETIME_SECONDS = 365 * 24 * 3600
_SALTS = {"unsubscribe": "fanbase.unsubscribe", "open": "fanbase.open", "click": "fanbase.click"}


@dataclass(frozen=True)
class LinkTarget:
    """What a verified token names."""

    workspace_id: int
    message_id: int
    recipient_id: int
    url: str | None = None  # a click's destination


class _SignedAt(TimestampSigner):
    """A timestamp signer that stamps the time it is given, not the clock's (time is passed in)."""

    def __init__(self, *args: Any, moment: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.moment = moment

    def get_timestamp(self) -> int:
        return self.moment


def _serializer(secret: str, kind: str, *, moment: int = 0) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALTS[kind], signer=_SignedAt, signer_kwargs={"moment": moment})


def sign(secret: str, kind: str, target: LinkTarget, *, now_timestamp: float) -> str:
    payload: list[Any] = [target.message_id, target.recipient_id]
    if target.url is not None:
        payload.append(target.url)
    signed = _serializer(secret, kind, moment=int(now_timestamp)).dumps(payload)
    return f"{target.workspace_id}.{signed}"


def workspace_of(token: str) -> int:
    """The workspace a token claims to be from (not yet verified); InvalidInput when it is not a token."""
    workspace, _, _ = token.partition(".")
    if not workspace.isdigit() or len(workspace) > 18 or len(token) > 4000:
        raise InvalidInput("is not a fanbase link", field="token")
    return int(workspace)


def verify(secret: str, kind: str, token: str, *, now_timestamp: float) -> LinkTarget:
    """The target of a token signed with ``secret``; InvalidInput when it was altered or has expired."""
    workspace_id = workspace_of(token)
    signed = token.partition(".")[2]
    serializer = _serializer(secret, kind)
    try:
        payload, signed_at = serializer.loads(signed, return_timestamp=True)
    except BadSignature:
        raise InvalidInput("this link is not valid", field="token") from None
    if now_timestamp - signed_at.timestamp() > TOKEN_LIFETIME_SECONDS:
        raise InvalidInput("this link has expired", field="token")
    if not isinstance(payload, list) or len(payload) not in (2, 3):
        raise InvalidInput("this link is not valid", field="token")
    url = payload[2] if len(payload) == 3 else None
    return LinkTarget(workspace_id=workspace_id, message_id=int(payload[0]), recipient_id=int(payload[1]), url=url)


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/u/{token}"


def unsubscribe_mailto(sender_address: str, token: str) -> str:
    """A mailto: unsubscribe (RFC 2369) to the sender's own address, the token in the subject; a mail pipe that
    forwards what arrives there to ``POST /api/v1/inbound/mail`` completes it."""
    return f"mailto:{sender_address}?subject={quote('unsubscribe ' + token)}"


def open_pixel_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/t/o/{token}.gif"


def click_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/t/c/{token}"


def inbound_secret(mail_secret: str) -> str:
    """The secret a provider signs its JSON bounce and complaint events with: derived from the workspace's mail
    secret, so the secret that signs unsubscribe links is never handed out."""
    return hmac.new(mail_secret.encode(), b"fanbase inbound events", hashlib.sha256).hexdigest()
