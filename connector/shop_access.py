"""The shop's refusals of the API key's permission (connector.errors.AccessDenied), kept where the whole
fleet and the operator see them: counted per needed permission (read/write) for Prometheus
(`wooerp_woocommerce_access_denied_total{need}`, served by the keeper) and the last one kept for
`wooerp status` / the shim's /status for a day after it happened.

Kept in the broker's Redis, like the task metrics: every process that talks to the shop (workers, the
shim, the bootstrap, operator commands) adds to the same totals. Recording never fails the caller.
"""
from __future__ import annotations

import json
import logging
import time

from connector.broker import redis_client
from connector.errors import AccessDenied
from connector.logs import event

log = logging.getLogger("wooerp.shop_access")
COUNTS, LAST = "wooerp:metrics:woo_access_denied", "wooerp:shop_access:last"
LAST_SHOWN_SECONDS = 86400  # status shows the last refusal for a day; the counter stays for Prometheus


def record(broker_url: str, exc: AccessDenied, request: str) -> None:
    """Count one refusal (of `request`, e.g. "PUT orders/5") and keep it as the last; log it once."""
    event(log, "the shop refused the API key's permission", logging.ERROR, need=exc.need, code=exc.code,
          status=exc.status, request=request, reason=exc.reason)
    try:
        client = redis_client(broker_url)
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(COUNTS, exc.need, 1)
        pipe.set(LAST, json.dumps({"reason": exc.reason, "need": exc.need, "code": exc.code, "status": exc.status,
                                   "request": request, "at": time.time()}), ex=LAST_SHOWN_SECONDS)
        pipe.execute()
    except Exception as e:  # noqa: BLE001 — a metric must never hide the refusal itself
        event(log, "shop access refusal not counted", logging.WARNING, error=type(e).__name__)


def counts(broker_url: str) -> dict[str, int]:
    """Refusals counted so far by the permission they lacked: {"read": n, "write": n} (absent: none)."""
    raw = redis_client(broker_url).hgetall(COUNTS)
    return {k.decode(): int(v) for k, v in raw.items()}


def summary(broker_url: str) -> dict:
    """{"refused": {need: n}, "last": {...} or None} for the status report."""
    client = redis_client(broker_url)
    last = client.get(LAST)
    return {"refused": counts(broker_url), "last": json.loads(last) if last else None}


class AccessDeniedCollector:
    """wooerp_woocommerce_access_denied_total{need}: requests the shop refused for lack of permission."""

    def __init__(self, broker_url: str):
        self.broker_url = broker_url

    def describe(self):
        """Nothing up front (prometheus_client then calls `collect` on each scrape, not at registration)."""
        return []  # no I/O when registered

    def collect(self):
        """One counter family with a `read` and a `write` sample, read from Redis at scrape time."""
        from prometheus_client.core import CounterMetricFamily
        family = CounterMetricFamily("wooerp_woocommerce_access_denied",
                                     "Requests WooCommerce refused for lack of the API key's permission",
                                     labels=["need"])
        found = counts(self.broker_url)
        for need in ("read", "write"):
            family.add_metric([need], found.get(need, 0))
        return [family]
