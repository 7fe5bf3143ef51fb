"""Collapse storms of deliveries for one order into one queued task.

While an import of order N waits in the queue, more deliveries for N add nothing: the queued task
re-reads the order when it starts, so it sees their changes. The marker is a Redis key claimed before
the publish and deleted when the task starts; a delivery that arrives while the task runs queues a
fresh one. If the publish fails, the delivery stays in the outbox and the relay publishes it without
looking at the marker, so a stale marker costs at most a redundant (idempotent) task, never an event.
"""
from __future__ import annotations

from functools import lru_cache

import redis

TTL_SECONDS = 600


@lru_cache(maxsize=4)
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def _key(order_id: int) -> str:
    return f"wooerp:queued:order:{int(order_id)}"


def claim(broker_url: str, order_id: int) -> bool:
    """True if no import of `order_id` is waiting in the queue (and mark one as waiting now)."""
    return bool(redis_client(broker_url).set(_key(order_id), "1", nx=True, ex=TTL_SECONDS))


def mark_started(broker_url: str, order_id: int) -> None:
    redis_client(broker_url).delete(_key(order_id))
