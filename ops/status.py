"""The status report of `wooerp status` and the shim's /status: connector.status plus queue lengths."""
from __future__ import annotations

from connector import status
from connector.services import Services
from workers.queues import queue_lengths


def report(services: Services) -> dict:
    s = services.settings
    try:
        queues = queue_lengths(s.broker_url)
    except Exception as exc:  # the report must still show the rest when the broker is down
        queues = {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    return status.collect(services.db, services.woo, delivery_url=s.shim_url + "/webhooks/woocommerce",
                          queue_lengths=queues)
