"""A shop that comes back from a backup (or is replaced by a fresh one) reuses order ids. An order we
recorded as written back is checked against the shop: when the shop's order lacks our ERP number, it is a
different order and goes through lookup-before-create again instead of being skipped."""
from __future__ import annotations

import requests

from connector.erp.rest import RestErp
from connector.settings import SANDBOX_ERP_TOKEN, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET
from connector.sync.orders import ERP_NUMBER_META, OrderImporter
from connector.woo.client import WooClient
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin

SKU = "RESTORE-1"


def _fresh_shop_with_one_order(woo: WooClient, woo_url: str) -> int:
    """Empty the shop, list one product and let a shopper buy it: the same ids after every reset."""
    WooSandboxAdmin(woo_url).reset()
    woo.call("POST", "products", {"name": "Restore test", "sku": SKU, "regular_price": "10.00",
                                  "manage_stock": True, "stock_quantity": 50})
    return WooSandboxAdmin(woo_url).checkout([{"sku": SKU, "quantity": 1}])["id"]


def _erp_orders(erp_url: str, order_id: int) -> list[dict]:
    r = requests.get(f"{erp_url}/api/v1/sales-orders", params={"external_ref": f"WC-ORDER-{order_id}"},
                     headers={"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"}, timeout=10)
    r.raise_for_status()
    return r.json()["items"]


def test_an_order_recorded_as_written_back_is_imported_again_when_the_shop_lacks_our_number(db, sandboxes):
    woo_url, erp_url = sandboxes
    woo = WooClient(woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)
    erp_admin = ErpSandboxAdmin(erp_url)
    erp_admin.reset()
    erp_admin.add_product(SKU, name="Restore test", list_price="10.00")
    importer = OrderImporter(db, woo, RestErp(erp_url, SANDBOX_ERP_TOKEN, timeout=10),
                             import_statuses=("processing", "on-hold"), currencies=("EUR", "USD"))

    first = _fresh_shop_with_one_order(woo, woo_url)
    assert importer.run(first).detail == "written back"
    assert importer.run(first).detail == "already written back"  # the shop's order carries our number
    old_number = _erp_orders(erp_url, first)[0]["number"]

    # the shop and the ERP both come back empty (a restore, or `make run` before the sandboxes kept state):
    # the shop hands out the same order id again, for an order the ERP has never seen
    erp_admin.reset()
    erp_admin.add_product(SKU, name="Restore test", list_price="10.00")
    again = _fresh_shop_with_one_order(woo, woo_url)
    assert again == first

    report = importer.run(again)
    assert report.detail == "written back" and report.state == "written_back"
    orders = _erp_orders(erp_url, again)
    assert len(orders) == 1  # imported once into the new ERP, through the usual lookup-before-create
    meta = {m["key"]: m["value"] for m in woo.get_order(again)["meta_data"]}
    assert meta[ERP_NUMBER_META] == orders[0]["number"]
    assert importer.run(again).detail == "already written back"
    assert len(_erp_orders(erp_url, again)) == 1
    assert old_number  # the first import had really written a number back


def test_an_order_whose_number_is_removed_in_the_shop_is_bound_to_its_existing_erp_order(db, sandboxes):
    """Only the shop lost our number (the ERP still holds the order): lookup-before-create adopts it."""
    woo_url, erp_url = sandboxes
    woo = WooClient(woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)
    erp_admin = ErpSandboxAdmin(erp_url)
    erp_admin.reset()
    erp_admin.add_product(SKU, name="Restore test", list_price="10.00")
    importer = OrderImporter(db, woo, RestErp(erp_url, SANDBOX_ERP_TOKEN, timeout=10),
                             import_statuses=("processing", "on-hold"), currencies=("EUR", "USD"))
    oid = _fresh_shop_with_one_order(woo, woo_url)
    assert importer.run(oid).detail == "written back"
    woo.update_order(oid, {"meta_data": [{"key": ERP_NUMBER_META, "value": ""}]})

    assert importer.run(oid).detail == "written back"
    orders = _erp_orders(erp_url, oid)
    assert len(orders) == 1
    meta = {m["key"]: m["value"] for m in woo.get_order(oid)["meta_data"]}
    assert meta[ERP_NUMBER_META] == orders[0]["number"]
