"""Structured JSON logs with a correlation id that follows an order from the webhook to the ERP call.

The correlation id lives in a context variable: the shim sets it per delivery, the task base class
sets it from the message headers, and the adapters send it on (`X-Correlation-ID`). The formatter masks
e-mail addresses (also URL-encoded or non-ASCII) and every registered secret (also URL-encoded) in the
message, each field value and the traceback *before* the line is encoded as JSON, so that escaping
(`\"`, `\u00e9`) cannot hide a value from the mask and a careless log call cannot leak them.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from urllib.parse import quote, quote_plus

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
_secrets: set[str] = set()
# local part (letters of any script, `%xx` escapes), then `@` or its URL encoding, then a dotted domain
_EMAIL = re.compile(r"[\w.+%-]+(@|%40)([\w-]+\.[\w.-]+)", re.IGNORECASE)


def new_correlation_id() -> str:
    """A fresh correlation id: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def get_correlation_id() -> str | None:
    """The correlation id of the current task or request (None outside one); logged on every line and
    sent as `X-Correlation-ID` to the shop and the ERP."""
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> contextvars.Token:
    """Make `value` the current correlation id; pass the returned token to `reset_correlation_id`."""
    return _correlation_id.set(value)


def reset_correlation_id(token: contextvars.Token) -> None:
    """Restore the correlation id that was current before the `set_correlation_id` that gave `token`."""
    _correlation_id.reset(token)


def register_secrets(*values: str) -> None:
    """Values that must never appear in a log line (tokens, consumer secrets, passwords)."""
    for v in values:
        if v and len(v) >= 6:
            _secrets.update({v, quote(v, safe=""), quote_plus(v, safe=""), quote(v)})


def mask(text: str) -> str:
    """`text` with registered secrets replaced by *** and e-mail local parts reduced to their first letter."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return _EMAIL.sub(lambda m: m.group(0)[0] + "***" + m.group(1) + m.group(2), text)


def mask_value(value):
    """A JSON-ready copy of `value` with every string in it masked (dict keys included)."""
    if isinstance(value, str):
        return mask(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {mask(str(k)): mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [mask_value(v) for v in value]
    return mask(str(value))


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: `ts` (UTC, milliseconds, `Z`), `level`, `logger`, `msg`, the
    current `correlation_id` if any, the `fields` given to `event` as top-level keys, and `exc`; every
    string masked for registered secrets."""
    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line (see the class); never raises on values JSON cannot encode (str())."""
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        cid = get_correlation_id()
        if cid:
            entry["correlation_id"] = cid
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = mask_value(value)
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def setup(level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    """Route the root logger to stderr as JSON lines (idempotent). Pass `settings.secrets()`."""
    register_secrets(*secrets)
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.handlers = [handler]
    root.setLevel(level)


def event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields) -> None:
    """Log `msg` with structured `fields` (they become top-level JSON keys)."""
    logger.log(level, msg, extra={"fields": fields})
