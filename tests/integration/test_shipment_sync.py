"""ShipmentSync against a real database and an in-memory shop: crash windows, quarantine, final statuses."""
from __future__ import annotations

import copy

import pytest

from connector import binding
from connector.binding import SHIPMENT
from connector.errors import PermanentError
from connector.sync.shipments import ShipmentSync


class Shop:
    """The four order calls ShipmentSync makes, with WooCommerce's meta upsert-by-key."""

    def __init__(self, *orders: dict):
        self.orders = {o["id"]: o for o in orders}
        self.notes: dict[int, list[str]] = {o["id"]: [] for o in orders}

    def _order(self, order_id: int) -> dict:
        if order_id not in self.orders:
            raise PermanentError(f"woocommerce GET orders/{order_id} -> 404", status=404)
        return self.orders[order_id]

    def get_order(self, order_id):
        return copy.deepcopy(self._order(order_id))

    def update_order(self, order_id, data):
        order = self._order(order_id)
        for m in data.get("meta_data", []):
            order["meta_data"] = [x for x in order["meta_data"] if x["key"] != m["key"]] + [m]
        order["status"] = data.get("status", order["status"])
        return copy.deepcopy(order)

    def order_notes(self, order_id):
        return [{"note": n} for n in self.notes[order_id]]

    def add_order_note(self, order_id, note):
        self.notes[order_id].append(note)


def shipment(sid, order_id, modified_at="2026-01-01T00:00:00.000Z", **lines):
    return {"id": sid, "sales_order_id": f"SO-{order_id}", "external_ref": f"WC-ORDER-{order_id}",
            "carrier": "DHL", "tracking_number": f"T-{sid}", "shipped_at": modified_at, "modified_at": modified_at,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines.items()]}


def woo_order(order_id, status="processing", **ordered):
    return {"id": order_id, "status": status, "meta_data": [],
            "line_items": [{"sku": sku, "quantity": qty} for sku, qty in ordered.items()]}


def test_a_crash_after_the_note_and_before_the_record_adds_no_second_note(db):
    shop = Shop(woo_order(7, A=2))
    sync = ShipmentSync(db, shop)
    first = shipment("SH-1", 7, A=1)
    sync._write(7, first)  # the worker dies here: meta and note written, the shipment not recorded
    report = sync.apply([first])
    assert report.applied == 1 and len(shop.notes[7]) == 1
    assert sync.apply([first]).already_applied == 1 and len(shop.notes[7]) == 1
    assert sync.apply([first, shipment("SH-2", 7, A=1)]).completed == 1
    assert shop.orders[7]["status"] == "completed" and len(shop.notes[7]) == 2


def test_a_shipment_for_an_order_missing_in_the_shop_is_quarantined_and_the_page_goes_on(db):
    shop = Shop(woo_order(8, A=1))
    report = ShipmentSync(db, shop).apply([shipment("SH-9", 404, A=1), shipment("SH-10", 8, A=1),
                                           {**shipment("SH-11", 99), "external_ref": "PO-1"}])
    assert (report.quarantined, report.applied, report.completed, report.not_ours) == (1, 1, 1, 1)
    rows = binding.get(db, SHIPMENT, ["SH-9", "SH-10", "SH-11"])
    assert "404" in rows["SH-9"].quarantine_reason and rows["SH-10"].woo_id == 8 and "SH-11" not in rows


def test_other_permanent_errors_stop_the_poll_instead_of_quarantining_everything(db):
    class Unauthorised(Shop):
        def get_order(self, order_id):
            raise PermanentError("woocommerce GET orders -> 401", status=401)
    with pytest.raises(PermanentError):
        ShipmentSync(db, Unauthorised(woo_order(8, A=1))).apply([shipment("SH-1", 8, A=1)])


def test_a_cancelled_order_gets_the_note_but_keeps_its_status(db):
    shop = Shop(woo_order(5, status="cancelled", A=1))
    assert ShipmentSync(db, shop).apply([shipment("SH-1", 5, A=1)]).completed == 0
    assert shop.orders[5]["status"] == "cancelled" and len(shop.notes[5]) == 1


class Erp:
    """The ERP's sales orders by our reference, with the status the ERP gives them; `asked` counts lookups."""

    def __init__(self, **status_by_order: str):
        self.status, self.asked = status_by_order, 0

    def find_sales_orders(self, external_ref):
        self.asked += 1
        oid = int(external_ref.rsplit("-", 1)[1])
        return [{"id": f"SO-{oid}", "external_ref": external_ref, "status": self.status[f"o{oid}"]}]


def restocked(order: dict, sku: str, units: int) -> dict:
    for item in order["line_items"]:
        if item["sku"] == sku:
            item["meta_data"] = [{"key": "_restock_refunded_items", "value": str(units)}]
    return order


def test_an_order_whose_refund_restocked_unshipped_units_is_completed_when_the_erp_shipped_the_rest(db):
    # F4: 2 × A + 1 × B ordered; one A refunded and restocked before shipping, so the ERP withdrew it and
    # shipped what was left (1 × A, 1 × B): the ERP has nothing left to ship, the customer gets the completion
    shop = Shop(restocked(woo_order(68, A=2, B=1), "A", 1))
    erp = Erp(o68="shipped")
    report = ShipmentSync(db, shop, erp).apply([shipment("SH-1", 68, A=1, B=1)])
    assert (report.applied, report.completed) == (1, 1)
    assert shop.orders[68]["status"] == "completed" and len(shop.notes[68]) == 1


def test_a_restocked_return_of_a_shipped_unit_does_not_complete_an_order_the_erp_still_ships(db):
    # 3 × A ordered, 1 shipped, that unit returned and restocked: the ERP still owes 2; after one more ships,
    # the shop's counts (3 - 1 restocked = 2 shipped) look done, but the ERP's order is only partially shipped
    shop = Shop(restocked(woo_order(69, A=3), "A", 1))
    erp = Erp(o69="partially_shipped")
    sync = ShipmentSync(db, shop, erp)
    assert sync.apply([shipment("SH-1", 69, A=1), shipment("SH-2", 69, A=1)]).completed == 0
    assert shop.orders[69]["status"] == "processing"
    erp.status["o69"] = "shipped"
    assert sync.apply([shipment("SH-3", 69, A=1)]).completed == 1
    assert shop.orders[69]["status"] == "completed" and len(shop.notes[69]) == 3


def test_an_order_without_restocked_units_completes_on_its_own_counts_without_asking_the_erp(db):
    shop = Shop(woo_order(70, A=2))
    erp = Erp(o70="partially_shipped")
    sync = ShipmentSync(db, shop, erp)
    assert sync.apply([shipment("SH-1", 70, A=1)]).completed == 0
    assert sync.apply([shipment("SH-2", 70, A=1)]).completed == 1
    assert erp.asked == 0
