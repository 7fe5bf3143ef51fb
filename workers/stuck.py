"""Find tasks stuck in started or reserved state because their worker died, and requeue them.

kombu's Redis transport keeps every delivered, unacknowledged message in the `unacked` hash (with its
delivery time in `unacked_index`) and gives it back only after the visibility timeout (an hour by default).
A message older than STUCK_TASK_SECONDS that no live worker reports as active, reserved or scheduled has
lost its worker: it is put back on its queue now, with kombu's own atomic restore. Its next delivery is
counted like any other, so a message that keeps killing workers still ends as a poison dead letter.
"""
from __future__ import annotations

import json
import logging
import time

from connector.logs import event

log = logging.getLogger("wooerp.stuck")


def held_task_ids(app, timeout: float = 2.0) -> set[str] | None:
    """Ids of every task a live worker holds; None when no worker answered (nothing can be concluded)."""
    inspect = app.control.inspect(timeout=timeout)
    replies = [inspect.active(), inspect.reserved(), inspect.scheduled()]
    if not any(replies):
        return None
    held = set()
    for reply in replies:
        for tasks in (reply or {}).values():
            for t in tasks:
                held.add((t.get("request") or t).get("id"))
    return held


def orphans(client, unacked_key: str, index_key: str, held: set[str], older_than: float) -> list[dict]:
    found = []
    for tag, delivered in client.zrangebyscore(index_key, 0, time.time() - older_than, withscores=True):
        raw = client.hget(unacked_key, tag)
        if raw is None:
            continue
        message, exchange, routing_key = json.loads(raw)
        headers = message.get("headers") or {}
        if headers.get("id") not in held:
            found.append({"tag": tag.decode() if isinstance(tag, bytes) else tag, "task_id": headers.get("id"),
                          "task": headers.get("task"), "queue": routing_key,
                          "age_seconds": round(time.time() - delivered)})
    return found


def requeue_orphans(app, older_than: float) -> list[dict]:
    """Requeue messages whose worker is gone; returns what was requeued."""
    held = held_task_ids(app)
    if held is None:
        return []
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        client = channel.client
        lost = orphans(client, channel.unacked_key, channel.unacked_index_key, held, older_than)
        for o in lost:
            channel.qos.restore_by_tag(o["tag"], client)
            event(log, "stuck task requeued: its worker is gone", logging.WARNING, task=o["task"],
                  task_id=o["task_id"], queue=o["queue"], age_seconds=o["age_seconds"])
    return lost
