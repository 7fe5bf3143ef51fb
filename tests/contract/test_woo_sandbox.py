"""Contract tests of the WooCommerce sandbox (sandbox/woo) as a real subprocess over HTTP.

Driven by the real `woocommerce` 3.0.0 client (OAuth 1.0a over http) and raw `requests`; webhook
deliveries land on a local receiver and are verified independently of the sandbox code. The whole
API is checked by /work/shared/conformance/woo_conformance.py; this file pins the behaviours the
connector relies on and the faults it must survive.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import threading
import time
from decimal import Decimal
from email.utils import parsedate_to_datetime

import pytest
import requests
from woocommerce import API
from woocommerce.oauth import OAuth

from tests.contract.conftest import start_woo_sandbox

WEBHOOK_HEADERS = ("x-wc-webhook-source", "x-wc-webhook-topic", "x-wc-webhook-resource", "x-wc-webhook-event",
                   "x-wc-webhook-signature", "x-wc-webhook-id", "x-wc-webhook-delivery-id")


def client(woo) -> API:
    return API(url=woo.url, consumer_key=woo.key, consumer_secret=woo.secret, timeout=10)


def call(woo, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, woo.api + path, auth=(woo.key, woo.secret), timeout=10, **kw)


def ok(r: requests.Response, status: int = 200):
    assert r.status_code == status, f"{r.request.method} {r.url} -> {r.status_code} {r.text[:400]}"
    return r.json()


def err(r: requests.Response, status: int, code: str) -> dict:
    body = ok(r, status)
    assert body["code"] == code and body["data"]["status"] == status, body
    return body


def product(woo, sku: str, **fields) -> dict:
    return ok(client(woo).post("products", dict({"name": f"Product {sku}", "sku": sku, "regular_price": "10.00"},
                                                **fields)), 201)


def variable_with_variation(woo, sku: str = "TSHIRT") -> tuple[dict, dict]:
    wc = client(woo)
    parent = ok(wc.post("products", {"name": "T-Shirt", "type": "variable", "sku": sku, "attributes": [
        {"name": "Color", "options": ["Red", "Blue"], "variation": True, "visible": True},
        {"name": "Size", "options": ["M", "L"], "variation": True, "visible": True}]}), 201)
    variation = ok(wc.post(f"products/{parent['id']}/variations", {
        "sku": f"{sku}-RED-M", "regular_price": "20.00", "manage_stock": True, "stock_quantity": 10,
        "attributes": [{"name": "Color", "option": "Red"}, {"name": "Size", "option": "M"}]}), 201)
    return parent, variation


def webhook(woo, receiver, path: str, topic: str, secret: str = "s3cr3t-Key_123") -> dict:
    return ok(client(woo).post("webhooks", {"name": path, "topic": topic, "delivery_url": receiver.url(path),
                                            "secret": secret}), 201)


def signed(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def injected(woo) -> dict:
    return woo.admin.stats()["faults_injected"]


# ---------------------------------------------------------------- auth (§1)

def test_auth_failures_have_the_woocommerce_codes(woo):
    err(requests.get(woo.api + "products", timeout=10), 401, "woocommerce_rest_cannot_view")
    err(requests.get(woo.api + "products", auth=("ck_" + "0" * 40, woo.secret), timeout=10), 401,
        "woocommerce_rest_cannot_view")
    r = requests.get(woo.api + "products", auth=(woo.key, woo.secret + "x"), timeout=10)
    err(r, 401, "woocommerce_rest_authentication_error")
    assert "WWW-Authenticate" not in r.headers  # a real WooCommerce 8.2 sent none (§11)
    err(requests.post(woo.api + "products", json={}, timeout=10), 401, "woocommerce_rest_cannot_create")

    def oauth_url(secret=woo.secret, ts=None):
        return OAuth(url=woo.api + "products", consumer_key=woo.key, consumer_secret=secret, version="wc/v3",
                     method="GET", oauth_timestamp=ts or int(time.time())).get_oauth_url()
    url = oauth_url()
    ok(requests.get(url, timeout=10))
    assert "nonce" in err(requests.get(url, timeout=10), 401, "woocommerce_rest_authentication_error")["message"]
    err(requests.get(oauth_url(secret="wrong"), timeout=10), 401, "woocommerce_rest_authentication_error")
    stale = oauth_url(ts=int(time.time()) - 20 * 60)
    err(requests.get(stale, timeout=10), 401, "woocommerce_rest_authentication_error")
    ok(requests.get(oauth_url(ts=int(time.time()) - 10 * 60), timeout=10))
    err(requests.get(woo.api + "products", params={"oauth_consumer_key": woo.key}, timeout=10), 401,
        "woocommerce_rest_authentication_missing_parameter")
    read_only = woo.admin.create_key("read")
    creds = (read_only["consumer_key"], read_only["consumer_secret"])
    ok(requests.get(woo.api + "products", auth=creds, timeout=10))
    err(requests.post(woo.api + "products", json={"name": "x"}, auth=creds, timeout=10), 401,
        "woocommerce_rest_authentication_error")


def test_woocommerce_client_signs_oauth_and_duplicated_params_last_wins(woo):
    wc = client(woo)
    name = "Café ☕ Ünïcode"
    created = ok(wc.post("products", {"name": name, "sku": "UNI-1", "regular_price": "5.00"}), 201)
    assert created["name"] == name
    product(woo, "UNI-2")
    r = wc.get("products", params={"per_page": 1, "orderby": "id", "order": "asc"})
    assert r.url.count("per_page=1") == 2  # the client sends every param twice
    assert [p["sku"] for p in ok(r)] == ["UNI-1"]
    updated = ok(wc.put(f"products/{created['id']}",
                        {"regular_price": "7.50", "meta_data": [{"key": "_erp", "value": 1}]}))
    assert updated["price"] == "7.50" and updated["meta_data"][0]["key"] == "_erp"
    assert updated["date_created_gmt"] == created["date_created_gmt"]
    body = err(wc.post("products", {"name": "bad", "sku": "BAD", "regular_price": 5.5}), 400, "rest_invalid_param")
    assert "regular_price" in body["data"]["params"]
    assert ok(wc.get("products", params={"sku": "BAD"})) == []


# ---------------------------------------------------------------- collections (§3)

def test_paging_headers_links_and_limits(woo):
    skus = [f"PG-{i:02d}" for i in range(23)]
    answer = ok(client(woo).post("products/batch", {"create": [{"name": s, "sku": s, "regular_price": "1.00"}
                                                               for s in skus]}))
    ids = [p["id"] for p in answer["create"]]
    params = {"sku": ",".join(skus), "per_page": 10, "orderby": "id", "order": "asc"}
    r = call(woo, "GET", "products", params=dict(params, page=2))
    assert [p["id"] for p in ok(r)] == ids[10:20]
    assert (r.headers["X-WP-Total"], r.headers["X-WP-TotalPages"]) == ("23", "3")
    assert 'page=1>; rel="prev"' in r.headers["Link"] and 'page=3>; rel="next"' in r.headers["Link"]
    last = call(woo, "GET", "products", params=dict(params, page=3))
    assert len(ok(last)) == 3 and 'rel="next"' not in last.headers["Link"]
    past = call(woo, "GET", "products", params=dict(params, page=4))
    assert ok(past) == [] and past.headers["X-WP-Total"] == "23"
    assert [p["id"] for p in ok(call(woo, "GET", "products", params=dict(params, offset=5, per_page=5)))] == ids[5:10]
    assert len(ok(call(woo, "GET", "products", params={"sku": ",".join(skus)}))) == 10  # default per_page
    for bad in (0, 101):
        body = err(call(woo, "GET", "products", params={"per_page": bad}), 400, "rest_invalid_param")
        assert "per_page" in body["data"]["params"] and "per_page" in body["data"]["details"]


def test_seeded_catalog_pages_by_modified_without_scanning_it(woo):
    started = time.monotonic()
    assert woo.admin.seed(20000, seed=7)["created"] == 20000
    assert time.monotonic() - started < 10
    params = {"orderby": "modified", "order": "asc", "per_page": 100, "page": 150}
    started = time.monotonic()
    r = call(woo, "GET", "products", params=params)
    assert time.monotonic() - started < 1.0
    page = ok(r)
    assert r.headers["X-WP-Total"] == "20000" and len(page) == 100
    stamps = [(p["date_modified_gmt"], p["id"]) for p in page]
    assert stamps == sorted(stamps)
    watermark = page[-1]["date_modified_gmt"]
    after = call(woo, "GET", "products", params={"modified_after": watermark, "dates_are_gmt": "true", "per_page": 1,
                                                 "orderby": "modified", "order": "asc"})
    assert ok(after)[0]["date_modified_gmt"] > watermark
    assert int(after.headers["X-WP-Total"]) < 20000 - 150 * 100 + 100


# ---------------------------------------------------------------- products and variations (§4)

def test_duplicate_sku_is_rejected_with_the_owner(woo):
    first = product(woo, "DUP-1")
    body = err(client(woo).post("products", {"name": "again", "sku": "DUP-1"}), 400, "product_invalid_sku")
    assert body["data"]["resource_id"] == first["id"] and body["data"]["unique_sku"] == "DUP-1-1"
    parent, variation = variable_with_variation(woo, "DUPV")
    body = err(client(woo).post(f"products/{parent['id']}/variations", {"sku": variation["sku"]}), 400,
               "product_invalid_sku")
    assert body["data"]["resource_id"] == variation["id"]
    assert ok(call(woo, "GET", "products", params={"sku": "DUP-1"}))[0]["id"] == first["id"]


def test_variations_are_routed_by_parent_and_rejected_through_products(woo):
    parent, variation = variable_with_variation(woo)
    vid, pid = variation["id"], parent["id"]
    err(call(woo, "PUT", f"products/{vid}", json={"regular_price": "99.00"}), 404,
        "woocommerce_rest_invalid_product_id")
    assert ok(call(woo, "GET", f"products/{pid}/variations/{vid}"))["regular_price"] == "20.00"
    as_product = ok(call(woo, "GET", f"products/{vid}"))
    assert (as_product["type"], as_product["parent_id"], as_product["name"]) == ("variation", pid, "T-Shirt - Red, M")
    found = ok(call(woo, "GET", "products", params={"sku": variation["sku"]}))
    assert [(p["id"], p["type"]) for p in found] == [(vid, "variation")]
    other = product(woo, "OTHER")
    err(call(woo, "PUT", f"products/{other['id']}/variations/{vid}", json={"regular_price": "1.00"}), 403,
        "woocommerce_rest_cannot_edit")
    b = ok(call(woo, "POST", f"products/{pid}/variations/batch", json={"update": [{"id": vid, "stock_quantity": 4}]}))
    assert b["update"][0]["stock_quantity"] == 4 and b["update"][0]["stock_status"] == "instock"
    p = ok(call(woo, "GET", f"products/{pid}"))
    assert p["variations"] == [vid] and p["price"] == "20.00" and p["regular_price"] == ""
    unmanaged = product(woo, "NOSTOCK", stock_quantity=5)
    assert (unmanaged["manage_stock"], unmanaged["stock_quantity"]) == (False, None)


# ---------------------------------------------------------------- batch (§5)

def test_batch_over_100_items_is_413_and_applies_nothing(woo):
    items = [{"name": f"B{i}", "sku": f"B413-{i}", "regular_price": "1.00"} for i in range(101)]
    err(call(woo, "POST", "products/batch", json={"create": items}), 413, "woocommerce_rest_request_entity_too_large")
    err(call(woo, "POST", "products/batch", json={"create": items[:60], "delete": list(range(1, 42))}), 413,
        "woocommerce_rest_request_entity_too_large")
    assert ok(call(woo, "GET", "products", params={"per_page": 100})) == []
    assert woo.admin.stats()["batch_items"] == 0


def test_batch_reports_errors_per_item_and_applies_the_rest(woo):
    existing = product(woo, "BX-1")
    _, variation = variable_with_variation(woo, "BXV")
    b = ok(client(woo).post("products/batch", {
        "create": [{"name": "new", "sku": "BX-2", "regular_price": "2.00"}, {"name": "dup", "sku": "BX-1"},
                   {"name": "numeric price", "sku": "BX-3", "regular_price": 3.5}],
        "update": [{"id": existing["id"], "regular_price": "12.00"}, {"id": variation["id"], "regular_price": "1.00"},
                   {"id": 99999999, "name": "x"}],
        "delete": [99999998]}))
    assert set(b) == {"create", "update", "delete"}
    assert b["create"][0]["sku"] == "BX-2" and b["create"][0]["id"] > 0
    assert b["create"][1]["id"] == 0 and b["create"][1]["error"]["code"] == "product_invalid_sku"
    assert b["create"][1]["error"]["data"] == {"status": 400, "resource_id": existing["id"], "unique_sku": "BX-1-1"}
    assert b["create"][2]["regular_price"] == "3.5"  # batch items skip WP schema validation (§5)
    assert b["update"][0]["regular_price"] == "12.00"
    assert b["update"][1]["error"]["code"] == "woocommerce_rest_invalid_product_id"
    assert b["update"][2] == {"id": 99999999, "error": {"code": "woocommerce_rest_product_invalid_id",
                                                        "message": "Invalid ID.", "data": {"status": 400}}}
    assert b["delete"][0]["error"]["data"]["status"] == 404
    assert ok(call(woo, "GET", f"products/{existing['id']}"))["regular_price"] == "12.00"
    only = ok(call(woo, "POST", "products/batch", json={"delete": [existing["id"]]}))
    assert set(only) == {"delete"} and only["delete"][0]["id"] == existing["id"]
    err(call(woo, "GET", f"products/{existing['id']}"), 404, "woocommerce_rest_product_invalid_id")


# ---------------------------------------------------------------- orders (§6)

def test_orders_totals_meta_notes_status_and_trash(woo):
    simple = product(woo, "ORD-1", regular_price="19.99")
    wc = client(woo)
    o = ok(wc.post("orders", {
        "billing": {"first_name": "Jürgen", "email": "j@example.de", "country": "DE"},
        "shipping": {"country": "DE"}, "line_items": [{"product_id": simple["id"], "quantity": 2}],
        "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat rate", "total": "5.00"}],
        "fee_lines": [{"name": "Handling", "total": "1.50", "tax_status": "none"}]}), 201)
    line = o["line_items"][0]
    assert (o["status"], o["number"], line["price"], line["subtotal"]) == ("pending", str(o["id"]), 19.99, "39.98")
    assert o["tax_lines"][0]["rate_percent"] == 19 and line["total_tax"] == "7.60"
    total = (sum(Decimal(li["subtotal"]) for li in o["line_items"]) - Decimal(o["discount_total"])
             + Decimal(o["shipping_total"]) + sum(Decimal(f["total"]) for f in o["fee_lines"])
             + Decimal(o["total_tax"]))
    assert Decimal(o["total"]) == total == Decimal("55.03")
    ok(wc.put(f"orders/{o['id']}", {"meta_data": [{"key": "_erp_ref", "value": "SO-1"}, {"key": "keep", "value": 1}]}))
    u = ok(wc.put(f"orders/{o['id']}", {"meta_data": [{"key": "_erp_ref", "value": "SO-2"}], "status": "processing"}))
    assert sorted((m["key"], m["value"]) for m in u["meta_data"]) == [("_erp_ref", "SO-2"), ("keep", 1)]
    assert u["date_paid_gmt"] and ok(call(woo, "GET", f"products/{simple['id']}"))["stock_quantity"] is None
    note = ok(wc.post(f"orders/{o['id']}/notes", {"note": "Invoice 7"}), 201)
    assert (note["author"], note["customer_note"]) == ("WooCommerce", False)  # as a real 8.2 answered (§11)
    notes = [n["note"] for n in ok(wc.get(f"orders/{o['id']}/notes"))]
    assert "Invoice 7" in notes and "Order status changed from Pending payment to Processing." in notes
    held = ok(wc.post("orders", {"status": "on-hold"}), 201)
    got = ok(call(woo, "GET", "orders", params=[("status[]", "on-hold"), ("status[]", "processing")]))
    assert sorted(x["id"] for x in got) == sorted([o["id"], held["id"]])
    assert [x["id"] for x in ok(call(woo, "GET", "orders", params={"status": "on-hold"}))] == [held["id"]]
    assert ok(call(woo, "DELETE", f"orders/{held['id']}"))["status"] == "trash"
    err(call(woo, "DELETE", f"orders/{held['id']}"), 410, "woocommerce_rest_already_trashed")
    assert [x["id"] for x in ok(call(woo, "GET", "orders"))] == [o["id"]]
    err(call(woo, "GET", "orders/99999999/notes"), 404, "woocommerce_rest_shop_order_invalid_id")


# ---------------------------------------------------------------- webhooks (§7)

def test_webhook_ping_and_signed_delivery_verified_independently(woo, receiver):
    r = client(woo).post("webhooks", {"name": "p", "topic": "product.created", "delivery_url": receiver.url("/wh/sig"),
                                      "secret": "k&y<secret>"})
    hook = ok(r, 201)
    assert r.headers["Location"].endswith(f"/webhooks/{hook['id']}") and "secret" not in hook
    (ping,) = receiver.wait("/wh/sig", 1, ping=True)
    assert ping["body"] == f"webhook_id={hook['id']}".encode()
    assert ping["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert "Hookshot" in ping["headers"]["user-agent"] and not any(h.startswith("x-wc-") for h in ping["headers"])
    created = product(woo, "HOOK-1", name="Café/Bar")
    (d,) = receiver.wait("/wh/sig", 1)
    h = d["headers"]
    assert all(k in h for k in WEBHOOK_HEADERS)
    assert h["x-wc-webhook-signature"] == signed("k&y<secret>", d["body"])
    assert (h["x-wc-webhook-topic"], h["x-wc-webhook-resource"], h["x-wc-webhook-event"], h["x-wc-webhook-id"]) == (
        "product.created", "product", "created", str(hook["id"]))
    assert h["x-wc-webhook-source"] == woo.url + "/" and h["user-agent"].startswith("WooCommerce/")
    assert b'"name":"Caf\\u00e9\\/Bar"' in d["body"] and b"http:\\/\\/" in d["body"]  # PHP json_encode bytes
    payload = json.loads(d["body"])
    assert payload == ok(call(woo, "GET", f"products/{created['id']}"))
    log = [e for e in woo.admin.deliveries(webhook_id=hook["id"]) if not e["ping"]]
    assert [(e["status"], e["delivery_id"]) for e in log] == [(200, h["x-wc-webhook-delivery-id"])]


def test_unanswered_ping_is_repeated_after_every_delivery(woo, receiver):
    receiver.ping_status["/wh/pending"] = 500
    webhook(woo, receiver, "/wh/pending", "product.updated")
    p = product(woo, "PEND-1")
    for n in (1, 2):
        ok(call(woo, "PUT", f"products/{p['id']}", json={"regular_price": f"{n}.00"}))
        receiver.wait("/wh/pending", n)
        assert len(receiver.wait("/wh/pending", n + 1, ping=True)) == n + 1
    receiver.ping_status["/wh/pending"] = 200
    ok(call(woo, "PUT", f"products/{p['id']}", json={"regular_price": "3.00"}))
    receiver.wait("/wh/pending", 3)
    assert len(receiver.wait("/wh/pending", 4, ping=True)) == 4
    ok(call(woo, "PUT", f"products/{p['id']}", json={"regular_price": "4.00"}))
    receiver.wait("/wh/pending", 4)
    time.sleep(0.3)
    assert len(receiver.got("/wh/pending", ping=True)) == 4  # a 200 ping ends the re-pinging


def test_duplicate_and_out_of_order_deliveries(woo, receiver):
    webhook(woo, receiver, "/wh/dup", "order.created")
    woo.admin.set_faults(delivery={"delay_ms": 0, "duplicates": 2})
    o = ok(client(woo).post("orders", {}), 201)
    got = receiver.wait("/wh/dup", 3)
    assert len(got) == 3 and {json.loads(d["body"])["id"] for d in got} == {o["id"]}
    assert injected(woo)["delivery_duplicate"] == 2
    woo.admin.set_faults(delivery={"delay_ms": 0, "shuffle": True, "shuffle_window_ms": 1000})
    ids = [ok(client(woo).post("orders", {}), 201)["id"] for _ in range(5)]
    got = receiver.wait("/wh/dup", 8)[3:]
    order = [json.loads(d["body"])["id"] for d in got]
    assert sorted(order) == ids and order != ids
    assert injected(woo)["delivery_shuffled"] == 5


def test_update_storm_coalescing_and_payload_built_at_send_time(woo, receiver):
    _, variation = variable_with_variation(woo, "STORM")
    webhook(woo, receiver, "/wh/created", "order.created")
    webhook(woo, receiver, "/wh/updated", "order.updated")
    woo.admin.set_faults(delivery={"delay_ms": 400, "updated_storm": 3})
    o = woo.admin.checkout([{"sku": variation["sku"], "quantity": 1}])
    ok(call(woo, "PUT", f"orders/{o['id']}", json={"status": "completed"}))  # before any delivery went out
    (created,) = receiver.wait("/wh/created", 1)
    assert json.loads(created["body"])["status"] == "completed"  # an "order.created" that is already completed
    updates = receiver.wait("/wh/updated", 5)
    assert len(updates) == 5 and injected(woo)["delivery_storm"] == 3
    woo.admin.set_faults(delivery={"delay_ms": 400, "coalesce": True})
    for note in ("a", "b", "c"):
        ok(call(woo, "PUT", f"orders/{o['id']}", json={"customer_note": note}))
    time.sleep(0.8)
    assert len(receiver.got("/wh/updated")) == 6 and injected(woo)["delivery_coalesced"] == 2


def test_lost_webhooks_are_suppressed_and_counted(woo, receiver):
    webhook(woo, receiver, "/wh/lost", "order.created")
    woo.admin.set_faults(delivery={"disabled": True})
    ok(client(woo).post("orders", {}), 201)
    time.sleep(0.5)
    assert receiver.got("/wh/lost") == [] and injected(woo)["delivery_suppressed"] == 1


def test_seventh_consecutive_failure_disables_and_reactivation_keeps_the_count(woo, receiver):
    receiver.status["/wh/fail"] = 500
    hook = webhook(woo, receiver, "/wh/fail", "order.created")
    woo.admin.set_faults(delivery={"delay_ms": 0})

    def deliver(n):
        ok(client(woo).post("orders", {}), 201)
        assert len(receiver.wait("/wh/fail", n)) == n
        time.sleep(0.1)
        return ok(call(woo, "GET", f"webhooks/{hook['id']}"))["status"]
    assert [deliver(n) for n in range(1, 7)] == ["active"] * 6
    assert deliver(7) == "disabled"
    ok(client(woo).post("orders", {}), 201)
    time.sleep(0.4)
    assert len(receiver.got("/wh/fail")) == 7  # a disabled webhook does not deliver
    assert ok(call(woo, "PUT", f"webhooks/{hook['id']}", json={"status": "active"}))["status"] == "active"
    assert deliver(8) == "disabled"
    assert woo.admin.stats()["deliveries"]["failed"] == 8
    err(call(woo, "DELETE", f"webhooks/{hook['id']}"), 501, "woocommerce_rest_trash_not_supported")


def test_delivery_ids_collide_within_one_second(woo, receiver):
    webhook(woo, receiver, "/wh/ids", "product.updated")
    p = product(woo, "IDS-1")
    woo.admin.set_faults(delivery={"delay_ms": 0, "duplicates": 1})

    def burst(n, after_second):
        while int(time.time()) <= after_second or time.time() % 1 > 0.3:  # both copies within one new second
            time.sleep(0.02)
        ok(call(woo, "PUT", f"products/{p['id']}", json={"regular_price": f"{n}.00"}))
        return [d["headers"]["x-wc-webhook-delivery-id"] for d in receiver.wait("/wh/ids", 2 * n)[-2:]]
    first = burst(1, 0)
    second = burst(2, int(time.time()))
    assert first[0] == first[1] and second[0] == second[1] and first[0] != second[0]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in first + second)


def test_checkout_places_a_taxed_order_and_fires_a_signed_order_created(woo, receiver):
    parent, variation = variable_with_variation(woo)
    cap = product(woo, "CAP-1", regular_price="15.00", manage_stock=True, stock_quantity=3)
    webhook(woo, receiver, "/wh/checkout", "order.created", secret="checkout-secret")
    o = woo.admin.checkout([{"sku": variation["sku"], "quantity": 2}, {"sku": "CAP-1", "quantity": 1}],
                           coupon="WINTER10", email="buyer@example.com")
    vline = next(li for li in o["line_items"] if li["variation_id"])
    assert (vline["product_id"], vline["variation_id"]) == (parent["id"], variation["id"])
    assert vline["sku"] == variation["sku"]
    assert {(m["key"], m["value"]) for m in vline["meta_data"]} == {("color", "Red"), ("size", "M")}
    assert (o["status"], o["created_via"], o["billing"]["email"]) == ("processing", "checkout", "buyer@example.com")
    assert o["discount_total"] == "5.50" and o["shipping_total"] == "4.90"
    assert o["tax_lines"][0]["rate_percent"] == 19 and o["date_paid_gmt"]
    assert Decimal(o["total"]) == (Decimal("55.00") - Decimal("5.50") + Decimal("4.90") + Decimal(o["total_tax"]))
    (d,) = receiver.wait("/wh/checkout", 1)
    assert d["headers"]["x-wc-webhook-signature"] == signed("checkout-secret", d["body"])
    assert d["headers"]["x-wc-webhook-topic"] == "order.created" and json.loads(d["body"])["id"] == o["id"]
    assert ok(call(woo, "GET", f"products/{parent['id']}/variations/{variation['id']}"))["stock_quantity"] == 8
    assert ok(call(woo, "GET", f"products/{cap['id']}"))["stock_quantity"] == 2
    r = requests.post(woo.url + "/_sandbox/checkout", json={"lines": [{"sku": "NOPE", "quantity": 1}]}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "sandbox_unknown_sku"
    r = requests.post(woo.url + "/_sandbox/checkout", json={"lines": [{"sku": "CAP-1", "quantity": 5}]}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "sandbox_out_of_stock"


# ---------------------------------------------------------------- host faults and stats (§2.3, §8)

def test_http_fault_rules(woo):
    wc = client(woo)
    woo.admin.set_faults(rules=[{"method": "GET", "path": "/wp-json/wc/v3/products", "kind": "rate_limit",
                                 "retry_after": 2, "times": 1}])
    r = wc.get("products")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    ok(wc.get("products"))
    woo.admin.set_faults(rules=[{"path": "/wp-json/wc/v3/orders*", "kind": "rate_limit", "retry_after": 30,
                                 "retry_after_format": "http-date"}])
    r = call(woo, "GET", "orders")
    assert r.status_code == 429 and parsedate_to_datetime(r.headers["Retry-After"]).timestamp() > time.time() + 20
    ok(call(woo, "GET", "products"))
    woo.admin.set_faults(rules=[{"method": "POST", "path": "/wp-json/wc/v3/products/batch", "kind": "html",
                                 "status": 503}, {"path": "/wp-json/wc/v3/orders", "kind": "error"}])
    r = call(woo, "POST", "products/batch", json={"create": [{"name": "x"}]})
    assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html")
    assert ok(call(woo, "GET", "products")) == []  # the batch was not applied
    err(call(woo, "GET", "orders"), 500, "internal_server_error")
    woo.admin.set_faults(rules=[{"path": "/wp-json/wc/v3/products", "kind": k} for k in ("bom",)])
    assert call(woo, "GET", "products").content.startswith(b"\xef\xbb\xbf[")
    woo.admin.set_faults(rules=[{"path": "/wp-json/", "kind": "truncated"}])
    product_json = requests.post(woo.api + "products", json={"name": "T"}, auth=(woo.key, woo.secret), timeout=10)
    with pytest.raises(ValueError):
        json.loads(product_json.content)
    woo.admin.set_faults(rules=[{"path": "/wp-json/", "kind": "drop", "ms": 10}])
    with pytest.raises(requests.ConnectionError):
        call(woo, "GET", "products")
    woo.admin.set_faults(rules=[{"path": "/wp-json/", "kind": "latency", "ms": 300}])
    started = time.monotonic()
    ok(call(woo, "GET", "products"))
    assert time.monotonic() - started >= 0.3
    assert injected(woo) == {"rate_limit": 2, "html": 1, "error": 1, "bom": 1, "truncated": 1, "drop": 1,
                             "latency": 1}


def test_requests_run_concurrently(woo):
    woo.admin.set_faults(rules=[{"path": "/wp-json/wc/v3/products", "kind": "latency", "ms": 500}])
    results = []
    threads = [threading.Thread(target=lambda: results.append(call(woo, "GET", "products").status_code))
               for _ in range(6)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 6 and time.monotonic() - started < 1.8  # 3 s if served one by one


def test_stats_count_requests_by_route_template_and_batch_items(woo, receiver):
    webhook(woo, receiver, "/wh/stats", "order.updated")
    wc = client(woo)
    wc.get("products")
    wc.get("products", params={"per_page": 5})
    o = ok(wc.post("orders", {}), 201)
    ok(wc.put(f"orders/{o['id']}", {"customer_note": "x"}))
    ok(wc.post("products/batch", {"create": [{"name": "a"}, {"name": "b"}], "delete": [o["id"] + 1000]}))
    requests.get(woo.api + "nope", timeout=10)
    receiver.wait("/wh/stats", 2)
    time.sleep(0.2)  # the sandbox counts a delivery once the receiver has answered
    stats = woo.admin.stats()
    assert stats["requests"] == {"GET /wp-json/wc/v3/products": 2, "POST /wp-json/wc/v3/webhooks": 1,
                                 "POST /wp-json/wc/v3/orders": 1, "PUT /wp-json/wc/v3/orders/<id>": 1,
                                 "POST /wp-json/wc/v3/products/batch": 1, "GET /wp-json/wc/v3/nope": 1}
    assert stats["batch_items"] == 3 and stats["deliveries"]["sent"] == 2 and stats["deliveries"]["pings"] == 1
    assert woo.admin.reset_stats()["requests"] == {}


def test_starts_and_stops_cleanly_on_sigterm(tmp_path):
    proc, url = start_woo_sandbox(tmp_path / "woo.log")
    try:
        assert f"woo sandbox listening on {url}" in proc.log_tail()
    finally:
        proc.kill_group(signal.SIGTERM)
        proc.popen.wait(5)
    assert proc.popen.returncode == 0


def test_customers_read_update_meta_and_fire_customer_updated(woo, receiver):
    hook = webhook(woo, receiver, "/wh/customer", "customer.updated")
    assert hook["topic"] == "customer.updated"
    before = ok(call(woo, "GET", "customers/2"))
    assert before["role"] == "customer" and before["email"] == "anna.schaefer@example.de"
    assert set(before["billing"]) >= {"company", "address_1", "country", "email", "phone"}
    body = {"billing": {"company": "Schäfer GmbH", "city": "Köln", "country": "DE"},
            "meta_data": [{"key": "_erp_customer_number", "value": "CUST-1"}]}
    after = ok(call(woo, "PUT", "customers/2", json=body))
    assert after["billing"]["company"] == "Schäfer GmbH" and after["billing"]["email"] == before["billing"]["email"]
    ok(call(woo, "PUT", "customers/2", json={"meta_data": [{"key": "_erp_customer_number", "value": "CUST-2"}]}))
    got = ok(call(woo, "GET", "customers/2"))
    assert [m["value"] for m in got["meta_data"] if m["key"] == "_erp_customer_number"] == ["CUST-2"]
    deliveries = receiver.wait("/wh/customer", 2)
    assert {d["headers"]["x-wc-webhook-topic"] for d in deliveries} == {"customer.updated"}
    assert {json.loads(d["body"])["id"] for d in deliveries} == {2}
    err(call(woo, "GET", "customers/999999"), 404, "woocommerce_rest_invalid_id")
    err(call(woo, "PUT", "customers/999999", json={"first_name": "x"}), 400, "woocommerce_rest_invalid_id")
    assert [c["id"] for c in ok(call(woo, "GET", "customers", params={"email": "ANNA.schaefer@example.de"}))] == [2]


def test_product_categories_nest_refuse_duplicates_batch_and_show_on_products(woo):
    wc = client(woo)
    top = ok(wc.post("products/categories", {"name": "Apparel", "slug": "cat-apparel"}), 201)
    assert (top["parent"], top["slug"], top["count"]) == (0, "cat-apparel", 0)
    child = ok(wc.post("products/categories", {"name": "T-Shirts", "parent": top["id"]}), 201)
    assert child["parent"] == top["id"] and child["slug"] == "t-shirts"
    again = err(wc.post("products/categories", {"name": "t-shirts", "parent": top["id"]}), 400, "term_exists")
    assert again["data"]["resource_id"] == child["id"]
    err(wc.post("products/categories", {"name": "Other", "slug": "cat-apparel"}), 400, "duplicate_term_slug")
    err(wc.post("products/categories", {"slug": "nameless"}), 400, "rest_missing_callback_param")
    err(wc.post("products/categories", {"name": "Orphan", "parent": 999999}), 400, "woocommerce_rest_term_invalid")
    err(call(woo, "GET", "products/categories/999999"), 404, "woocommerce_rest_term_invalid")
    err(call(woo, "DELETE", f"products/categories/{child['id']}"), 501, "woocommerce_rest_trash_not_supported")
    answer = ok(wc.post("products/categories/batch", {
        "create": [{"name": "Hoodies", "parent": top["id"], "slug": "cat-hoodies"}, {"name": ""}],
        "update": [{"id": child["id"], "name": "Tees"}]}))
    assert answer["create"][0]["slug"] == "cat-hoodies" and answer["create"][1]["error"]["code"] == \
        "rest_missing_callback_param"
    assert answer["update"][0]["name"] == "Tees" and answer["update"][0]["slug"] == "t-shirts"
    found = ok(call(woo, "GET", "products/categories", params={"slug": "cat-apparel,cat-hoodies", "per_page": 100}))
    assert sorted(c["slug"] for c in found) == ["cat-apparel", "cat-hoodies"]
    tee = product(woo, "CAT-TEE-1", categories=[{"id": child["id"]}, {"id": 999999}])
    assert tee["categories"] == [{"id": child["id"], "name": "Tees", "slug": "t-shirts"}]
    ok(wc.put(f"products/categories/{child['id']}", {"name": "Shirts"}))
    assert ok(call(woo, "GET", f"products/{tee['id']}"))["categories"][0]["name"] == "Shirts"
    assert product(woo, "CAT-NONE-1")["categories"] == [{"id": 15, "name": "Uncategorized", "slug": "uncategorized"}]
    ok(call(woo, "DELETE", f"products/categories/{top['id']}", params={"force": "true"}))
    assert ok(call(woo, "GET", f"products/categories/{child['id']}"))["parent"] == 0


def test_gtin_field_is_stored_unique_and_validated(woo):
    first = product(woo, "GTIN-1", global_unique_id="4006381333931")
    assert first["global_unique_id"] == "4006381333931"
    dup = err(client(woo).post("products", {"name": "x", "sku": "GTIN-2", "global_unique_id": "4006381333931"}),
              400, "product_invalid_global_unique_id")
    assert dup["data"]["resource_id"] == first["id"]
    err(client(woo).post("products", {"name": "x", "sku": "GTIN-3", "global_unique_id": "ABC"}), 400,
        "product_invalid_global_unique_id")
    ok(client(woo).put(f"products/{first['id']}", {"global_unique_id": "4006381333948"}))
    assert product(woo, "GTIN-4", global_unique_id="4006381333931")["global_unique_id"] == "4006381333931"
