"""The connector's exception tree. Every failure is classified once, at the adapter boundary.

    SyncError
    ├── TransientError      retry with backoff; may carry retry_after (429, 5xx, timeouts)
    │   └── Busy            another worker holds the record's lease right now: wait, without spending
    │                       the retry budget (the holder's lease expiry bounds the wait)
    ├── PermanentError      no retry; dead-letter with the reason (4xx other than 408/429, bad config)
    │   ├── NotFound        the remote system itself says the record does not exist (WooCommerce: 410, or
    │   │                   404 with its `woocommerce_rest_…invalid_id` code); only this means "gone"
    │   └── AccessDenied    the shop refused the API key's permission (read-only key writing, a key whose
    │                       user lacks the capability): no retry helps until someone changes the key
    └── InvalidDataError    no retry; quarantine the record with a human-readable reason

ConfigError is separate: it stops start-up before any work is done.
"""
from __future__ import annotations


class SyncError(Exception):
    """Root of every error the sync use-cases raise on purpose."""

    def __init__(self, message: str, *, status: int | None = None, excerpt: str | None = None):
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt


class TransientError(SyncError):
    """Worth retrying later; `retry_after` (seconds) is the remote side's hint, if it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Busy(TransientError):
    """Someone else is working on the same record (an order, a parent product) or the shop's concurrency
    slots are all taken: not a failure of this task. The task base retries it after `retry_after` plus a
    growing pause without counting it against TASK_MAX_RETRIES, for as long as a lease can be held: a
    duplicate delivery waiting for the import in progress must never be dead-lettered for waiting."""


class PermanentError(SyncError):
    """Retrying will not help; an operator must look (dead letter)."""


class NotFound(PermanentError):
    """The remote system's own answer that the record does not exist. A bare 404 (a proxy's HTML page, an
    unknown route) is not this: it is classified as a TransientError in connector/http.py."""


class AccessDenied(PermanentError):
    """WooCommerce refused the request for lack of permission: the message starts with `reason`, the fix in
    one line; `need` is the permission the request needed ("read" or "write"), `code` the shop's code."""

    def __init__(self, message: str, *, reason: str, need: str, code: str, **kw):
        super().__init__(message, **kw)
        self.reason, self.need, self.code = reason, need, code


class InvalidDataError(SyncError):
    """The record itself is wrong; it is quarantined with `reason` until the data is fixed."""

    @property
    def reason(self) -> str:
        """The quarantine reason: the message, for a person to read and fix the data by."""
        return str(self)


class ConfigError(Exception):
    """A setting is missing or malformed. `variable` names the environment variable."""

    def __init__(self, variable: str, problem: str):
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem
