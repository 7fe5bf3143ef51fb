"""An imported order's amendment and refund reach the ERP exactly once through the real fleet: concurrent
duplicate deliveries to four worker threads, commit-then-fail on the PATCH and the credit-note POST (worker
SIGKILLs inside the committed PATCH and credit-note POST: tests/e2e/test_order_life_kills.py; lost webhooks:
tests/e2e/test_order_life_poll.py; a Redis restart during amendments and refunds is the chaos run's,
tests/e2e/test_chaos.py)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_get, woo_client
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e


def test_duplicate_concurrent_deliveries_and_lost_answers_make_one_patch_and_one_credit_note(fleet):
    stock_shop(fleet, "SKU-L")
    fleet.start_worker(concurrency=4)
    order = checkout(fleet, skus=("SKU-L",), email="life@example.com")
    assert deliver(fleet.shim_url, order, "order.created").status_code == 200
    erp_order = imported_once(fleet, order["id"])
    oid, woo = order["id"], woo_client(fleet)
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.set_faults([{"method": "PATCH", "path": "/api/v1/sales-orders/*", "kind": "commit_then_fail", "count": 1},
                    {"method": "POST", "path": "/api/v1/credit-notes", "kind": "commit_then_fail", "count": 1},
                    {"method": "*", "path": "/api/v1/*", "kind": "latency", "ms": 300, "count": 6}])
    woo.update_order(oid, {"shipping": {"address_1": "Amended Way 1"}})
    refund = woo.call("POST", f"orders/{oid}/refunds", {"amount": "2.00", "reason": "late", "api_refund": False})[0]
    current = woo.get_order(oid)
    copies = [dict(current, date_modified_gmt=f"2030-01-01T00:00:{i:02d}") for i in range(6)]  # distinct bodies
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda p: deliver(fleet.shim_url, p, "order.updated"), copies))
    assert all(a.status_code == 200 for a in answers)

    def settled():
        meta = {m["key"]: m["value"] for m in woo.get_order(oid)["meta_data"]}
        notes = erp_get(fleet, "/credit-notes", sales_order_id=erp_order["id"])["items"]
        line1 = erp_get(fleet, f"/sales-orders/{erp_order['id']}")["shipping_address"]["line1"]
        return notes and meta.get(f"_erp_credit_note_{refund['id']}") and line1 == "Amended Way 1" and notes
    notes = wait_until(settled, 120, 0.5, "the amendment and the credit note in the ERP, the number in the shop")
    assert [(n["external_ref"], n["amount"]) for n in notes] == [(f"WC-REFUND-{refund['id']}", "2.00")]

    def lookups() -> int:
        return sum(1 for r in erp.requests() if r["route"] == "/api/v1/sales-orders" and r["method"] == "GET")
    before = lookups()  # one more delivery, and wait until it ran: nothing is left in flight
    assert deliver(fleet.shim_url, dict(current, date_modified_gmt="2030-01-02T00:00:00"),
                   "order.updated").status_code == 200
    wait_until(lambda: lookups() > before, 60, 0.5, "the last delivery's run")
    requests_log = erp.requests()
    assert sum(1 for r in requests_log if r["method"] == "PATCH") == 1
    assert sum(1 for r in requests_log if r["method"] == "POST" and r["route"] == "/api/v1/credit-notes") == 1
    assert erp_get(fleet, f"/sales-orders/{erp_order['id']}")["revision"] == 2
    texts = [n["note"] for n in woo.order_notes(oid)]
    assert sum(notes[0]["number"] in t for t in texts) == 1
