"""The shop's stock after an order's life moved it, tester inputs of session 5 (findings 1, 2 and 6), importer
and inventory poll against both sandboxes over HTTP and a real database. After the next inventory poll the
shop shows the web stock: Σ (on_hand − reserved − safety) of the ERP − units held for orders the ERP does
not count; and the ERP's credit notes restock what the shop restocked."""
from __future__ import annotations

import pytest

from connector import binding, holds
from connector.erp.rest import RestErp
from connector.settings import SANDBOX_ERP_TOKEN
from connector.sync import order_state as st
from tests.integration.test_stock_moved_by_shop import SKU, Shop

VARIABLE, SMALL, XSMALL = "GAR-T", "GAR-T-NAVY-S", "GAR-T-NAVY-XS"


@pytest.fixture
def shop(db, sandboxes):
    return Shop(db, *sandboxes)


def web(shop: Shop, sku: str = SKU) -> int:
    """What the shop must show, from the ERP's rows read now (not our stored copy) less the units held."""
    (row,) = [r for r in shop.erp.list_inventory(None, None, 500).items if r["sku"] == sku and r["warehouse"] == "MAIN"]
    with shop.db.session() as s:
        held = holds.held(s, [sku]).get(sku, 0)
    return max(0, row["on_hand"] - row["reserved"] - row["safety_stock"] - held)


def refund(shop: Shop, oid: int, quantity: int, *, restock: bool, sku: str = SKU) -> dict:
    """A refund of `quantity` units of the order's `sku` line, with its tax when the order has any."""
    order = shop.woo.get_order(oid)
    line = next(li for li in order["line_items"] if li["sku"] == sku)
    unit_net = float(line["total"]) / line["quantity"]
    unit_tax = float(line["total_tax"]) / line["quantity"]
    item = {"id": line["id"], "quantity": quantity, "refund_total": f"{unit_net * quantity:.2f}"}
    if order.get("tax_lines"):
        item["refund_tax"] = [{"id": order["tax_lines"][0]["rate_id"], "refund_total": f"{unit_tax * quantity:.2f}"}]
    return shop.woo.call("POST", f"orders/{oid}/refunds", {"api_refund": False, "api_restock": restock,
                                                           "line_items": [item]})[0]


def credit_notes(shop: Shop, oid: int) -> dict[str, dict]:
    return {n["external_ref"]: n for n in shop.erp.find_credit_notes(sales_order_id=shop.erp_order(oid)["id"])}


# -- finding 1: two refunds followed together ------------------------------------------------------------
@pytest.mark.parametrize("bought, kept, back", [(4, 1, 3), (3, 1, 2)])
def test_two_refunds_followed_together_restock_the_one_the_shop_restocked(shop, bought, kept, back):
    """Order of `bought` units imported; one refund of `kept` units without restock, then one of `back` units
    with restock, both followed by the same run: only the second credit note restocks (its units withdrawn
    from the ERP order), and shop and web agree on 10 − kept."""
    oid = shop.order(quantity=bought)
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    shop.poll()
    assert shop.stock() == 10 - bought
    first = refund(shop, oid, kept, restock=False)
    second = refund(shop, oid, back, restock=True)
    assert shop.stock() == 10 - kept  # WooCommerce put the restocked units back by itself
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    notes = credit_notes(shop, oid)
    assert notes[f"WC-REFUND-{first['id']}"]["restock"] is False
    assert notes[f"WC-REFUND-{second['id']}"]["restock"] is True
    shop.poll()
    assert shop.stock() == web(shop) == 10 - kept


# -- finding 2: the shop moved its own stock while the ERP did not follow ----------------------------------
@pytest.mark.parametrize("shipped", [1, 2])
def test_a_cancel_after_partial_or_full_shipment_is_corrected_at_the_next_poll(shop, shipped):
    """2 sold, `shipped` of them shipped by the ERP; the shop cancels and puts both back (10). The ERP still
    ships or shipped them: the shop must go back to 8."""
    oid = shop.order(quantity=2)
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    shop.erp_admin.ship_order(shop.erp_order(oid)["id"], [{"sku": SKU, "quantity": shipped}])
    shop.poll()
    assert shop.stock() == 8
    shop.woo.update_order(oid, {"status": "cancelled"})
    assert shop.stock() == 10
    assert shop.importer.run(oid).state == st.ATTENTION
    shop.poll()
    assert shop.stock() == web(shop) == 8


def test_an_imported_order_set_back_to_pending_is_corrected_at_the_next_poll(shop):
    """Payment reversed: WooCommerce puts the 3 units back (10) while the ERP order still reserves them."""
    oid = shop.order(quantity=3)
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    shop.poll()
    assert shop.stock() == 7
    shop.woo.update_order(oid, {"status": "pending"})
    assert shop.stock() == 10
    assert shop.importer.run(oid).state == st.ATTENTION
    shop.poll()
    assert shop.stock() == web(shop) == 7


@pytest.mark.parametrize("end, reopen", [("trash", "restore"), ("cancelled", "processing")])
def test_an_order_reopened_after_its_erp_order_was_cancelled_holds_its_units(shop, end, reopen):
    """Trashed (or cancelled) after import: ERP order cancelled, its 2 units offered again. Then restored from
    the trash (or reopened) to processing in the shop: not revived in the ERP, yet its 2 units are sold. It
    holds them until it ends in the shop."""
    oid = shop.order(quantity=2)
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    shop.poll()
    if end == "trash":
        shop.woo.call("DELETE", f"orders/{oid}")
    else:
        shop.woo.update_order(oid, {"status": "cancelled"})
    assert shop.importer.run(oid).state == st.CANCELLED and shop.erp_order(oid)["status"] == "cancelled"
    shop.poll()
    assert shop.stock() == 10  # ended: its units are offered again
    if reopen == "restore":
        shop.woo_admin.restore(oid)  # WooCommerce does not lower its stock again
    else:
        shop.woo.update_order(oid, {"status": reopen})  # WooCommerce lowers its stock again
    report = shop.importer.run(oid)
    assert report.state == st.ATTENTION and "not revived" in report.detail
    shop.poll()
    assert shop.stock() == web(shop) == 8
    shop.writes.clear()
    assert shop.importer.run(oid).state == st.ATTENTION  # a repeat changes nothing, writes nothing
    shop.poll()
    assert shop.stock() == 8 and sum(shop.writes) == 0
    shop.woo.update_order(oid, {"status": "cancelled"})  # the shop ends it after all: its units come back
    assert shop.stock() == 10
    assert shop.importer.run(oid).state == st.CANCELLED
    shop.poll()
    assert shop.stock() == web(shop) == 10 and holds.totals(shop.db)["units"] == 0


def test_an_order_whose_erp_order_is_cancelled_in_the_erp_holds_its_units_while_live_in_the_shop(shop):
    oid = shop.order(quantity=2)
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    shop.poll()
    shop.erp.cancel_sales_order(shop.erp_order(oid)["id"])
    shop.woo.update_order(oid, {"customer_note": "ring twice"})  # any change: the importer follows the order
    report = shop.importer.run(oid)
    assert report.state == st.ATTENTION and "not revived" in report.detail
    shop.poll()
    assert shop.stock() == web(shop) == 8


# -- finding 6: a restocking refund before import ------------------------------------------------------------
def test_a_restocking_refund_of_a_quarantined_order_lowers_its_hold(shop):
    """3 sold on an order the ERP cannot take (bad e-mail: quarantined, holding 3); 1 refunded with restock
    (WooCommerce puts it back: 8). The order holds 2 now: the shop shows 10 − 2."""
    order = shop.woo_admin.checkout([{"sku": SKU, "quantity": 3}], email="bad2@")
    oid = order["id"]
    assert holds.hold_on_arrival(shop.db, oid, holds.demand(order))
    assert shop.importer.run(oid).state == st.QUARANTINED
    shop.poll()
    assert shop.stock() == 7
    refund(shop, oid, 1, restock=True)
    assert shop.stock() == 8
    assert shop.importer.run(oid).state == st.QUARANTINED
    shop.poll()
    assert shop.stock() == web(shop) == 8
    refund(shop, oid, 1, restock=False)  # not restocked: the hold stays
    shop.importer.run(oid)
    shop.poll()
    assert shop.stock() == web(shop) == 8


# -- the same on variations (the tester saw it on GAR-…-NAVY-S) --------------------------------------------
def _variations(shop: Shop) -> dict[str, int]:
    """A variable product GAR-T with NAVY-S and NAVY-XS, 10 of each in the ERP, bound and written to the shop."""
    shop.erp_admin.add_product(VARIABLE, name="T-shirt", list_price="20.00", is_parent=True)
    parent = shop.woo.call("POST", "products", {"name": "T-shirt", "sku": VARIABLE, "type": "variable",
                                                "attributes": [{"name": "Size", "variation": True,
                                                                "options": ["S", "XS"]}]})[0]
    ids = {}
    for sku, size in ((SMALL, "S"), (XSMALL, "XS")):
        shop.erp_admin.add_product(sku, name=sku, list_price="20.00", parent_sku=VARIABLE,
                                   stock={"MAIN": {"on_hand": 10}})
        variation = shop.woo.call("POST", f"products/{parent['id']}/variations",
                                  {"sku": sku, "regular_price": "20.00", "manage_stock": True, "stock_quantity": 0,
                                   "attributes": [{"name": "Size", "option": size}]})[0]
        erp_id = shop.erp.products_by_sku([sku])[0]["id"]
        binding.bind(shop.db, binding.VARIATION, erp_id, variation["id"], sku=sku, woo_parent_id=parent["id"])
        ids[sku] = variation["id"]
    shop.poll()
    return ids


def test_variations_follow_a_line_swap_a_restocking_refund_and_a_restore(shop):
    ids = _variations(shop)

    def stock(sku):
        return next(v["stock_quantity"] for v in shop.woo.products_by_sku([sku]) if v["id"] == ids[sku])
    assert stock(SMALL) == stock(XSMALL) == 10
    order = shop.woo_admin.checkout([{"sku": SMALL, "quantity": 1}])
    oid = order["id"]
    assert holds.hold_on_arrival(shop.db, oid, holds.demand(order))
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    shop.poll()
    assert (stock(SMALL), stock(XSMALL)) == (9, 10)
    line = shop.woo.get_order(oid)["line_items"][0]
    shop.woo.update_order(oid, {"line_items": [{"id": line["id"], "quantity": 0},
                                               {"variation_id": ids[XSMALL], "quantity": 2}]})  # S swapped for 2 XS
    report = shop.importer.run(oid)
    assert report.state == st.WRITTEN_BACK and "lines" in report.detail
    shop.poll()
    assert (stock(SMALL), stock(XSMALL)) == (web(shop, SMALL), web(shop, XSMALL)) == (10, 8)
    refund(shop, oid, 1, restock=True, sku=XSMALL)
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    shop.poll()
    assert (stock(SMALL), stock(XSMALL)) == (web(shop, SMALL), web(shop, XSMALL)) == (10, 9)
    shop.woo.call("DELETE", f"orders/{oid}")
    assert shop.importer.run(oid).state == st.CANCELLED
    shop.poll()
    assert stock(XSMALL) == 10
    shop.woo_admin.restore(oid)
    assert shop.importer.run(oid).state == st.ATTENTION
    shop.poll()
    assert (stock(SMALL), stock(XSMALL)) == (web(shop, SMALL), web(shop, XSMALL)) == (10, 9)


class UncountingErp(RestErp):
    """The reference ERP, adapted as an ERP whose stock counts a sale only once it ships (Tryton's `quantity`
    stock basis): the importer keeps the order's holds after import."""

    def reservation(self, order):
        return super().reservation(order) if order.get("status") == "shipped" else None


@pytest.fixture
def uncounting(shop, sandboxes):
    shop.importer.erp = shop.importer.customers.erp = UncountingErp(sandboxes[1], SANDBOX_ERP_TOKEN, timeout=10)
    return shop


def test_an_order_the_erp_does_not_count_yet_follows_a_restocking_refund_and_a_cancel(uncounting):
    """Held after import (the ERP does not count it yet): a restocking refund lowers the hold, a cancel in the
    shop releases it (its ERP order cancelled, nothing left to hand over); the shop ends at the web stock."""
    shop = uncounting
    oid = shop.order(quantity=3)
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    assert holds.totals(shop.db)["units"] == 3
    refund(shop, oid, 1, restock=True)
    assert shop.importer.run(oid).state == st.WRITTEN_BACK
    assert holds.totals(shop.db)["units"] == 2
    shop.poll()
    assert shop.stock() == web(shop)
    shop.woo.update_order(oid, {"status": "cancelled"})
    assert shop.importer.run(oid).state == st.CANCELLED
    assert holds.totals(shop.db)["units"] == 0
    shop.poll()
    assert shop.stock() == web(shop) == 10
