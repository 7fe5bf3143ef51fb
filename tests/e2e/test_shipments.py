"""ERP shipments reach the Woo order: tracking meta and one note per shipment, `completed` only once
everything has shipped, and nothing twice however often the poll re-reads the same shipments. The shop's
webhooks are registered, so our own writes echo back as `order.updated` and must change nothing."""
from __future__ import annotations


import pytest

from connector.models import OrderSync
from connector.sync.webhook_setup import ensure_webhooks
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_get, woo_client
from tests.e2e.test_orders_exactly_once import _db, checkout, imported_once, stock_shop
from tests.support.deliveries import DEFAULT_SECRET
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e


def shipment_notes(woo, order_id: int) -> list[str]:
    return [n["note"] for n in woo.order_notes(order_id) if n["note"].startswith("Shipped ")]


def shipment_meta(woo, order_id: int) -> dict:
    return {m["key"]: m["value"] for m in woo.get_order(order_id)["meta_data"]
            if m["key"].startswith("_wooerp_shipment_")}


def shipment_polls(erp: ErpSandboxAdmin) -> int:
    return erp.stats()["requests"].get("GET /api/v1/shipments", 0)


def test_partial_then_full_shipment_adds_two_notes_and_completes_the_order_once(fleet_factory):
    fleet = fleet_factory(SHIPMENT_POLL_SECONDS="2")
    stock_shop(fleet, "SKU-A", "SKU-B")
    erp, woo = ErpSandboxAdmin(fleet.erp_url), woo_client(fleet)
    ensure_webhooks(woo, fleet.shim_url + "/webhooks/woocommerce", DEFAULT_SECRET, ("order.created", "order.updated"))
    fleet.start_worker()
    fleet.start_beat()
    order = checkout(fleet, lines=[{"sku": "SKU-A", "quantity": 2}, {"sku": "SKU-B", "quantity": 1}])
    sales_order = imported_once(fleet, order["id"])

    first = erp.ship_order(sales_order["id"], lines=[{"sku": "SKU-A", "quantity": 1}], carrier="DHL",
                           tracking_number="00340434160000000001")
    wait_until(lambda: shipment_notes(woo, order["id"]), 60, 0.5, "a note for the partial shipment")
    assert shipment_notes(woo, order["id"]) == [
        f"Shipped 1 × SKU-A via DHL, tracking 00340434160000000001 (ERP shipment {first['id']})."]
    assert shipment_meta(woo, order["id"]) == {f"_wooerp_shipment_{first['id']}": {
        "carrier": "DHL", "tracking_number": "00340434160000000001", "shipped_at": first["shipped_at"],
        "lines": [{"sku": "SKU-A", "quantity": 1}]}}
    assert woo.get_order(order["id"])["status"] == "processing"

    rest = erp.ship_order(sales_order["id"], carrier="UPS", tracking_number="1Z999AA10123456784")
    assert sorted((line["sku"], line["quantity"]) for line in rest["lines"]) == [("SKU-A", 1), ("SKU-B", 1)]
    wait_until(lambda: woo.get_order(order["id"])["status"] == "completed", 60, 0.5, "order completed")

    polls = shipment_polls(erp)
    wait_until(lambda: shipment_polls(erp) >= polls + 3, 60, 0.5, "three more shipment polls")
    fleet.stop_beat()
    fleet.wait_until_idle()  # the last of them finished writing, if it wrongly would
    notes = shipment_notes(woo, order["id"])
    assert len(notes) == 2, notes
    assert any(f"(ERP shipment {rest['id']})" in n and "tracking 1Z999AA10123456784" in n for n in notes)
    meta = shipment_meta(woo, order["id"])
    assert sorted(meta) == sorted(f"_wooerp_shipment_{s['id']}" for s in (first, rest))
    assert woo.get_order(order["id"])["status"] == "completed"
    completions = [n["note"] for n in woo.order_notes(order["id"]) if n["note"].endswith("to Completed.")]
    assert len(completions) == 1, completions

    db = _db(fleet)  # the echoed order.updated deliveries were imported: no new ERP order, nothing cancelled
    wait_until(lambda: _sync_row(db, order["id"]).woo_status == "completed", 30, 0.5, "echo of completed seen")
    assert _sync_row(db, order["id"]).state == "written_back"
    assert [o["id"] for o in erp_get(fleet, "/sales-orders", external_ref=f"WC-ORDER-{order['id']}")["items"]] \
        == [sales_order["id"]]
    assert erp_get(fleet, f"/sales-orders/{sales_order['id']}")["status"] == "shipped"


def _sync_row(db, order_id: int) -> OrderSync:
    with db.session() as s:
        return s.get(OrderSync, order_id)
