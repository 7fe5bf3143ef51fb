"""WooCommerce moves its own stock: a sale lowers it, a cancel raises it again. When that happens between two
inventory polls, the figure wooerp last wrote is no longer what the shop shows, and the next poll must not
skip the SKU as "unchanged" (issue 19, finding F8). Each sibling of the fault, importer and inventory poll
against both sandboxes over HTTP and a real database: after the next poll the shop shows the web stock again
(ERP on hand − reserved − holds), not the figure it was left at until the nightly resync."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from connector import binding, dead_letters, holds
from connector.erp.rest import RestErp
from connector.settings import SANDBOX_ERP_TOKEN, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, load
from connector.sync import order_state as st
from connector.sync.inventory import InventorySync
from connector.sync.orders import OrderImporter
from connector.sync.streams import poll_inventory
from connector.woo.client import WooClient
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin

SKU = "MOVE-1"


class Shop:
    """One product, 10 units in the ERP's MAIN warehouse, written to the shop by a first inventory poll."""

    def __init__(self, db, woo_url: str, erp_url: str):
        self.db = db
        self.woo = WooClient(woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)
        self.woo_admin, self.erp_admin = WooSandboxAdmin(woo_url), ErpSandboxAdmin(erp_url)
        self.woo_admin.reset()
        self.erp_admin.reset()
        self.erp = RestErp(erp_url, SANDBOX_ERP_TOKEN, timeout=10)
        self.erp_admin.add_product(SKU, name=SKU, list_price="10.00", stock={"MAIN": {"on_hand": 10}})
        self.erp_admin.add_product("MOVE-OTHER", name="other", list_price="5.00", stock={"MAIN": {"on_hand": 3}})
        product = self.woo.call("POST", "products", {"name": SKU, "sku": SKU, "regular_price": "10.00",
                                                     "manage_stock": True, "stock_quantity": 0})[0]
        erp_id = next(p["id"] for p in self.erp.list_products(None, None, 50).items if p["sku"] == SKU)
        binding.bind(db, binding.PRODUCT, erp_id, product["id"], sku=SKU)
        self.inventory = InventorySync(db, self.woo, ("MAIN",))
        self.importer = OrderImporter(db, self.woo, self.erp, import_statuses=("processing", "on-hold"),
                                      currencies=("EUR",))
        # no overlap: a poll reads only rows the ERP changed since the last one (with the overlap, a SKU
        # changed a moment ago would be pushed again anyway and hide a missing push)
        settings = load({"DATABASE_URL": db.url, "POLL_OVERLAP_SECONDS": "0"})
        self.services = SimpleNamespace(db=db, erp=self.erp, inventory=self.inventory, settings=settings)
        self.writes: list[int] = []  # Woo write calls of each push
        self.poll()
        assert self.stock() == 10

    def poll(self) -> None:
        """One run of the inventory poll; its pushes run at once (the task would run them a moment later)."""
        def push(skus):
            self.writes.append(self.inventory.push(skus))
        poll_inventory(self.services, push_stock=push)

    def stock(self) -> int:
        return self.woo.products_by_sku([SKU])[0]["stock_quantity"]

    def order(self, quantity: int = 1, arrived: bool = True) -> int:
        """A checkout in the shop; `arrived`: its webhook reached the shim, which holds its units."""
        order = self.woo_admin.checkout([{"sku": SKU, "quantity": quantity}])
        if arrived:
            assert holds.hold_on_arrival(self.db, order["id"], holds.demand(order))
        return order["id"]

    def erp_order(self, oid: int) -> dict:
        (found,) = self.erp.find_sales_orders(f"WC-ORDER-{oid}")
        return found


@pytest.fixture
def shop(db, sandboxes):
    return Shop(db, *sandboxes)


def test_an_order_the_erp_reserves_and_releases_between_two_polls(shop):
    """The reproduction: 10 written; a sale (shop 9) imported, reserved and cancelled in the ERP before the next
    poll, which reads 10 again: the same figure as last written, yet the shop shows 9."""
    oid = shop.order()
    assert shop.stock() == 9
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    shop.erp.cancel_sales_order(shop.erp_order(oid)["id"])  # the ERP ends it: 10 available again
    shop.poll()
    assert shop.stock() == 10


def test_a_full_refund_without_restock_before_shipment(shop):
    """The shop keeps its stock lowered (no restock), the ERP order is cancelled, its reservation released."""
    oid = shop.order()
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    total = shop.woo.get_order(oid)["total"]
    shop.woo.call("POST", f"orders/{oid}/refunds", {"amount": total, "api_refund": False, "api_restock": False})
    assert shop.woo.get_order(oid)["status"] == "refunded"
    assert shop.importer.run(oid).state == st.CANCELLED
    assert shop.stock() == 9
    shop.poll()
    assert shop.stock() == 10


def test_an_order_trashed_before_import_releases_its_hold_and_the_next_poll_pushes(shop):
    """No ERP change at all: only the hold goes, and a trashed order does not restock in WooCommerce."""
    oid = shop.order()
    shop.woo.call("DELETE", f"orders/{oid}")
    assert shop.importer.run(oid).state == st.CANCELLED
    assert shop.stock() == 9 and holds.totals(shop.db)["units"] == 0
    shop.poll()
    assert shop.stock() == 10
    assert binding.stock_due(shop.db) == []  # pushed once, no longer due
    shop.writes.clear()
    shop.poll()
    assert sum(shop.writes) == 0  # nothing left to write


def test_a_discarded_dead_letter_releases_its_hold_and_the_next_poll_pushes(shop):
    oid = shop.order(quantity=2)
    assert shop.stock() == 8
    letter_id, _ = dead_letters.record(shop.db, dead_letters.Letter(
        task_id="t-move", attempt_key="0", task_name=dead_letters.IMPORT_ORDER_TASK, args=[oid], kwargs={},
        queue="orders", correlation_id=None, retries=0, exc_type="PermanentError", exc_message="500",
        traceback=None, resource=dead_letters.order_resource(oid)))
    assert dead_letters.discard(shop.db, letter_id, "a test order", by="ops@host")
    shop.poll()
    assert shop.stock() == 10


def test_a_cancel_after_shipment_restocks_the_shop_but_not_the_erp(shop):
    """WooCommerce puts the unit back on sale by itself; the ERP shipped it (a person must decide): the
    shop must not offer the unit the ERP no longer has."""
    oid = shop.order()
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    shop.erp_admin.ship_order(shop.erp_order(oid)["id"])
    shop.poll()
    assert shop.stock() == 9
    shop.woo.update_order(oid, {"status": "cancelled"})
    assert shop.stock() == 10  # WooCommerce restocked
    assert shop.importer.run(oid).state == st.ATTENTION
    shop.poll()
    assert shop.stock() == 9


def test_a_sale_imported_as_usual_costs_no_extra_stock_write(shop):
    """The common path: a sale, its import and the ERP's reservation read by the next poll: one write (the
    figure after the sale, as before), then nothing more."""
    oid = shop.order()
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    shop.writes.clear()
    shop.poll()
    assert shop.stock() == 9 and sum(shop.writes) == 1
    shop.poll()
    assert sum(shop.writes) == 1 and binding.stock_due(shop.db) == []
    written = binding.get(shop.db, binding.STOCK, [SKU])[SKU].sync_hash
    assert written == "9"
