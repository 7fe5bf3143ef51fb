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


def imported_by_the_poll(fleet, sku: str):
    stock_shop(fleet, sku)
    fleet.start_worker()
    fleet.start_beat()
    order = checkout(fleet, skus=(sku,), email=f"{sku.lower()}@example.com")
    erp_order = imported_once(fleet, order["id"], timeout=60)
    return order["id"], erp_order, woo_client(fleet), ErpSandboxAdmin(fleet.erp_url)


def two_more_polls(fleet) -> None:
    """Until two order polls finished after now (the second one started after now), then until idle."""
    db = Database(fleet.env["DATABASE_URL"])

    def last_poll() -> datetime | None:
        with db.session() as s:
            cursor = s.get(SyncCursor, "orders")
            return cursor and cursor.last_success_at
    for _ in range(2):
        seen = last_poll()
        wait_until(lambda: last_poll() != seen, 60, 0.3, "an order poll finished")
    fleet.wait_until_idle()
    with db.session() as s:  # nothing but the poll told the fleet
        assert s.query(WebhookDelivery).count() == 0
    db.engine.dispose()


def writes(erp: ErpSandboxAdmin, key: str) -> int:
    return erp.stats()["requests"].get(key, 0)


def state(fleet, order_id: int) -> tuple[str, str | None]:
    db = Database(fleet.env["DATABASE_URL"])
    try:
        with db.session() as s:
            row = s.get(OrderSync, order_id)
            return row.state, row.reason
    finally:
        db.engine.dispose()


CANCEL, CREDIT, PATCH = ("POST /api/v1/sales-orders/{id}/cancel", "POST /api/v1/credit-notes",
                         "PATCH /api/v1/sales-orders/{id}")


def test_a_full_refund_whose_webhook_was_lost_cancels_the_erp_order_once(fleet):
    oid, erp_order, woo, erp = imported_by_the_poll(fleet, "SKU-PR")
    total = woo.get_order(oid)["total"]
    refund = woo.call("POST", f"orders/{oid}/refunds", {"amount": total, "reason": "all back", "api_refund": False})[0]
    assert woo.get_order(oid)["status"] == "refunded"
    wait_until(lambda: erp_get(fleet, f"/sales-orders/{erp_order['id']}")["status"] == "cancelled", 60, 0.3,
               "the ERP order cancelled by the poll")
    two_more_polls(fleet)
    assert writes(erp, CANCEL) == 1
    notes = erp_get(fleet, "/credit-notes", sales_order_id=erp_order["id"])["items"]
    assert [(n["external_ref"], n["amount"]) for n in notes] == [(f"WC-REFUND-{refund['id']}", total)]
    assert writes(erp, CREDIT) == 1
    assert state(fleet, oid)[0] == "cancelled"


def test_a_partial_refund_whose_webhook_was_lost_makes_one_credit_note_written_back_once(fleet):
    oid, erp_order, woo, erp = imported_by_the_poll(fleet, "SKU-PP")
    refund = woo.call("POST", f"orders/{oid}/refunds", {"amount": "2.50", "reason": "scratch", "api_refund": False})[0]
    assert woo.get_order(oid)["status"] == "processing"  # a partial refund leaves the status as it was

    def number():
        meta = {m["key"]: m["value"] for m in woo.get_order(oid)["meta_data"]}
        return meta.get(f"_erp_credit_note_{refund['id']}")
    written = wait_until(number, 60, 0.3, "the credit-note number in the shop order")
    two_more_polls(fleet)
    notes = erp_get(fleet, "/credit-notes", sales_order_id=erp_order["id"])["items"]
    assert [(n["external_ref"], n["amount"], n["number"]) for n in notes] == \
        [(f"WC-REFUND-{refund['id']}", "2.50", written)]
    assert writes(erp, CREDIT) == 1
    assert sum(written in n["note"] for n in woo.order_notes(oid)) == 1
    assert [m["key"] for m in woo.get_order(oid)["meta_data"]].count(f"_erp_credit_note_{refund['id']}") == 1
    assert erp_get(fleet, f"/sales-orders/{erp_order['id']}")["status"] != "cancelled"


def test_an_amendment_whose_webhook_was_lost_patches_the_erp_order_once(fleet):
    oid, erp_order, woo, erp = imported_by_the_poll(fleet, "SKU-PA")
    woo.update_order(oid, {"shipping": {"address_1": "Corrected Street 9"}})
    wait_until(lambda: erp_get(fleet, f"/sales-orders/{erp_order['id']}")["shipping_address"]["line1"]
               == "Corrected Street 9", 60, 0.3, "the amended address in the ERP")
    two_more_polls(fleet)
    assert writes(erp, PATCH) == 1
    assert erp_get(fleet, f"/sales-orders/{erp_order['id']}")["revision"] == erp_order["revision"] + 1
    assert state(fleet, oid)[0] == "written_back"


def test_a_trashed_order_whose_webhook_was_lost_is_cancelled_once_and_not_revived_when_restored(fleet):
    oid, erp_order, woo, erp = imported_by_the_poll(fleet, "SKU-PT")
    assert woo.call("DELETE", f"orders/{oid}")[0]["status"] == "trash"  # not `force`: to the trash
    wait_until(lambda: erp_get(fleet, f"/sales-orders/{erp_order['id']}")["status"] == "cancelled", 60, 0.3,
               "the ERP order cancelled by the poll")
    two_more_polls(fleet)
    assert writes(erp, CANCEL) == 1 and state(fleet, oid)[0] == "cancelled"

    WooSandboxAdmin(fleet.woo_url).restore(oid)  # `order.restored` lost too
    wait_until(lambda: state(fleet, oid)[0] == "attention", 60, 0.3, "the restored order flagged for a person")
    two_more_polls(fleet)
    assert "not revived" in state(fleet, oid)[1]
    assert erp_get(fleet, f"/sales-orders/{erp_order['id']}")["status"] == "cancelled"
    assert writes(erp, CANCEL) == 1 and writes(erp, "POST /api/v1/sales-orders") == 1

