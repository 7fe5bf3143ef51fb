"""Putting work on the queues by task name: what the shim, the relay, the polls' fan-out and the
operator CLI call. Not a task module: it imports no task, only the app, so every caller publishes the
same message (name, args, correlation header) whichever module it lives in.

Order imports and customer refreshes (the shim's hot path) go through `_send`: celery and kombu build
the message exactly as `app.send_task` always does, on a producer of this thread's own, and only kombu's
last step, the LPUSH of the serialised message onto the queue's Redis list, is replaced: for an order
import it becomes one Lua script with the coalescing claim (workers.coalesce), and the exchange's
binding table (a SMEMBERS per publish in kombu) is read once per thread and kept, as the queues and their
bindings are fixed (workers.queues). So a delivery costs one Redis round trip instead of three.
"""
from __future__ import annotations

import threading

from kombu.utils.json import dumps

from connector.broker import redis_client
from connector.webhooks import route
from workers import coalesce
from workers.app import app

IMPORT_ORDER = "wooerp.orders.import_order"
UPDATE_CUSTOMER = "wooerp.orders.update_customer"
APPLY_PRODUCTS = "wooerp.catalog.apply_products"
PUSH_STOCK = "wooerp.inventory.push_stock"


class _Local(threading.local):
    producer = None  # this thread's kombu producer, its channel's last step replaced (see _producer)
    claim: tuple | None = None  # (order id, stale_after) of the import being published, or None
    pushed = False


_local = _Local()


def _producer():
    """This thread's producer: a kombu channel of its own (kombu channels are not thread-safe) whose
    `_put` pushes through workers.coalesce and whose binding lookups are cached."""
    if _local.producer is not None:
        return _local.producer
    broker_url = app.wooerp_settings.broker_url
    connection = app.connection_for_write()
    channel = connection.default_channel  # connects (kombu pings the broker)
    original_put, original_table, tables = channel._put, channel.get_table, {}

    def get_table(exchange):
        table = tables.get(exchange)
        if not table:  # an exchange without bindings yet is asked again next time
            table = tables[exchange] = original_table(exchange)
        return table

    def put(queue, message, **kwargs):
        if kwargs.get("_publish_batch") is not None or (channel._expires and queue in channel._expires):
            _local.pushed = True
            return original_put(queue, message, **kwargs)  # batches and expiring queues: kombu's own way
        key = channel._q_for_pri(queue, channel._get_message_priority(message, reverse=False))
        payload = dumps(message)  # what kombu's _put pushes, byte for byte
        if _local.claim is None:
            redis_client(broker_url).lpush(key, payload)
            _local.pushed = True
        else:
            order_id, stale_after = _local.claim
            _local.pushed = coalesce.claim(broker_url, order_id, stale_after, queue=key, message=payload)

    channel.get_table, channel._put = get_table, put
    _local.producer = app.amqp.Producer(channel, auto_declare=False)
    return _local.producer


def _send(name: str, args: list, correlation_id: str | None, claim: tuple | None = None) -> str:
    """`app.send_task(name, args, headers={"wooerp_cid": …}, retry=False)` on this thread's producer; with
    `claim` (order id, stale_after), only if workers.coalesce claims the order. The task id, or
    "coalesced". Raises when the broker does not take the message; the thread's producer is then
    dropped and made afresh next time."""
    producer = _producer()
    _local.claim, _local.pushed = claim, False
    try:
        task_id = app.send_task(name, args=args, headers={"wooerp_cid": correlation_id}, retry=False,
                                producer=producer).id
    except BaseException:
        _local.producer = None
        try:
            producer.connection.release()
        except Exception:  # already broken
            pass
        raise
    finally:
        _local.claim = None
    return task_id if _local.pushed else "coalesced"


def publish_import(order_id: int, correlation_id: str | None, collapse: bool = True,
                   stale_after: float | None = None) -> str:
    """Queue an import of `order_id`, unless one is already waiting in the queue ("coalesced").
    Raises if the broker cannot take it; callers keep the delivery in the outbox for the relay."""
    return _send(IMPORT_ORDER, [int(order_id)], correlation_id,
                 claim=(int(order_id), stale_after) if collapse else None)


def publish_customer(woo_customer_id: int, correlation_id: str | None) -> str:
    """Queue a refresh of the ERP customer linked to shop customer `woo_customer_id`; returns the task id."""
    return _send(UPDATE_CUSTOMER, [int(woo_customer_id)], correlation_id)


def publish_delivery(topic: str | None, resource_id: int, correlation_id: str | None, collapse: bool = True) -> str:
    """Queue the task a webhook delivery of `topic` asks for, as connector.webhooks.route decides it
    (`customer.*` refreshes the customer, `order.*` imports the order). Returns the task id, or
    "coalesced". The one way onto the queues for the shim and the outbox relay alike."""
    if route(topic) == "update_customer":
        return publish_customer(resource_id, correlation_id)
    return publish_import(resource_id, correlation_id, collapse=collapse)


def apply_products(skus: list[str], ids: dict[str, str]) -> None:
    """Fan-out of the product poll: one chunk of SKUs (parents with their variants) to write."""
    app.send_task(APPLY_PRODUCTS, args=[skus, ids])


def push_stock(skus: list[str]) -> None:
    """Fan-out of the stock poll: ≤ one Woo batch of SKUs whose stock to write."""
    app.send_task(PUSH_STOCK, args=[skus])
