"""Collapse storms of deliveries for one order into one queued task.

While an import of order N waits in the queue, more deliveries for N add nothing: the queued task
re-reads the order when it starts, so it sees their changes. The marker is a Redis key claimed before
the publish and deleted when the task starts; a delivery that arrives while the task runs queues a
fresh one. If the publish fails, the delivery stays in the outbox and the relay publishes it without
looking at the marker. A marker can outlive its message (a Redis restart loses the last second of
writes), so the order poll, the safety net, overrides markers older than a few poll intervals: a stale
marker costs at most a delay and a redundant (idempotent) task, never an order.

The claim is one Lua script, so that checking the marker, (re)setting it and, for a publish, pushing the
message onto its queue are one round trip and one atomic step (workers.publish): a claimed marker
always has its message in the queue, and a message is never pushed without its claim.
"""
from __future__ import annotations

import time

from connector.broker import redis_client

TTL_SECONDS = 600
# KEYS: marker[, queue]; ARGV: now, ttl, stale_after ('' = never stale)[, message]. 1 = claimed (and pushed).
_CLAIM = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  if ARGV[3] == '' then return 0 end
  local marked = tonumber(redis.call('GET', KEYS[1]) or '')
  if marked and tonumber(ARGV[1]) - marked < tonumber(ARGV[3]) then return 0 end
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
if KEYS[2] then redis.call('LPUSH', KEYS[2], ARGV[4]) end
return 1
"""
_scripts: dict = {}


def _key(order_id: int) -> str:
    return f"wooerp:queued:order:{int(order_id)}"


def _script(broker_url: str):
    script = _scripts.get(broker_url)
    if script is None:  # redis-py runs it by its SHA, loading it again after a Redis restart
        script = _scripts[broker_url] = redis_client(broker_url).register_script(_CLAIM)
    return script


def claim(broker_url: str, order_id: int, stale_after: float | None = None,
          queue: str | None = None, message: str | None = None) -> bool:
    """True if no import of `order_id` is waiting in the queue, or (with `stale_after`) the waiting one
    was marked longer ago than that; marks one as waiting now. With `queue` and `message`, a true claim
    also LPUSHes `message` onto the Redis list `queue`, in the same atomic step."""
    keys = [_key(order_id)] + ([queue] if queue is not None else [])
    args = [repr(time.time()), TTL_SECONDS, "" if stale_after is None else repr(float(stale_after))]
    if queue is not None:
        args.append(message)
    return bool(_script(broker_url)(keys=keys, args=args))


def mark_started(broker_url: str, order_id: int) -> None:
    """The import of `order_id` has started: the next delivery for it queues a fresh one."""
    redis_client(broker_url).delete(_key(order_id))
