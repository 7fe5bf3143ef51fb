"""Stock never re-offers units sold in the shop and not yet reserved by the ERP: a quarantined order
holds its 5 units through an ERP stock change and `wooerp sync full`; once `wooerp orders retry` has
imported it, the ERP reserves them, the hold is gone and the shop stays right."""
from __future__ import annotations

import subprocess

import pytest

from connector import holds
from connector.models import OrderSync
from connector.services import Services
from connector.settings import load
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin
from tests.e2e.test_orders_exactly_once import imported_once
from tests.e2e.test_reconcile import all_items, sync_catalog
from tests.support.fleet import BIN

pytestmark = pytest.mark.e2e


def wooerp(fleet, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "wooerp"), *args], env=fleet.env, capture_output=True, text=True, timeout=120)


def test_a_quarantined_order_holds_its_units_through_a_full_resync_until_imported(fleet):
    erp, woo_admin = ErpSandboxAdmin(fleet.erp_url), WooSandboxAdmin(fleet.woo_url)
    erp.add_product("HOLD-1", name="Held", list_price="10.00",
                    stock={"MAIN": {"on_hand": 50, "reserved": 2, "safety_stock": 1},
                           "STORE2": {"on_hand": 4, "reserved": 0, "safety_stock": 0}})
    s = Services(load(fleet.env))
    sync_catalog(s)
    shop_stock = lambda: s.woo.products_by_sku(["HOLD-1"])[0]["stock_quantity"]  # noqa: E731
    assert shop_stock() == 51
    s.woo.batch_products(create=[{"sku": "GHOST-2", "name": "Ghost", "regular_price": "5.00"}])  # shop only
    order = woo_admin.checkout([{"sku": "HOLD-1", "quantity": 5}, {"sku": "GHOST-2", "quantity": 1}])
    assert shop_stock() == 46                                   # the shop sold 5
    s.orders.run(order["id"])                                   # the ERP does not know GHOST-2
    with s.db.session() as db:
        assert db.get(OrderSync, order["id"]).state == "quarantined"
    assert holds.totals(s.db) == {"orders": 1, "units": 6}

    erp.set_stock("HOLD-1", "MAIN", on_hand=70, reserved=2, safety_stock=1)  # ERP web stock 67 + 4 = 71
    s.inventory.record(all_items(s.erp.list_inventory))         # what the stock poll stores
    resync = wooerp(fleet, "sync", "full")
    assert resync.returncode == 0, resync.stderr
    assert "stock    HOLD-1: shop had 46, ERP says 66" in resync.stdout
    assert shop_stock() == 71 - 5                               # never the 5 sold units again
    status = wooerp(fleet, "status")
    assert "stock held  6 units for 1 orders not yet reserved in the ERP" in status.stdout, status.stdout + status.stderr

    erp.add_product("GHOST-2", name="Ghost", list_price="5.00")  # the cause fixed
    fleet.start_worker(queues="orders")
    retry = wooerp(fleet, "orders", "retry", str(order["id"]))
    assert retry.returncode == 0, retry.stderr
    erp_order = imported_once(fleet, order["id"])
    assert erp_order["warehouse"] == "MAIN"
    assert holds.totals(s.db) == {"orders": 0, "units": 0}
    rows = {r["warehouse"]: r for r in all_items(s.erp.list_inventory) if r["sku"] == "HOLD-1"}
    assert rows["MAIN"]["reserved"] == 7                        # the ERP counts the order now
    s.inventory.record(list(rows.values()))                     # the stock poll reads the reservation
    assert s.inventory.push(["HOLD-1"]) == 0                    # same figure: nothing to write
    again = wooerp(fleet, "sync", "full")
    assert again.returncode == 0 and "HOLD-1" not in again.stdout, again.stdout
    assert shop_stock() == 66
    s.db.engine.dispose()
