"""A fleet-wide cap on requests in flight to one remote system: a counting semaphore in Redis.

`WOO_MAX_CONCURRENCY` = how many requests the whole fleet (every worker process, on one machine or many)
may have open at the shop at once; a shop has a fixed number of PHP workers, and a request beyond them
only waits in its queue (or times out). The rate limit (connector/ratelimit.py) bounds requests per
second; this bounds requests at once, which is what a slow shop's batch writes need.

Each holder is a member of one sorted set scored with the moment its lease ends (Redis server time, so
hosts need no common clock). A Lua script drops expired leases and takes a slot if fewer than `limit`
are held, in one step. A holder that dies (SIGKILL, lost host) never releases: its lease expires after
`lease_seconds` and the slot comes back. The lease must outlast one request, so it is the request
timeout plus a margin; a request that outlives its lease lets one more in, it never blocks the fleet.
A release pushes a wake-up on a list that waiters block on (BLPOP), so a freed slot is taken at once;
waiters also look again every WAKE_SECONDS for slots freed by expiry.
"""
from __future__ import annotations

import time
import uuid
from contextlib import contextmanager

import redis

from connector.broker import redis_client
from connector.errors import Busy, TransientError

KEY_PREFIX = "wooerp:slots:"
WAKE_SECONDS = 0.5  # waiters look again this often without a wake-up (slots freed by lease expiry)

# KEYS[1] holders (sorted set: token -> lease end, ms); ARGV limit, lease ms, token. 1 = taken, 0 = full.
TAKE = """
local limit, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], lease * 2)
  return 1
end
return 0
"""
# KEYS[1] holders, KEYS[2] wake-up list; ARGV token, limit. Wake one waiter only if the token was held.
GIVE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[2], '1')
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
  redis.call('PEXPIRE', KEYS[2], 60000)
end
return 0
"""


class Semaphore:
    """`with sem.slot(): send()` holds one of `limit` fleet-wide slots while the request is open."""

    def __init__(self, client: redis.Redis, name: str, limit: int, lease_seconds: float, *,
                 max_wait_seconds: float = 60.0):
        if limit < 1:
            raise ValueError("limit must be at least 1 (use no semaphore for 'unlimited')")
        self.client, self.limit = client, int(limit)
        self.key, self.wake_key = KEY_PREFIX + name, KEY_PREFIX + name + ":wake"
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.max_wait = max_wait_seconds
        self._take, self._give = client.register_script(TAKE), client.register_script(GIVE)

    def acquire(self) -> str:
        """Wait for a slot; returns the token to release. Busy when no slot came free within
        `max_wait_seconds` (the task waits again later), TransientError if Redis is unreachable."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.max_wait
        try:
            while not self._take(keys=[self.key], args=[self.limit, self.lease_ms, token]):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Busy(f"no free slot of {self.key} (limit {self.limit}) after "
                                         f"{self.max_wait:g} s", retry_after=5)
                self.client.blpop([self.wake_key], timeout=min(WAKE_SECONDS, left))
        except redis.RedisError as exc:
            raise TransientError(f"concurrency limiter {self.key} unavailable: {type(exc).__name__}: {exc}") from exc
        return token

    def release(self, token: str) -> None:
        """Give back the slot `token` holds and wake one waiter; a token whose lease already ended (or an
        unreachable Redis) is ignored: the request is done either way, and an unreleased lease expires."""
        try:
            self._give(keys=[self.key, self.wake_key], args=[token, self.limit])
        except redis.RedisError:
            pass  # the lease expires on its own; the request itself is done

    @contextmanager
    def slot(self):
        """Hold one slot for the block (waits like `acquire`, TransientError likewise); released on the way
        out, also after an error."""
        token = self.acquire()
        try:
            yield token
        finally:
            self.release(token)

    def held(self) -> int:
        """Slots held right now (live leases), for operators and tests."""
        seconds, micros = self.client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        return int(self.client.zcount(self.key, now_ms, "+inf"))


def semaphore(redis_url: str, name: str, limit: int, lease_seconds: float) -> Semaphore | None:
    """The concurrency cap for one remote system, or None when `limit` is 0 (unlimited)."""
    if limit <= 0:
        return None
    return Semaphore(redis_client(redis_url), name, limit, lease_seconds, max_wait_seconds=max(60.0, lease_seconds))
