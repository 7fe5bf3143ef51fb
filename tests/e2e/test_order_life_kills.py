"""A worker SIGKILLed inside the order life's new ERP writes, after the ERP committed them: the credit-note
POST and the amendment PATCH. The ERP sandbox holds its answer (`commit_then_slow`), the test sees the write
in the ERP and kills the whole worker while it still waits; the message comes back after the visibility
timeout to a new worker, which must find the work done: one credit note, its number written back once, one
PATCH (the revision advanced once)."""
from __future__ import annotations

import pytest

from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_get, woo_client
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e

KILLABLE = dict(VISIBILITY_TIMEOUT_SECONDS="20", RETRY_BACKOFF_MAX_SECONDS="4", ORDER_LEASE_SECONDS="8")
CREDIT, PATCH, LOOKUP = ("POST /api/v1/credit-notes", "PATCH /api/v1/sales-orders/{id}",
                         "GET /api/v1/sales-orders")


def imported(fleet, sku: str):
    stock_shop(fleet, sku)
    worker = fleet.start_worker()
    order = checkout(fleet, skus=(sku,), email=f"{sku.lower()}@example.com")
    assert deliver(fleet.shim_url, order, "order.created").status_code == 200
    return order["id"], imported_once(fleet, order["id"]), worker, woo_client(fleet), ErpSandboxAdmin(fleet.erp_url)


def count(erp: ErpSandboxAdmin, key: str) -> int:
    return erp.stats()["requests"].get(key, 0)


def test_worker_killed_inside_a_committed_credit_note_post_leaves_one_credit_note_written_back_once(fleet_factory):
    fleet = fleet_factory(**KILLABLE)
    oid, erp_order, worker, woo, erp = imported(fleet, "SKU-KC")
    erp.set_faults([{"method": "POST", "path": "/api/v1/credit-notes", "kind": "commit_then_slow", "ms": 90_000,
                     "count": 1}])
    refund = woo.call("POST", f"orders/{oid}/refunds", {"amount": "3.00", "reason": "dent", "api_refund": False})[0]
    assert deliver(fleet.shim_url, woo.get_order(oid), "order.updated").status_code == 200
    [note] = wait_until(lambda: erp_get(fleet, "/credit-notes", sales_order_id=erp_order["id"])["items"], 60, 0.1,
                        "the credit note committed in the ERP")
    meta_key = f"_erp_credit_note_{refund['id']}"
    assert meta_key not in {m["key"] for m in woo.get_order(oid)["meta_data"]}  # the worker still waits
    worker.kill_group()  # the whole worker, inside the POST
    erp.clear_faults()
    fleet.start_worker(name="worker2")

    wait_until(lambda: meta_key in {m["key"] for m in woo.get_order(oid)["meta_data"]}, 120, 0.5,
               "the credit-note number written back by the new worker")
    fleet.wait_until_idle(timeout=120)
    notes = erp_get(fleet, "/credit-notes", sales_order_id=erp_order["id"])["items"]
    assert [(n["id"], n["external_ref"], n["amount"]) for n in notes] == \
        [(note["id"], f"WC-REFUND-{refund['id']}", "3.00")]
    assert count(erp, CREDIT) == 1
    meta = woo.get_order(oid)["meta_data"]
    assert [m["value"] for m in meta if m["key"] == meta_key] == [note["number"]]
    assert sum(note["number"] in n["note"] for n in woo.order_notes(oid)) == 1


def test_worker_killed_inside_an_applied_patch_leaves_the_amendment_applied_once(fleet_factory):
    fleet = fleet_factory(**KILLABLE)
    oid, erp_order, worker, woo, erp = imported(fleet, "SKU-KA")
    erp.set_faults([{"method": "PATCH", "path": "/api/v1/sales-orders/*", "kind": "commit_then_slow", "ms": 90_000,
                     "count": 1}])
    amended = woo.update_order(oid, {"shipping": {"address_1": "Killed Lane 3"}})
    assert deliver(fleet.shim_url, amended, "order.updated").status_code == 200

    def erp_now() -> dict:
        return erp_get(fleet, f"/sales-orders/{erp_order['id']}")
    wait_until(lambda: erp_now()["shipping_address"]["line1"] == "Killed Lane 3", 60, 0.1,
               "the amendment applied in the ERP")
    lookups = count(erp, LOOKUP)
    worker.kill_group()  # the whole worker, inside the PATCH
    erp.clear_faults()
    fleet.start_worker(name="worker2")

    wait_until(lambda: count(erp, LOOKUP) > lookups, 120, 0.5, "the order run again by the new worker")
    fleet.wait_until_idle(timeout=120)
    assert count(erp, PATCH) == 1
    after = erp_now()
    assert after["revision"] == erp_order["revision"] + 1 and after["shipping_address"]["line1"] == "Killed Lane 3"
    assert after["status"] == erp_order["status"]
