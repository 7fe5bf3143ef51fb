"""Contract tests of the sandbox's `real` behaviours: what a real WooCommerce 8.2 did differently from the
documentation (reference §11), each switched on by itself through `/_sandbox/profile`."""
from __future__ import annotations

import json
import time

import requests

from sandbox.woo.profile import refusal
from tests.contract.test_woo_sandbox import call, err, ok, product, webhook


def order_ids(records) -> list[tuple[int, str]]:
    return [(json.loads(d["body"])["id"], json.loads(d["body"])["status"]) for d in records]


def test_changes_while_a_delivery_is_pending_arrive_as_one_delivery_with_the_latest_data(woo, receiver):
    webhook(woo, receiver, "/real/coalesce", "order.updated")
    woo.admin.profile(delivery_delay_ms=600, coalesce=True)
    o = ok(call(woo, "POST", "orders", json={}), 201)
    for note in ("first", "second", "third"):
        ok(call(woo, "PUT", f"orders/{o['id']}", json={"customer_note": note}))
    (d,) = receiver.wait("/real/coalesce", 1)
    assert json.loads(d["body"])["customer_note"] == "third"
    time.sleep(0.9)  # nothing else was queued: the three changes (and the create) were one delivery
    assert len(receiver.got("/real/coalesce")) == 1
    ok(call(woo, "PUT", f"orders/{o['id']}", json={"customer_note": "later"}))  # a new change: a new delivery
    assert len(receiver.wait("/real/coalesce", 2)) == 2


def test_a_meta_only_order_update_fires_no_webhook(woo, receiver):
    webhook(woo, receiver, "/real/meta", "order.updated")
    woo.admin.profile(delivery_delay_ms=0, silent_meta_updates=True)
    o = ok(call(woo, "POST", "orders", json={}), 201)
    receiver.wait("/real/meta", 1)
    ok(call(woo, "PUT", f"orders/{o['id']}", json={"meta_data": [{"key": "_erp_order_ref", "value": "SO-1"}]}))
    ok(call(woo, "PUT", f"orders/{o['id']}", json={"customer_note": "x"}))
    got = receiver.wait("/real/meta", 2)
    time.sleep(0.3)
    assert len(receiver.got("/real/meta")) == 2  # the create and the note, not the meta write
    assert json.loads(got[1]["body"])["meta_data"][0]["value"] == "SO-1"


def test_checkout_fires_created_for_the_draft_then_updated_for_the_paid_order(woo, receiver):
    product(woo, "DRAFT-1", regular_price="10.00", manage_stock=True, stock_quantity=5)
    webhook(woo, receiver, "/real/created", "order.created")
    webhook(woo, receiver, "/real/updated", "order.updated")
    woo.admin.profile(delivery_delay_ms=0, checkout_draft=True, tax=False)
    draft = woo.admin.checkout([{"sku": "DRAFT-1", "quantity": 2}], pay=False)
    assert draft["status"] == "checkout-draft" and draft["total_tax"] == "0.00" and not draft["tax_lines"]
    (created,) = receiver.wait("/real/created", 1)
    assert order_ids([created]) == [(draft["id"], "checkout-draft")]
    time.sleep(0.2)
    assert receiver.got("/real/updated") == []  # the draft is saved once
    assert ok(call(woo, "GET", f"products/{draft['line_items'][0]['product_id']}"))["stock_quantity"] == 5
    paid = woo.admin.pay(draft["id"])
    assert paid["status"] == "processing" and paid["date_paid_gmt"]
    assert order_ids(receiver.wait("/real/updated", 1)) == [(draft["id"], "processing")]
    assert len(receiver.got("/real/created")) == 1
    # paid in the same checkout: still one created and one updated delivery
    o = woo.admin.checkout([{"sku": "DRAFT-1", "quantity": 1}])
    assert o["status"] == "processing"
    assert len(receiver.wait("/real/created", 2)) == 2 and len(receiver.wait("/real/updated", 2)) == 2


def test_a_refused_delivery_address_gives_an_active_webhook_that_never_delivers(woo, receiver):
    woo.admin.profile(delivery_delay_ms=0, address_rules=True, allow_loopback=False)
    since = time.time()
    hook = webhook(woo, receiver, "/real/refused", "order.created")
    assert hook["status"] == "active"  # created, the failed ping is not reported
    ok(call(woo, "POST", "orders", json={}), 201)
    deadline = time.monotonic() + 5
    while not [e for e in woo.admin.deliveries(hook["id"], since) if not e["ping"]] and time.monotonic() < deadline:
        time.sleep(0.05)
    (entry,) = [e for e in woo.admin.deliveries(hook["id"], since) if not e["ping"]]
    assert entry["status"] is None and ("private or loopback" in entry["error"] or "port" in entry["error"])
    assert receiver.got("/real/refused", ping=None) == []
    assert ok(call(woo, "GET", f"webhooks/{hook['id']}"))["status"] == "active"
    woo.admin.profile(allow_loopback=True, allowed_ports=None)  # a site filter allowing local addresses
    ok(call(woo, "POST", "orders", json={}), 201)
    assert len(receiver.wait("/real/refused", 1)) == 1


def test_the_address_rules_follow_wordpress_safe_http():
    assert refusal("https://shop-hooks.example.net/x", allowed_ports=[80, 443, 8080], allow_loopback=True) is None
    assert "port 8000" in refusal("http://203.0.113.7:8000/hook")
    assert refusal("http://203.0.113.7:8080/hook") is None and refusal("https://203.0.113.7/hook") is None
    for url in ("http://127.0.0.1/h", "http://10.1.2.3/h", "http://192.168.0.5/h", "http://172.20.0.2/h",
                "http://localhost/h", "http://[::1]/h", "http://0.0.0.0/h"):
        assert "private or loopback" in refusal(url), url
    assert refusal("http://127.0.0.1:8000/h", allowed_ports=None, allow_loopback=True) is None


def test_a_delivery_queued_for_a_deleted_webhook_leaves_an_empty_disabled_webhook(woo, receiver):
    woo.admin.profile(delivery_delay_ms=300, ghost_webhooks=True)
    hook = webhook(woo, receiver, "/real/ghost", "order.created")
    ok(call(woo, "POST", "orders", json={}), 201)
    ok(call(woo, "DELETE", f"webhooks/{hook['id']}", params={"force": "true"}))
    err(call(woo, "GET", f"webhooks/{hook['id']}"), 400, "woocommerce_rest_shop_webhook_invalid_id")
    deadline = time.monotonic() + 5
    while not ok(call(woo, "GET", "webhooks")) and time.monotonic() < deadline:
        time.sleep(0.05)
    (ghost,) = ok(call(woo, "GET", "webhooks"))
    assert ghost["id"] != hook["id"] and (ghost["status"], ghost["delivery_url"], ghost["name"]) == ("disabled", "", "")
    assert receiver.got("/real/ghost") == []


def test_per_request_latency_and_a_per_item_batch_cost(woo):
    woo.admin.profile(latency_ms=50, batch_item_ms=5)
    started = time.monotonic()
    ok(call(woo, "GET", "products"))
    single = time.monotonic() - started
    started = time.monotonic()
    ok(call(woo, "POST", "products/batch", json={"create": [{"name": f"B{n}"} for n in range(40)]}))
    batch = time.monotonic() - started
    assert single >= 0.05 and batch >= 0.05 + 40 * 0.005
    # what the profile charged, exactly: 50 ms for the read, 50 + 40 × 5 for the batch
    charged = woo.admin.stats()["charged_ms"]
    assert charged == 50 + (50 + 40 * 5)
    assert woo.admin.stats()["charged_ms"] == charged  # control: the sandbox's own routes cost nothing


def test_the_documented_answers_come_back_when_the_82_answers_are_off(woo):
    woo.admin.profile(wc82_answers=False)
    r = requests.get(woo.api + "products", auth=(woo.key, woo.secret + "x"), timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith('Basic realm="WooCommerce API')
    err(call(woo, "GET", "orders/99999999/notes"), 404, "woocommerce_rest_order_invalid_id")
    o = ok(call(woo, "POST", "orders", json={}), 201)
    assert ok(call(woo, "POST", f"orders/{o['id']}/notes", json={"note": "n"}), 201)["author"] == "system"
    err(call(woo, "GET", "webhooks/99999"), 404, "woocommerce_rest_shop_webhook_invalid_id")


def test_presets_and_bad_switches(woo):
    real = woo.admin.profile("real")
    assert (real["tax"], real["coalesce"], real["address_rules"], real["delivery_delay_ms"]) == (False, True, True, 3000)
    assert woo.admin.profile("bench")["batch_item_ms"] * 100 + 40 >= 4000  # a 100-product batch: 4–6 s
    r = requests.put(woo.url + "/_sandbox/profile", json={"nope": 1}, timeout=5)
    assert r.status_code == 400 and r.json()["code"] == "sandbox_invalid_profile"
    assert woo.admin.set_faults()["delivery"]["delay_ms"] == 3000  # faults start from the profile's scheduler
