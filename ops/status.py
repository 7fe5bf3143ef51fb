"""The status report of `wooerp status` and the shim's /status: connector.status plus queue lengths."""
from __future__ import annotations

from connector import shop_access, status
from connector.services import Services
from workers.queues import queue_lengths


def report(services: Services) -> dict:
    s = services.settings
    try:
        queues = queue_lengths(s.broker_url)
    except Exception as exc:  # the report must still show the rest when the broker is down
        queues = {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    report = status.collect(services.db, services.woo, delivery_url=s.shim_url + "/webhooks/woocommerce",
                            queue_lengths=queues)
    try:  # after collect: its webhook listing may itself be refused, and is then counted here
        report["shop_access"] = shop_access.summary(s.broker_url)
    except Exception as exc:  # the broker is down: the rest of the report still matters
        report["shop_access"] = {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    return report
