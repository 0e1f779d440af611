"""Configuration from the environment (prefix ``FANBASE_``); with none, an embedded SQLite file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings
from pydantic_settings import SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FANBASE_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where the embedded SQLite file lives.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; e.g. postgresql+psycopg://user@host/db. Unset: SQLite in data_dir.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    # Bounds that keep one request from exhausting the server; each refusal names its limit.
    max_page_size: int = 500
    max_batch_size: int = 1000
    max_csv_bytes: int = 20 * 1024 * 1024
    # Any other request body (JSON, a form), capped while it is read, before authentication: a 1,000-item batch of
    # events of 8 KB each fits.
    max_json_bytes: int = 8 * 1024 * 1024
    # Requests per minute per API key and per client address (0: no limit); past them, 429 with Retry-After.
    rate_limit_per_key: int = Field(default=6000, ge=0)
    rate_limit_per_address: int = Field(default=12000, ge=0)
    # How long a reply to a request with an Idempotency-Key is kept (and replayed); later the key is a new request.
    idempotency_ttl_hours: float = Field(default=24.0, gt=0)
    # How long the audit log keeps an entry.
    audit_retention_days: int = Field(default=365, ge=1)
    # The time-driven scheduler (and webhook delivery) runs inside `fanbase serve` when this is set (serve sets it),
    # and on its own as `fanbase worker`. Flips are applied within one interval of their due time.
    run_scheduler: bool = False
    scheduler_interval_seconds: float = Field(default=15.0, gt=0, le=60)
    # Mail: the SMTP relay (smtps://user:password@host:465, smtp+starttls://…:587, or smtp://host:25); unset, mail
    # goes to the local outbox the dashboard shows. public_url is where links in mail (unsubscribe, tracking) lead.
    smtp_url: str | None = None
    public_url: str | None = Field(default=None, description="e.g. https://fans.example.com; unset: http://host:port")
    mail_connections: int = Field(default=4, ge=1, le=32)
    # How long a claimed recipient is the claiming sender's: one that died is sent by another after this.
    mail_lease_seconds: float = Field(default=120.0, gt=0)
    # Webhook targets on loopback/private/link-local addresses are refused unless this is set (tests set it).
    allow_private_webhook_targets: bool = False

    @property
    def idempotency_ttl(self) -> timedelta:
        return timedelta(hours=self.idempotency_ttl_hours)

    @property
    def audit_retention(self) -> timedelta:
        return timedelta(days=self.audit_retention_days)

    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'fanbase.sqlite3').resolve()}"
