"""Tasks of the `orders` queue: import one order, bring one ERP customer up to date (`customer.*`
deliveries), relay the webhook outbox, poll for missed orders."""
from __future__ import annotations

from connector import holds, webhooks
from connector.logs import get_correlation_id
from connector.sync.order_poll import poll_orders as poll_orders_use_case
from connector.sync.webhook_setup import check_webhooks
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
    db = self.services.db
    published = 0
    for d in webhooks.unpublished(db):
        webhooks.mark_published(db, d.id, publish_delivery(d.topic, d.resource_id, d.correlation_id, collapse=False))
        published += 1
    return {"published": published}


@app.task(name="wooerp.orders.poll_orders", bind=True)
def poll_orders(self) -> dict:
    s = self.services
    queued = poll_orders_use_case(s.db, s.woo, statuses=s.settings.import_statuses + ("cancelled",),
                                  overlap_seconds=s.settings.poll_overlap_seconds,
                                  enqueue=lambda oid: publish_import(
                                      oid, get_correlation_id(), stale_after=2 * s.settings.order_poll_seconds))
    hooks = check_webhooks(s.woo, s.settings.shim_url + "/webhooks/woocommerce", s.settings.woo_webhook_secret)
    handed_over = holds.recheck(s.db, s.erp)  # imported orders the ERP had not counted as reserved yet
    return {"queued": queued, "webhooks": hooks, "holds_handed_over": handed_over}
