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
