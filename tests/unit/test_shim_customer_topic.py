"""The shim takes `customer.updated` by default and hands it on with its topic; connector.webhooks.route
(the one place that decides, for the shim and the relay alike) sends it to the customer task."""
import json

import pytest

from connector import webhooks
from connector.settings import load
from connector.webhooks import signature
from shim.app import create_app

SECRET = "unit-secret-456"


def test_customer_updated_reaches_the_publisher_with_its_topic(db):
    handed = []
    settings = load({"DATABASE_URL": db.url, "WOO_WEBHOOK_SECRET": SECRET})
    client = create_app(settings, publish=lambda topic, rid, cid: handed.append((topic, rid)) or "t").test_client()
    for topic, rid in (("customer.updated", 5), ("order.created", 5)):
        body = json.dumps({"id": rid, "date_modified_gmt": "2026-01-01T00:00:00"}).encode()
        r = client.post("/webhooks/woocommerce", data=body, headers={
            "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Signature": signature(body, SECRET),
            "Content-Type": "application/json"})
        assert r.status_code == 200 and r.get_json()["queued"] is True
    assert [webhooks.route(t) for t, _ in handed] == ["update_customer", "import_order"]


@pytest.mark.parametrize("topic", ["customer.updated", "customer.created", "customer.deleted"])
def test_every_customer_topic_routes_to_the_customer_task(topic):
    assert webhooks.route(topic) == "update_customer"


@pytest.mark.parametrize("topic", ["order.created", "order.updated", "order.deleted", "order.restored"])
def test_every_order_topic_routes_to_the_order_import(topic):
    assert webhooks.route(topic) == "import_order"


@pytest.mark.parametrize("topic", ["customer", "customers.updated", "product.updated", "", None, "order."])
def test_a_topic_no_task_handles_is_refused_never_taken_for_an_order(topic):
    with pytest.raises(ValueError):
        webhooks.route(topic)


def test_a_webhook_topic_no_task_handles_is_a_configuration_error():
    from connector.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        load({"WEBHOOK_TOPICS": "order.created,product.updated"})
    assert e.value.variable == "WEBHOOK_TOPICS" and "product.updated" in str(e.value)
    assert load({"WEBHOOK_TOPICS": "order.created,customer.updated"}).webhook_topics == ("order.created",
                                                                                       "customer.updated")
