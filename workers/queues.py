"""Queues and routing. Each queue has its own exchange and routing key: a bare Queue('x') next to a
non-default default queue is bound to the default exchange, and a kombu-level publish then copies a
message into every such queue.
"""
from kombu import Exchange, Queue

ORDERS, CATALOG, INVENTORY, DEAD_LETTER = "orders", "catalog", "inventory", "dead_letter"
WORK_QUEUES = (ORDERS, CATALOG, INVENTORY)
ALL_QUEUES = WORK_QUEUES + (DEAD_LETTER,)

QUEUES = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in ALL_QUEUES)


def route(queue: str) -> dict:
    return {"queue": queue, "exchange": queue, "routing_key": queue}


ROUTES = {
    "wooerp.orders.*": route(ORDERS),
    "wooerp.catalog.*": route(CATALOG),
    "wooerp.inventory.*": route(INVENTORY),
    "wooerp.dead_letter.*": route(DEAD_LETTER),
}
