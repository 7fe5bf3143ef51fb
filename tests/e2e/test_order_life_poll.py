"""An imported order's later life reaches the ERP through the order poll alone, once, when every webhook is
lost: the fleet registers no webhook in the shop, so nothing but the poll (celery beat) tells the workers
that the order was fully refunded, refunded in part, amended, trashed or restored. Each test waits until
the ERP changed, lets two more polls list the same order again (the overlap re-reads it on every poll for
minutes) and the fleet go idle, then counts the ERP's writes."""
from __future__ import annotations

from datetime import datetime

import pytest

from connector.db import Database
from connector.models import OrderSync, SyncCursor, WebhookDelivery
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin
from tests.e2e.conftest import erp_get, woo_client
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e


def imported_by_the_poll(fleet, *skus: str) -> list[tuple[int, dict]]:
    """Orders of one line each, imported by the poll (no webhook is registered): (order id, ERP order)."""
    stock_shop(fleet, *skus)
    fleet.start_worker()
    fleet.start_beat()
    orders = [checkout(fleet, skus=(sku,), email=f"{sku.lower()}@example.com") for sku in skus]
    return [(o["id"], imported_once(fleet, o["id"], timeout=60)) for o in orders]


def two_more_polls(fleet) -> None:
    """Until two order polls finished after now (the second one started after now), then until idle (beat
    stopped for that, then started again: the schedule runs on)."""
    db = Database(fleet.env["DATABASE_URL"])

    def last_poll() -> datetime | None:
        with db.session() as s:
            cursor = s.get(SyncCursor, "orders")
            return cursor and cursor.last_success_at
    for _ in range(2):
        seen = last_poll()
        wait_until(lambda: last_poll() != seen, 60, 0.3, "an order poll finished")
    fleet.stop_beat()
    fleet.wait_until_idle()
    fleet.start_beat()
    with db.session() as s:  # nothing but the poll told the fleet
        assert s.query(WebhookDelivery).count() == 0
    db.engine.dispose()


def writes(erp: ErpSandboxAdmin, method: str, path: str) -> int:
    return sum(1 for r in erp.requests() if r["method"] == method and r["path"] == "/api/v1" + path)


def credit_notes_posted(erp: ErpSandboxAdmin, erp_order_id: str) -> int:
    return sum(1 for r in erp.requests() if r["method"] == "POST" and r["path"] == "/api/v1/credit-notes"
               and (r["body"] or {}).get("sales_order_id") == erp_order_id)


def state(fleet, order_id: int) -> tuple[str, str | None]:
    db = Database(fleet.env["DATABASE_URL"])
    try:
        with db.session() as s:
            row = s.get(OrderSync, order_id)
            return row.state, row.reason
    finally:
        db.engine.dispose()


def test_a_full_refund_a_partial_refund_and_an_amendment_whose_webhooks_were_lost_reach_the_erp_once(fleet):
    (full, full_erp), (part, part_erp), (amend, amend_erp) = imported_by_the_poll(fleet, "SKU-PR", "SKU-PP", "SKU-PA")
    woo, erp = woo_client(fleet), ErpSandboxAdmin(fleet.erp_url)
    total = woo.get_order(full)["total"]
    full_refund = woo.call("POST", f"orders/{full}/refunds", {"amount": total, "reason": "all back",
                                                               "api_refund": False})[0]
    assert woo.get_order(full)["status"] == "refunded"
    part_refund = woo.call("POST", f"orders/{part}/refunds", {"amount": "2.50", "reason": "scratch",
                                                               "api_refund": False})[0]
    assert woo.get_order(part)["status"] == "processing"  # a partial refund leaves the status as it was
    woo.update_order(amend, {"shipping": {"address_1": "Corrected Street 9"}})

    def erp_order(erp_id: str) -> dict:
        return erp_get(fleet, f"/sales-orders/{erp_id}")

    def credit_number():
        meta = {m["key"]: m["value"] for m in woo.get_order(part)["meta_data"]}
        return meta.get(f"_erp_credit_note_{part_refund['id']}")
    wait_until(lambda: erp_order(full_erp["id"])["status"] == "cancelled", 60, 0.3, "the refunded order cancelled")
    number = wait_until(credit_number, 60, 0.3, "the credit-note number in the partly refunded order")
    wait_until(lambda: erp_order(amend_erp["id"])["shipping_address"]["line1"] == "Corrected Street 9", 60, 0.3,
               "the amended address in the ERP")
    two_more_polls(fleet)

    # full refund: one credit note for the whole amount, the ERP order cancelled once
    notes = erp_get(fleet, "/credit-notes", sales_order_id=full_erp["id"])["items"]
    assert [(n["external_ref"], n["amount"]) for n in notes] == [(f"WC-REFUND-{full_refund['id']}", total)]
    assert credit_notes_posted(erp, full_erp["id"]) == 1
    assert writes(erp, "POST", f"/sales-orders/{full_erp['id']}/cancel") == 1 and state(fleet, full)[0] == "cancelled"
    # partial refund: one credit note, its number in the shop order once (meta and note), the ERP order open
    notes = erp_get(fleet, "/credit-notes", sales_order_id=part_erp["id"])["items"]
    assert [(n["external_ref"], n["amount"], n["number"]) for n in notes] == \
        [(f"WC-REFUND-{part_refund['id']}", "2.50", number)]
    assert credit_notes_posted(erp, part_erp["id"]) == 1
    assert sum(number in n["note"] for n in woo.order_notes(part)) == 1
    assert [m["key"] for m in woo.get_order(part)["meta_data"]].count(f"_erp_credit_note_{part_refund['id']}") == 1
    assert erp_order(part_erp["id"])["status"] == part_erp["status"]
    # amendment: one PATCH, the revision advanced once
    assert writes(erp, "PATCH", f"/sales-orders/{amend_erp['id']}") == 1
    assert erp_order(amend_erp["id"])["revision"] == amend_erp["revision"] + 1
    assert state(fleet, amend)[0] == "written_back"
    assert credit_notes_posted(erp, amend_erp["id"]) == 0


def test_a_trashed_order_whose_webhook_was_lost_is_cancelled_once_and_not_revived_when_restored(fleet):
    [(oid, erp_order)] = imported_by_the_poll(fleet, "SKU-PT")
    woo, erp = woo_client(fleet), ErpSandboxAdmin(fleet.erp_url)
    cancel = f"/sales-orders/{erp_order['id']}/cancel"
    assert woo.call("DELETE", f"orders/{oid}")[0]["status"] == "trash"  # not `force`: to the trash
    wait_until(lambda: erp_get(fleet, f"/sales-orders/{erp_order['id']}")["status"] == "cancelled", 60, 0.3,
               "the ERP order cancelled by the poll")
    two_more_polls(fleet)
    assert writes(erp, "POST", cancel) == 1 and state(fleet, oid)[0] == "cancelled"

    WooSandboxAdmin(fleet.woo_url).restore(oid)  # `order.restored` lost too
    wait_until(lambda: state(fleet, oid)[0] == "attention", 60, 0.3, "the restored order flagged for a person")
    two_more_polls(fleet)
    assert "not revived" in state(fleet, oid)[1]
    assert erp_get(fleet, f"/sales-orders/{erp_order['id']}")["status"] == "cancelled"
    assert writes(erp, "POST", cancel) == 1 and len(erp_get(fleet, "/sales-orders", external_ref=f"WC-ORDER-{oid}")
                                                   ["items"]) == 1
