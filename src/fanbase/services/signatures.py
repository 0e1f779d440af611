"""Checking the signatures of inbound deliveries, before any work is done on them.

- **Timestamped** (``t=<unix seconds>,v1=<hex>``, HMAC-SHA256 of ``"{t}.{body}"``): fanbase's own
  ``Fanbase-Signature`` and Stripe's ``Stripe-Signature`` (which may carry several ``v1`` while a secret is rolled).
  A signature older or newer than the tolerance is refused, so a captured delivery cannot be replayed later.
- **Shopify** (``X-Shopify-Hmac-Sha256``): base64 of HMAC-SHA256 of the raw body with the app's secret. Shopify
  signs no time; replays are made harmless by the vendor's ids instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from fanbase.errors import Unauthorized

TOLERANCE_SECONDS = 300


def check_timestamped(
    secret: str, body: bytes, header: str | None, *, name: str, now: datetime, tolerance: int = TOLERANCE_SECONDS
) -> None:
    """Unauthorized unless ``header`` (named ``name``) signs ``body`` with ``secret`` within ``tolerance``."""
    if not header:
        raise Unauthorized(f"missing {name} header")
    stamp, given = "", []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            stamp = value
        elif key == "v1" and value:
            given.append(value)
    if not stamp.isdigit() or len(stamp) > 12 or not given:
        raise Unauthorized(f"{name} must be t=<unix seconds>,v1=<hex>")
    if abs(now.timestamp() - int(stamp)) > tolerance:
        raise Unauthorized(f"{name} is too old (or from the future): sign each delivery when sending it")
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, value) for value in given):
        raise Unauthorized(f"{name} does not match the body")


def sign_timestamped(secret: str, body: bytes, *, now: datetime) -> str:
    """The header value ``check_timestamped`` accepts (for senders, and for tests)."""
    stamp = str(int(now.timestamp()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def check_shopify(secret: str, body: bytes, header: str | None) -> None:
    if not header:
        raise Unauthorized("missing X-Shopify-Hmac-Sha256 header")
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, header.strip()):
        raise Unauthorized("X-Shopify-Hmac-Sha256 does not match the body")


def sign_shopify(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
