"""Bootstrap registers every topic the shim accepts, so that the shop tells us about trash and restore
(issue 19's order life depends on order.deleted and order.restored), and registering again adds nothing."""
from __future__ import annotations

from connector.settings import SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, load
from connector.woo.client import WooClient
from ops.bootstrap import register_webhooks
from sandbox.woo.admin import WooSandboxAdmin


def test_bootstrap_registers_every_accepted_topic_once(db, sandboxes):
    woo_url, _ = sandboxes
    WooSandboxAdmin(woo_url).reset()
    settings = load({"DATABASE_URL": db.url, "WOO_URL": woo_url, "SHIM_URL": "http://127.0.0.1:8765"})
    assert {"order.deleted", "order.restored", "customer.updated"} <= set(settings.webhook_topics)
    woo = WooClient(woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)

    first = register_webhooks(settings, woo)
    again = register_webhooks(settings, woo)

    ours = [h for h in woo.list_webhooks() if h["delivery_url"] == "http://127.0.0.1:8765/webhooks/woocommerce"]
    assert sorted(h["topic"] for h in ours) == sorted(settings.webhook_topics)
    assert all(h["status"] == "active" for h in ours)
    assert sorted(first["created"]) == sorted(settings.webhook_topics)
    assert again["created"] == [] and sorted(again["active"]) == sorted(settings.webhook_topics)
