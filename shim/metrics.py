"""Webhook delivery counters of one shim instance, summed over its gunicorn worker processes.

Each gunicorn worker counts in its own files under PROMETHEUS_MULTIPROC_DIR (prometheus_client's
multiprocess mode), so `GET /metrics`, whichever worker answers it, merges the files of all of them. The
directory must exist and be set before prometheus_client is imported: shim.gunicorn_conf makes a fresh
one in the gunicorn master before it forks. Without it (Flask's dev server, unit tests) the counts are
this process's own. Labels stay bounded: a topic we do not handle is counted as `other`.
"""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

DELIVERIES = Counter("wooerp_webhook_deliveries", "Webhook deliveries the shim answered, by topic and result",
                     ["topic", "result"])
# verdict status → result, for deliveries that were not accepted (see connector.webhooks.judge)
REFUSED = {413: "too_large", 401: "bad_signature", 400: "bad_request", 202: "ignored_topic", 200: "ping"}


def count(topic: str | None, result: str, topics: tuple[str, ...]) -> None:
    DELIVERIES.labels(topic if topic in topics else "other", result).inc()


def refused(status: int) -> str:
    return REFUSED.get(status, f"http_{status}")


def exposition() -> tuple[bytes, str]:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return generate_latest(registry), CONTENT_TYPE_LATEST
