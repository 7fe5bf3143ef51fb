"""Counting what the fleet does to the WooCommerce sandbox, and waiting until it is done."""
from __future__ import annotations

import time

import redis
import requests

SYNC_QUEUES = ("catalog", "inventory")


def woo_stats(url: str) -> dict:
    """Requests served so far by the Woo sandbox, by 'METHOD path'."""
    return requests.get(f"{url}/_sandbox/stats", timeout=30).json()["requests"]


def write_calls(stats: dict) -> int:
    return sum(n for k, n in stats.items() if k.split(" ")[0] in ("POST", "PUT") and "/wp-json/" in k)


def all_calls(stats: dict) -> int:
    return sum(n for k, n in stats.items() if "/wp-json/" in k)


def settle(woo_url: str, broker: redis.Redis, timeout: float = 1800, quiet: float = 3) -> float:
    """Wait until the sync queues are empty, nothing is reserved, and the shop saw no write for `quiet`
    seconds; returns the seconds it took until it went quiet."""
    started, quiet_since, last = time.monotonic(), None, -1
    while time.monotonic() - started < timeout:
        pending = sum(broker.llen(q) for q in SYNC_QUEUES) + broker.hlen("unacked")
        now = write_calls(woo_stats(woo_url))
        if pending == 0 and now == last:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= quiet:
                return quiet_since - started
        else:
            quiet_since = None
        last = now
        time.sleep(0.5)
    raise TimeoutError("the fleet did not settle")
