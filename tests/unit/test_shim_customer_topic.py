"""The shim takes `customer.updated` by default and hands it to the customer task, not to the order import."""
import json

from connector.settings import load
from connector.webhooks import signature
from shim.app import create_app

SECRET = "unit-secret-456"


def test_customer_updated_goes_to_the_customer_publisher(db):
    orders, customers = [], []
    settings = load({"DATABASE_URL": db.url, "WOO_WEBHOOK_SECRET": SECRET})
    client = create_app(settings, publish=lambda rid, cid: orders.append(rid) or "o",
                        publish_customer=lambda rid, cid: customers.append(rid) or "c").test_client()
    for topic, rid in (("customer.updated", 5), ("order.created", 6)):
        body = json.dumps({"id": rid, "date_modified_gmt": "2026-01-01T00:00:00"}).encode()
        r = client.post("/webhooks/woocommerce", data=body, headers={
            "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Signature": signature(body, SECRET),
            "Content-Type": "application/json"})
        assert r.status_code == 200 and r.get_json()["queued"] is True
    assert (orders, customers) == ([6], [5])
