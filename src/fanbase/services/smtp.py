"""An SMTP client for the relay ``FANBASE_SMTP_URL`` names: ``smtps://user:password@host:465`` (implicit TLS),
``smtp+starttls://user:password@host:587`` (STARTTLS required) or ``smtp://host:25`` (STARTTLS when the server offers
it; for a relay on the same host; ``?tls=none`` never). A connection is opened on first use and kept across mails.
A recipient's refusal with 5xx is a ``PermanentFailure`` (the address bounced); anything else that stops a mail is a
``TemporaryFailure`` (try again later). No database here: the sender (jobs.mail) and a test send use it."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

from fanbase.errors import InvalidInput

SMTP_TIMEOUT_SECONDS = 30.0


class TemporaryFailure(Exception):
    """The mail could not be delivered now (SMTP 4xx, connection trouble): try again later."""


class PermanentFailure(Exception):
    """The server refused the mail for good (SMTP 5xx): the address bounced."""


@dataclass(frozen=True)
class OutgoingMail:
    workspace_id: int
    message_id: int
    recipient_id: int
    fan_id: int
    to_address: str
    envelope_from: str
    subject: str
    message_key: str  # the Message-ID
    raw: bytes
    attempts: int  # this one included


@dataclass(frozen=True)
class SmtpRelay:
    host: str
    port: int
    security: str  # "tls" (implicit), "starttls" (required), "opportunistic"
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpRelay:
    """``FANBASE_SMTP_URL`` as a relay; InvalidInput naming what is wrong."""
    parts = urlsplit(url)
    schemes = {"smtps": ("tls", 465), "smtp+starttls": ("starttls", 587), "smtp": ("opportunistic", 25)}
    if parts.scheme not in schemes:
        raise InvalidInput("must start with smtps://, smtp+starttls:// or smtp://", field="FANBASE_SMTP_URL")
    if not parts.hostname:
        raise InvalidInput("must name a host", field="FANBASE_SMTP_URL")
    security, default_port = schemes[parts.scheme]
    if parse_qs(parts.query).get("tls") == ["none"]:
        security = "none"
    return SmtpRelay(
        host=parts.hostname,
        port=parts.port or default_port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class SmtpConnection:
    """One connection to the relay, opened on first use and kept across mails; reopened after it failed."""

    def __init__(self, relay: SmtpRelay, *, context: ssl.SSLContext | None = None) -> None:
        self.relay = relay
        self.context = context or ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        relay = self.relay
        smtp: smtplib.SMTP
        if relay.security == "tls":
            smtp = smtplib.SMTP_SSL(relay.host, relay.port, timeout=SMTP_TIMEOUT_SECONDS, context=self.context)
        else:
            smtp = smtplib.SMTP(relay.host, relay.port, timeout=SMTP_TIMEOUT_SECONDS)
            smtp.ehlo()
            if relay.security == "starttls" or (relay.security == "opportunistic" and smtp.has_extn("starttls")):
                smtp.starttls(context=self.context)
                smtp.ehlo()
        if relay.username:
            smtp.login(relay.username, relay.password or "")
        return smtp

    def send(self, mail: OutgoingMail) -> None:
        """Deliver one mail; TemporaryFailure or PermanentFailure when it was not accepted."""
        try:
            if self._smtp is None:
                self._smtp = self._open()
            self._smtp.sendmail(mail.envelope_from, [mail.to_address], mail.raw)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise _failure(code, reply) from None
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused, smtplib.SMTPNotSupportedError) as error:
            # The relay's login or the sender's address is wrong: no fault of the recipient's, so never a bounce.
            self.close()
            raise TemporaryFailure(f"the relay refused fanbase itself: {error}"[:500]) from None
        except smtplib.SMTPResponseException as error:
            self._reset_after(error)
            raise _failure(error.smtp_code, error.smtp_error) from None
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise TemporaryFailure(f"{type(error).__name__}: {error}") from None

    def _reset_after(self, error: smtplib.SMTPResponseException) -> None:
        if error.smtp_code in (421, -1) or self._smtp is None:
            self.close()
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def _failure(code: int, reply: bytes | str) -> Exception:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    message = f"SMTP {code}: {text}"[:500]
    return PermanentFailure(message) if 500 <= code < 600 else TemporaryFailure(message)
