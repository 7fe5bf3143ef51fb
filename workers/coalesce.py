"""Collapse storms of deliveries for one order into one queued task.

While an import of order N waits in the queue, more deliveries for N add nothing: the queued task
re-reads the order when it starts, so it sees their changes. The marker is a Redis key claimed before
the publish and deleted when the task starts; a delivery that arrives while the task runs queues a
fresh one. If the publish fails, the delivery stays in the outbox and the relay publishes it without
looking at the marker. A marker can outlive its message (a Redis restart loses the last second of
writes), so the order poll, the safety net, overrides markers older than a few poll intervals: a stale
marker costs at most a delay and a redundant (idempotent) task, never an order.
"""
from __future__ import annotations

import time

from connector.broker import redis_client

TTL_SECONDS = 600


def _key(order_id: int) -> str:
    return f"wooerp:queued:order:{int(order_id)}"


def claim(broker_url: str, order_id: int, stale_after: float | None = None) -> bool:
    """True if no import of `order_id` is waiting in the queue, or (with `stale_after`) the waiting one
    was marked longer ago than that; marks one as waiting now."""
    client, key, now = redis_client(broker_url), _key(order_id), time.time()
    if client.set(key, repr(now), nx=True, ex=TTL_SECONDS):
        return True
    if stale_after is None:
        return False
    marked = client.get(key)
    if marked is not None and now - float(marked) < stale_after:
        return False
    client.set(key, repr(now), ex=TTL_SECONDS)
    return True


def mark_started(broker_url: str, order_id: int) -> None:
    redis_client(broker_url).delete(_key(order_id))
