"""Structured JSON logs with a correlation id that follows an order from the webhook to the ERP call.

The correlation id lives in a context variable: the shim sets it per delivery, the task base class
sets it from the message headers, and the adapters send it on (`X-Correlation-ID`). A filter masks
e-mail addresses and known secret values in every record, so a careless log call cannot leak them.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
_secrets: set[str] = set()
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def get_correlation_id() -> str | None:
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> contextvars.Token:
    return _correlation_id.set(value)


def register_secrets(*values: str) -> None:
    """Values that must never appear in a log line (tokens, consumer secrets, passwords)."""
    _secrets.update(v for v in values if v and len(v) >= 6)


def mask(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return _EMAIL.sub(lambda m: m.group(0)[0] + "***@" + m.group(0).split("@", 1)[1], text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        cid = get_correlation_id()
        if cid:
            entry["correlation_id"] = cid
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return mask(json.dumps(entry, default=str))


def setup(level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    """Route the root logger to stderr as JSON lines (idempotent)."""
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
