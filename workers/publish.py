"""Putting work on the queues by task name: what the shim, the relay, the polls' fan-out and the
operator CLI call. Not a task module: it imports no task, only the app, so every caller publishes the
same message (name, args, correlation header) whichever module it lives in."""
from __future__ import annotations

from connector.webhooks import route
from workers import coalesce
from workers.app import app

IMPORT_ORDER = "wooerp.orders.import_order"
UPDATE_CUSTOMER = "wooerp.orders.update_customer"
APPLY_PRODUCTS = "wooerp.catalog.apply_products"
PUSH_STOCK = "wooerp.inventory.push_stock"


def publish_import(order_id: int, correlation_id: str | None, collapse: bool = True,
                   stale_after: float | None = None) -> str:
    """Queue an import of `order_id`, unless one is already waiting in the queue ("coalesced").
    Raises if the broker cannot take it; callers keep the delivery in the outbox for the relay."""
    if collapse and not coalesce.claim(app.wooerp_settings.broker_url, order_id, stale_after):
        return "coalesced"
    result = app.send_task(IMPORT_ORDER, args=[int(order_id)], headers={"wooerp_cid": correlation_id}, retry=False)
    return result.id


def publish_customer(woo_customer_id: int, correlation_id: str | None) -> str:
    """Queue a refresh of the ERP customer linked to shop customer `woo_customer_id`; returns the task id."""
    return app.send_task(UPDATE_CUSTOMER, args=[int(woo_customer_id)],
                         headers={"wooerp_cid": correlation_id}, retry=False).id


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
