"""wooerp against a shop that behaves like the real WooCommerce 8.2 of reference §11: a webhook created on an
address the shop refuses, deliveries that come late and coalesced, orders that arrive by the poll long
before their webhook, storefront drafts that are paid later. One fleet, one worker, the poll running."""
from __future__ import annotations

import time

import pytest

from connector.sync.webhook_setup import ensure_webhooks
from sandbox.woo.admin import WooSandboxAdmin
from tests.e2e.conftest import erp_orders, woo_client
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import DEFAULT_SECRET
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e
TOPICS = ("order.created", "order.updated")
ORDER_POLL = "wooerp.orders.poll_orders"


def sent(admin, order_id: int, since: float) -> list[dict]:
    return [d for d in admin.deliveries(since=since) if d["resource_id"] == order_id and not d["ping"]]


def test_a_real_shop_late_coalesced_refused_and_draft_orders_are_each_imported_once(fleet):
    admin, woo = WooSandboxAdmin(fleet.woo_url), woo_client(fleet)
    stock_shop(fleet, "SKU-A")
    # the shim listens on 127.0.0.1 and a random port: a real shop refuses to deliver there
    admin.profile("real", delivery_delay_ms=0, latency_ms=0)
    start = time.time()
    ensure_webhooks(woo, fleet.shim_url + "/webhooks/woocommerce", DEFAULT_SECRET, TOPICS)
    assert {w["status"] for w in woo.list_webhooks()} == {"active"}  # created active, the failed ping unreported
    fleet.start_worker()
    fleet.start_beat()
    refused = checkout(fleet)
    imported_once(fleet, refused["id"], timeout=60)  # by the poll
    log = wait_until(lambda: sent(admin, refused["id"], start), 10, 0.2, "the refused deliveries in the shop's log")
    assert all(d["status"] is None and "A valid URL was not provided" in d["error"] for d in log)

    # a site filter allows local addresses; deliveries now come fifteen seconds late
    admin.profile(allow_loopback=True, allowed_ports=None, delivery_delay_ms=15_000)
    start = time.time()
    early = checkout(fleet, email="early@example.com")
    imported_once(fleet, early["id"], timeout=30)  # by the poll, long before the webhook
    assert sent(admin, early["id"], start) == []
    for note in ("gift wrap", "leave at the door", "ring twice"):  # changes while its delivery is pending
        woo.update_order(early["id"], {"customer_note": note})
    # a storefront checkout left as a draft: order.created goes out for it, nothing is imported
    draft = checkout(fleet, email="draft@example.com", pay=False)
    polls = fleet.task_runs(ORDER_POLL)
    assert draft["status"] == "checkout-draft"
    deliveries = wait_until(lambda: len(sent(admin, early["id"], start)) >= 2 and sent(admin, early["id"], start),
                            30, 0.3, "the late deliveries of the early order")
    # one order.created and one order.updated for the create, three changes and the write-back
    assert sorted(d["topic"] for d in deliveries) == list(TOPICS) and all(d["success"] for d in deliveries)
    wait_until(lambda: sent(admin, draft["id"], start), 30, 0.3, "the draft's order.created delivery")
    # the delivered draft had every chance to be imported: two order polls finished since its checkout (so one
    # began after it), and the task its delivery queued has run with nothing else left in flight
    wait_until(lambda: fleet.task_runs(ORDER_POLL) >= polls + 2, 30, 0.3, "an order poll begun after the draft")
    fleet.wait_until_idle()
    assert erp_orders(fleet, f"WC-ORDER-{draft['id']}") == []
    admin.profile(delivery_delay_ms=0)
    admin.pay(draft["id"])
    imported_once(fleet, draft["id"], timeout=30)
    assert len(erp_orders(fleet, f"WC-ORDER-{early['id']}")) == 1
    assert len(sent(admin, early["id"], start)) == 2  # nothing more came for it: the changes were coalesced
    assert len(erp_orders(fleet, f"WC-ORDER-{refused['id']}")) == 1
