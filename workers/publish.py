"""Putting work on the queues by task name: what the shim, the relay, the polls' fan-out and the
operator CLI call. Not a task module: it imports no task, only the app, so every caller publishes the
same message (name, args, correlation header) whichever module it lives in.

Order imports and customer refreshes (the shim's hot path) go through `_send`: celery and kombu build
the message exactly as `app.send_task` always does, on a producer of this thread's own, and only kombu's
last step, the LPUSH of the serialised message onto the queue's Redis list, is replaced: for an order
import it becomes one Lua script with the coalescing claim (workers.coalesce), and the exchange's
binding table (a SMEMBERS per publish in kombu) is read once per thread and kept, as the queues and their
bindings are fixed (workers.queues). So a delivery costs one Redis round trip instead of three.

Outside a task (the shim, the CLI), building the message through celery and kombu costs more CPU than
everything else a delivery does but the database write. So the first message of each task name a
process sends is built that way and kept as its template; later ones copy it and set only what
differs between two such publishes (task id, argument, correlation id, the thread's reply-to, kombu's
delivery tag), with kombu's own serialiser and body encoding. tests/integration/test_publish_path.py
holds both to kombu's message. Inside a task (parent and root ids, stamps) celery builds every message.
"""
from __future__ import annotations

import base64
import threading

from celery import signals
from kombu.utils.json import dumps, loads
from kombu.utils.uuid import uuid

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
    template_for: str | None = None  # the task name whose message `put` keeps as its template


_local = _Local()
_templates: dict[str, tuple] = {}  # task name → (queue key, message, (kwargs, embed) of its body): see above


def _producer():
    """This thread's producer: a kombu channel of its own (kombu channels are not thread-safe) whose
    `_put` pushes through workers.coalesce and whose binding lookups are cached."""
    if _local.producer is not None:
        return _local.producer
    broker_url = app.wooerp_settings.broker_url
    connection = app.connection_for_write()
    try:
        # no retrying here: a broker that is down fails this publish at once, and the relay publishes the
        # stored delivery when it is back (kombu would go on trying for broker_connection_timeout)
        connection.ensure_connection(max_retries=0)
        channel = connection.default_channel  # kombu pings the broker
    except BaseException:
        connection.release()
        raise
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
        if _local.template_for is not None and message["properties"].get("body_encoding") == "base64":
            _, task_kwargs, embed = loads(base64.b64decode(message["body"]))
            _templates.setdefault(_local.template_for, (key, loads(payload), (task_kwargs, embed)))
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
    template = _templates.get(name)
    outside_task = app.current_worker_task is None
    if template is not None and outside_task and not _publish_signals():
        return _send_from(template, args, correlation_id, claim)
    producer = _producer()
    _local.claim, _local.pushed = claim, False
    _local.template_for = name if outside_task and template is None else None
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
        _local.claim, _local.template_for = None, None
    return task_id if _local.pushed else "coalesced"


def _publish_signals() -> bool:
    """True when something listens to celery's publish signals (they fire only on celery's own path)."""
    return bool(signals.before_task_publish.receivers or signals.after_task_publish.receivers)


def _send_from(template: tuple, args: list, correlation_id: str | None, claim: tuple | None) -> str:
    """Push the message celery would build for `args` (ints) from `template`; the task id or "coalesced"."""
    key, message, (kwargs, embed) = template
    task_id = uuid()
    headers = dict(message["headers"], id=task_id, root_id=task_id, argsrepr=repr(args),
                   wooerp_cid=correlation_id)
    properties = dict(message["properties"], correlation_id=task_id, reply_to=app.thread_oid, delivery_tag=uuid())
    body = base64.b64encode(dumps([args, kwargs, embed]).encode("utf-8")).decode("ascii")
    payload = dumps(dict(message, body=body, headers=headers, properties=properties))
    broker_url = app.wooerp_settings.broker_url
    if claim is None:
        redis_client(broker_url).lpush(key, payload)
        return task_id
    order_id, stale_after = claim
    return task_id if coalesce.claim(broker_url, order_id, stale_after, queue=key, message=payload) else "coalesced"


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
