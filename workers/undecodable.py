"""Messages no task can run — a body that does not decode, an unknown task name, a content type we do not
accept, a message that is not a task at all — become dead letters instead of being dropped.

Celery's consumer logs such a message and acks or rejects it; its `task_unknown` and `task_rejected`
signals fire only after the message is gone, and a decode error has no signal. So this consumer records
the letter first (durable, one per message) and then lets Celery go on. Installed with `worker_consumer`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os

from celery.worker.consumer import Consumer as CeleryConsumer

from connector import dead_letters
from connector.db import Database
from connector.logs import event
from workers.announce import announce

log = logging.getLogger("wooerp.undecodable")
_db: dict[int, Database] = {}


class Consumer(CeleryConsumer):
    def on_decode_error(self, message, exc):
        _dead_letter(self.app, message, type(exc).__name__, f"the body could not be decoded: {exc}",
                     dead_letters.UNDECODABLE)
        super().on_decode_error(message, exc)

    def on_unknown_message(self, body, message):
        _dead_letter(self.app, message, "NotATaskMessage", "the message carries no task name",
                     dead_letters.UNDECODABLE)
        super().on_unknown_message(body, message)

    def on_unknown_task(self, body, message, exc):
        _dead_letter(self.app, message, "NotRegistered", f"no worker knows this task: {exc}", "unknown-task:")
        super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body, message, exc):
        _dead_letter(self.app, message, type(exc).__name__, f"the message is not a valid task: {exc}",
                     dead_letters.UNDECODABLE)
        super().on_invalid_task(body, message, exc)


def _body(message) -> tuple[list, dict]:
    """Args and kwargs if the body is a protocol-2 task body, else nothing."""
    try:
        body = json.loads(message.body)
        return list(body[0]), dict(body[1])
    except Exception:  # noqa: BLE001 — whatever it is, it is not a body we can replay
        return [], {}


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:32]


def _dead_letter(app, message, exc_type: str, problem: str, attempt_prefix: str) -> None:
    headers = message.headers if isinstance(message.headers, dict) else {}
    properties = message.properties or {}
    raw = message.body if isinstance(message.body, (bytes, str)) else repr(message.body)
    raw = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    args, kwargs = _body(message)
    letter = dead_letters.Letter(
        task_id=str(headers.get("id") or properties.get("delivery_tag") or _digest(raw)),
        attempt_key=f"{attempt_prefix}{headers.get('retries', 0)}", task_name=str(headers.get("task") or "(unknown)"),
        args=args, kwargs=kwargs, queue=(message.delivery_info or {}).get("routing_key"),
        correlation_id=headers.get("wooerp_cid"), retries=int(headers.get("retries") or 0), exc_type=exc_type,
        exc_message=f"{problem}; content type {message.content_type!r}; body: {raw[:500]!r}", traceback=None)
    try:
        db = _db.setdefault(os.getpid(), Database(app.wooerp_settings.database_url))
        letter_id, new = dead_letters.record(db, letter)
        if new:
            announce(app, db, letter_id)
    except Exception as e:  # noqa: BLE001 — never take the consumer down; the message is logged in full
        event(log, "undeliverable message NOT recorded", logging.CRITICAL, error=str(e), task=letter.task_name,
              task_id=letter.task_id, headers=str(headers)[:1000], body=raw[:2000])
        return
    event(log, "undeliverable message dead-lettered", logging.ERROR, letter_id=letter_id, task=letter.task_name,
          task_id=letter.task_id, error=f"{exc_type}: {problem[:300]}", new=new)
