"""Queues and routing. Each queue has its own exchange and routing key: a bare Queue('x') next to a
non-default default queue is bound to the default exchange, and a kombu-level publish then copies a
message into every such queue.

Task names are a wire format: they sit in queued messages, in dead letters (replayed by name, maybe
weeks later) and in beat's schedule. So a task's queue is listed here by its full name, never derived
from the name: moving a task to another queue is a change to TASK_QUEUES, never a rename.
"""
from kombu import Exchange, Queue

from connector.broker import redis_client

ORDERS, CATALOG, INVENTORY, DEAD_LETTER = "orders", "catalog", "inventory", "dead_letter"
WORK_QUEUES = (ORDERS, CATALOG, INVENTORY)
ALL_QUEUES = WORK_QUEUES + (DEAD_LETTER,)

QUEUES = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in ALL_QUEUES)

# every task of wooerp → the queue it runs on (a task missing here would fall to the default queue;
# tests/unit/test_task_routes.py fails when one is missing)
TASK_QUEUES = {
    "wooerp.orders.import_order": ORDERS,
    "wooerp.orders.update_customer": ORDERS,
    "wooerp.orders.relay_deliveries": ORDERS,
    "wooerp.orders.poll_orders": ORDERS,
    "wooerp.orders.poll_shipments": ORDERS,
    "wooerp.catalog.poll_products": CATALOG,
    "wooerp.catalog.apply_products": CATALOG,
    "wooerp.catalog.full_resync": CATALOG,
    "wooerp.catalog.reconcile": CATALOG,
    "wooerp.inventory.poll_inventory": INVENTORY,
    "wooerp.inventory.push_stock": INVENTORY,
    "wooerp.dead_letter.keep": DEAD_LETTER,
    "wooerp.dead_letter.watch": DEAD_LETTER,
}


def route(queue: str) -> dict:
    """Celery routing options that put a message on `queue` (its own direct exchange and routing key)."""
    return {"queue": queue, "exchange": queue, "routing_key": queue}


ROUTES = {name: route(queue) for name, queue in TASK_QUEUES.items()}


def queue_lengths(broker_url: str) -> dict[str, int]:
    """Messages waiting in each queue, and `unacked`: those taken by a worker and not yet acknowledged.
    Raises redis.RedisError when the broker cannot be reached."""
    client = redis_client(broker_url)
    return {q: int(client.llen(q)) for q in ALL_QUEUES} | {"unacked": int(client.hlen("unacked"))}
