"""Tasks of the `orders` queue: import one order, bring one ERP customer up to date (`customer.*`
deliveries), relay the webhook outbox, poll for missed orders."""
from __future__ import annotations

from functools import partial

from connector import webhooks
from connector.logs import get_correlation_id
from connector.sync import order_poll
from workers import coalesce
from workers.app import app
from workers.publish import publish_delivery, publish_import


@app.task(name="wooerp.orders.import_order", bind=True, resource_format="order {0}")
def import_order(self, order_id: int) -> dict:
    coalesce.mark_started(app.wooerp_settings.broker_url, order_id)
    return self.services.orders.run(int(order_id)).as_dict()


@app.task(name="wooerp.orders.update_customer", bind=True)
def update_customer(self, woo_customer_id: int) -> dict:
    customer = self.services.customers.from_woo_customer(int(woo_customer_id))
    return {"woo_customer_id": int(woo_customer_id), "erp_customer_id": customer and customer["id"]}


@app.task(name="wooerp.orders.relay_deliveries", bind=True)
def relay_deliveries(self) -> dict:
    """Publish webhook deliveries the shim stored but could not hand to the broker."""
    return {"published": webhooks.relay(self.services.db, partial(publish_delivery, collapse=False))}


@app.task(name="wooerp.orders.poll_orders", bind=True)
def poll_orders(self) -> dict:
    stale_after = 2 * self.services.settings.order_poll_seconds  # a queued import older than this is lost
    return order_poll.run(self.services, enqueue=lambda order_id: publish_import(
        order_id, get_correlation_id(), stale_after=stale_after))
