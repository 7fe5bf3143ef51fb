"""A fleet-wide rate limit per remote system: one token bucket in Redis, shared by every process.

The bucket lives in one Redis hash and is updated by a Lua script, so concurrent callers on any host
see one consistent bucket, timed by the Redis server's clock. A call takes its token at once and the
script answers how long the caller must wait for it (tokens may go negative: that is the queue), so
each request costs one round trip and callers are served in order. This is not Celery's `rate_limit`,
which is per worker; nothing here knows about Celery.
"""
from __future__ import annotations

import time
from typing import Callable

import redis

from connector.broker import redis_client
from connector.errors import TransientError

KEY_PREFIX = "wooerp:ratelimit:"

# KEYS[1] bucket; ARGV rate (tokens/s), burst (capacity), tokens wanted. Answers the wait in seconds.
TAKE = """
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(state[1]), tonumber(state[2])
if tokens == nil or ts == nil then
  tokens, ts = burst, now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
tokens = tokens - want
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
local wait = 0
if tokens < 0 then wait = -tokens / rate end
redis.call('PEXPIRE', KEYS[1], math.ceil((wait + burst / rate) * 1000) + 1000)
return tostring(wait)
"""


class TokenBucket:
    """`acquire()` blocks until this process may send one request to the system the bucket guards."""

    def __init__(self, client: redis.Redis, name: str, rate: float, burst: float, *,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive (use no limiter for 'unlimited')")
        self.key, self.rate, self.burst = KEY_PREFIX + name, float(rate), max(1.0, float(burst))
        self._take = client.register_script(TAKE)
        self._sleep = sleep

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; returns the seconds waited."""
        try:
            wait = float(self._take(keys=[self.key], args=[repr(self.rate), repr(self.burst), "1"]))
        except redis.RedisError as exc:
            raise TransientError(f"rate limiter {self.key} unavailable: {type(exc).__name__}: {exc}") from exc
        if wait > 0:
            self._sleep(wait)
        return wait


def bucket(redis_url: str, name: str, rate: float, burst: float) -> TokenBucket | None:
    """The limiter for one remote system, or None when `rate` is 0 (unlimited)."""
    if rate <= 0:
        return None
    return TokenBucket(redis_client(redis_url), name, rate, burst)
