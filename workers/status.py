"""Queue lengths from the broker, and the status report that combines them with connector.status."""
from __future__ import annotations

from connector import status
from connector.broker import redis_client
from connector.services import Services
from workers.queues import ALL_QUEUES


def queue_lengths(broker_url: str) -> dict[str, int]:
    client = redis_client(broker_url)
    return {q: int(client.llen(q)) for q in ALL_QUEUES} | {"unacked": int(client.hlen("unacked"))}


def report(services: Services) -> dict:
    s = services.settings
    try:
        queues = queue_lengths(s.broker_url)
    except Exception as exc:  # the report must still show the rest when the broker is down
        queues = {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    return status.collect(services.db, services.woo, delivery_url=s.shim_url + "/webhooks/woocommerce",
                          queue_lengths=queues)
