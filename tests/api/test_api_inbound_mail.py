"""Mail that comes back: a delivery status notification (RFC 3464) bounces the recipient, a complaint report (ARF,
RFC 5965) suppresses and unsubscribes, a reply to the mailto: unsubscribe unsubscribes; a provider's JSON events
count only when signed, fresh and untampered. Each twice changes nothing more."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from fanbase.schemas.workspaces import WorkspaceCreated
from tests_support import deliver_mail
from tests_support import seed_message

API = "/api/v1"

# The shape of RFC 3464's examples (section 10), about the mail fanbase sent.
DSN = """\
From: MAILER-DAEMON@mx.example.net\r
To: hello@fanbase.localhost\r
Subject: Returned mail: User unknown\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary="RAA14128.773615765/mx.example.net"\r
\r
--RAA14128.773615765/mx.example.net\r
Content-Type: text/plain\r
\r
The message could not be delivered to {address}: user unknown.\r
\r
--RAA14128.773615765/mx.example.net\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.example.net\r
Arrival-Date: Mon, 1 Jun 2026 12:00:05 +0000\r
\r
Final-Recipient: rfc822; {address}\r
Action: {action}\r
Status: {status}\r
Diagnostic-Code: smtp; {code} User unknown\r
\r
--RAA14128.773615765/mx.example.net\r
Content-Type: text/rfc822-headers\r
\r
From: fanbase <hello@fanbase.localhost>\r
To: {address}\r
Subject: Hi\r
Message-ID: {message_id}\r
\r
--RAA14128.773615765/mx.example.net--\r
"""

# RFC 5965's example, about the mail fanbase sent.
ARF = """\
From: <abusedesk@example.com>\r
To: <hello@fanbase.localhost>\r
Subject: FW: Earn money\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=feedback-report; boundary="part1_13d.2e68ed54_boundary"\r
\r
--part1_13d.2e68ed54_boundary\r
Content-Type: text/plain; charset="US-ASCII"\r
\r
This is an email abuse report for an email message received from IP 192.0.2.1.\r
\r
--part1_13d.2e68ed54_boundary\r
Content-Type: message/feedback-report\r
\r
Feedback-Type: abuse\r
User-Agent: SomeGenerator/1.0\r
Version: 1\r
Original-Rcpt-To: {address}\r
\r
--part1_13d.2e68ed54_boundary\r
Content-Type: text/rfc822-headers\r
\r
From: fanbase <hello@fanbase.localhost>\r
To: {address}\r
Subject: Hi\r
Message-ID: {message_id}\r
\r
--part1_13d.2e68ed54_boundary--\r
"""


def _sent(app: FastAPI, client: TestClient, headers: dict[str, str], workspace: WorkspaceCreated, now: datetime) -> Any:
    seeded = seed_message(client, headers, fans=3)
    message_id = seeded["message"]["id"]
    client.post(f"{API}/messages/{message_id}/send", headers=headers)
    deliver_mail(app.state.fanbase.database, workspace.workspace.id, now)
    recipients = client.get(f"{API}/messages/{message_id}/recipients", headers=headers).json()["items"]
    return seeded, {
        recipient["email"]: f"<{workspace.workspace.id}.{message_id}.{recipient['id']}@fanbase.localhost>"
        for recipient in recipients
    }


def _post_mail(client: TestClient, headers: dict[str, str], raw: str) -> dict[str, int]:
    response = client.post(
        f"{API}/inbound/mail", content=raw.encode(), headers={**headers, "Content-Type": "message/rfc822"}
    )
    assert response.status_code == 200, response.text
    result: dict[str, int] = response.json()
    return result


def _state(client: TestClient, headers: dict[str, str], message_id: int, address: str) -> str:
    items = client.get(f"{API}/messages/{message_id}/recipients", headers=headers).json()["items"]
    return str(next(item["state"] for item in items if item["email"] == address))


def test_a_dsn_bounces_a_complaint_unsubscribes_and_a_delay_changes_nothing(
    app: FastAPI, client: TestClient, headers: dict[str, str], workspace: WorkspaceCreated, now: datetime
) -> None:
    seeded, keys = _sent(app, client, headers, workspace, now)
    message_id = seeded["message"]["id"]
    gone, angry, slow = "fan0@example.com", "fan1@example.com", "fan2@example.com"

    delayed = DSN.format(address=slow, action="delayed", status="4.4.7", code="451", message_id=keys[slow])
    assert _post_mail(client, headers, delayed)["delayed"] == 1
    assert _state(client, headers, message_id, slow) == "sent"

    bounce = DSN.format(address=gone, action="failed", status="5.1.1", code="550", message_id=keys[gone])
    assert _post_mail(client, headers, bounce)["bounced"] == 1
    assert _state(client, headers, message_id, gone) == "bounced"
    assert client.get(f"{API}/suppressions", params={"email": gone}, headers=headers).json()["reason"] == "bounced"
    assert _post_mail(client, headers, bounce)["bounced"] == 1  # again: nothing more changes
    gone_id = seeded["fan_ids"][0]
    bounced_events = [
        e for e in client.get(f"{API}/fans/{gone_id}/events", headers=headers).json() if e["type"] == "email_bounced"
    ]
    assert len(bounced_events) == 1

    complaint = ARF.format(address=angry, message_id=keys[angry])
    assert _post_mail(client, headers, complaint)["complained"] == 1
    assert client.get(f"{API}/suppressions", params={"email": angry}, headers=headers).json()["reason"] == "complained"
    lists = client.get(f"{API}/fans/{seeded['fan_ids'][1]}/lists", headers=headers).json()
    assert [entry["status"] for entry in lists] == ["unsubscribed"]

    stats = client.get(f"{API}/messages/{message_id}/stats", headers=headers).json()
    assert (stats["sent"], stats["bounced"]) == (2, 1)
    # Another workspace's Message-ID is not this key's to report.
    foreign = DSN.format(
        address="x@example.com", action="failed", status="5.1.1", code="550", message_id="<999999.1.1@x>"
    )
    assert _post_mail(client, headers, foreign)["unknown"] == 1
    assert _post_mail(client, headers, "Subject: hello\r\n\r\nJust a reply.\r\n")["ignored"] == 1


def test_a_reply_to_the_mailto_unsubscribe_unsubscribes(
    app: FastAPI, client: TestClient, headers: dict[str, str], workspace: WorkspaceCreated, now: datetime
) -> None:
    seeded, _ = _sent(app, client, headers, workspace, now)
    outbox = client.get(f"{API}/mail/outbox", headers=headers).json()["items"]
    mail = next(item for item in outbox if item["to_address"] == "fan0@example.com")
    raw = client.get(f"{API}/mail/outbox/{mail['id']}/raw", headers=headers).content.decode()
    unfolded = re.sub(r"\r\n[ \t]+", " ", raw)
    subject = re.search(r"mailto:[^?]+\?subject=([^>\s]+)>", unfolded)
    assert subject is not None
    reply = f"From: fan0@example.com\r\nSubject: {subject.group(1).replace('%20', ' ')}\r\n\r\n\r\n"
    assert _post_mail(client, headers, reply)["unsubscribed"] == 1
    lists = client.get(f"{API}/fans/{seeded['fan_ids'][0]}/lists", headers=headers).json()
    assert [entry["status"] for entry in lists] == ["unsubscribed"]


def _signed(secret: str, body: bytes, stamp: int) -> str:
    digest = hmac.new(secret.encode(), str(stamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def test_provider_events_count_only_when_signed_fresh_and_untampered(
    app: FastAPI, client: TestClient, headers: dict[str, str], workspace: WorkspaceCreated, now: datetime
) -> None:
    seeded, keys = _sent(app, client, headers, workspace, now)
    workspace_id = workspace.workspace.id
    secret = client.get(f"{API}/mail/settings", headers=headers).json()["inbound_secret"]
    url = f"/inbound/{workspace_id}/mail-events"
    body = json.dumps(
        {"events": [{"type": "bounce", "message_id": keys["fan0@example.com"], "reason": "550"}]}
    ).encode()
    stamp = int(now.timestamp())

    assert client.post(url, content=body).status_code == 401  # unsigned
    tampered = body.replace(b"550", b"551")
    assert (
        client.post(url, content=tampered, headers={"Fanbase-Signature": _signed(secret, body, stamp)}).status_code
        == 401
    )
    stale = _signed(secret, body, stamp - 3600)
    assert client.post(url, content=body, headers={"Fanbase-Signature": stale}).status_code == 401
    wrong = _signed("not the secret", body, stamp)
    assert client.post(url, content=body, headers={"Fanbase-Signature": wrong}).status_code == 401
    assert _state(client, headers, seeded["message"]["id"], "fan0@example.com") == "sent"

    good = client.post(url, content=body, headers={"Fanbase-Signature": _signed(secret, body, stamp)})
    assert good.status_code == 200 and good.json()["bounced"] == 1, good.text
    assert _state(client, headers, seeded["message"]["id"], "fan0@example.com") == "bounced"
    replay = client.post(url, content=body, headers={"Fanbase-Signature": _signed(secret, body, stamp)})
    assert replay.status_code == 200
    stats = client.get(f"{API}/messages/{seeded['message']['id']}/stats", headers=headers).json()
    assert stats["bounced"] == 1

    bad = json.dumps({"events": [{"type": "opened", "email": "fan1@example.com"}]}).encode()
    refused = client.post(url, content=bad, headers={"Fanbase-Signature": _signed(secret, bad, stamp)})
    assert refused.status_code == 422 and refused.json()["field"] == "events[0].type"
