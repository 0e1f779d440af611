"""Domain errors. No HTTP here: ``fanbase.api.app`` maps each kind to a status code in one place."""

from __future__ import annotations


class FanbaseError(Exception):
    """Base of every error the domain raises on purpose; its message is safe to show to a user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class NotFound(FanbaseError):
    """The object does not exist in this workspace (another workspace's object is reported the same way)."""


class Conflict(FanbaseError):
    """The request clashes with the current state (duplicate name, object still in use, idempotency clash)."""


class InvalidInput(FanbaseError):
    """A value is well-formed JSON but not acceptable (wrong currency, unknown custom field, …)."""


class TooLarge(FanbaseError):
    """A page, batch or upload is bigger than the configured bound."""


class Unavailable(FanbaseError):
    """The database could not complete the work just now (contention that outlasted the retries); try again after
    ``retry_after`` seconds. Nothing was written."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Throttled(FanbaseError):
    """Too many requests (or failed attempts) from this key, address or account; try again after ``retry_after``
    seconds. Nothing was done."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class Unauthorized(FanbaseError):
    """No credentials, or credentials that are unknown or revoked."""


class RuleError(Exception):
    """One problem in a rule, at a path into the tree such as ``all[2].count.where.field``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class InvalidRule(FanbaseError):
    """A rule that fails validation; carries every problem found, each with its path."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors), field="rule")

    def __str__(self) -> str:
        return self.message
