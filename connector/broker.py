"""The one factory of Redis clients: the broker's Redis also holds wooerp's shared state (rate-limit
buckets, coalescing markers, task metrics, the last reconciliation). Short timeouts: a caller that
cannot reach Redis gets `redis.RedisError` within ~2 s instead of hanging a task."""
from __future__ import annotations

from functools import lru_cache

import redis


@lru_cache(maxsize=4)
def redis_client(url: str) -> redis.Redis:
    """A client of the Redis at `url` (redis:// or rediss://), shared per URL within a process; its
    connection pool reconnects after a fork or a Redis restart."""
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
