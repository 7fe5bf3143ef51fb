"""The product, stock, order and shipment paths against a real Tryton server (ERP_KIND=tryton).

Each test starts trytond on its own copy of sandbox/tryton's demo database, then the usual fleet (Woo
sandbox, shim under gunicorn, celery worker and beat) configured with the Tryton adapter.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import woo_client
from tests.e2e.test_orders_exactly_once import checkout
from tests.support.deliveries import deliver
from tests.support.procs import wait_until
from tests.support.tryton import TrytonAdmin

pytestmark = pytest.mark.e2e


def _meta(product: dict) -> dict:
    return {m["key"]: m["value"] for m in product["meta_data"]}


def test_tryton_products_and_stock_reach_the_shop_and_follow_changes(fleet_factory):
    fleet = fleet_factory(erp="tryton")
    fleet.start_worker()
    fleet.start_beat()
    woo, tryton = woo_client(fleet), TrytonAdmin(fleet.tryton)

    mug = wait_until(lambda: woo.products_by_sku(["MUG-BLUE"]), 90, 0.5, "MUG-BLUE in the shop")[0]
    assert (mug["name"], mug["type"], mug["regular_price"], mug["status"]) == ("Blue mug", "simple", "12.50", "publish")
    assert _meta(mug)["_erp_category"] == "KITCHEN"
    # web stock = Σ over MAIN and STORE2 of on hand − reserved − safety stock
    wait_until(lambda: woo.products_by_sku(["MUG-BLUE"])[0]["stock_quantity"] == 14, 60, 0.5, "MUG-BLUE stock 10 + 4")

    tee = wait_until(lambda: woo.products_by_sku(["TEE"]), 60, 0.5, "the T-shirt template as a variable product")[0]
    assert tee["type"] == "variable"
    skus = ["TEE-RED-M", "TEE-RED-L", "TEE-BLUE-M"]
    wait_until(lambda: len(woo.products_by_sku(skus)) == 3, 60, 0.5, "the three variants as variations")
    by_sku = {v["sku"]: v for v in woo.products_by_sku(skus)}
    assert {v["parent_id"] for v in by_sku.values()} == {tee["id"]}
    assert {a["name"]: a["option"] for a in by_sku["TEE-RED-L"]["attributes"]} == {"Color": "red", "Size": "L"}
    assert by_sku["TEE-RED-L"]["regular_price"] == "19.90"
    wait_until(lambda: woo.products_by_sku(["TEE-RED-L"])[0]["stock_quantity"] == 23, 60, 0.5, "TEE-RED-L 20 + 3")

    tryton.set_price("MUG-BLUE", "13.40")  # delta polls: a template change and a stock move
    tryton.receive("MUG-BLUE", "STORE2", 5)
    wait_until(lambda: woo.products_by_sku(["MUG-BLUE"])[0]["regular_price"] == "13.40", 60, 0.5, "new price")
    wait_until(lambda: woo.products_by_sku(["MUG-BLUE"])[0]["stock_quantity"] == 19, 60, 0.5, "stock 14 + 5")


def test_tryton_order_delivered_three_times_is_one_sale_and_its_shipment_completes_the_order(fleet_factory):
    fleet = fleet_factory(erp="tryton", SHIPMENT_POLL_SECONDS="2")
    woo, tryton = woo_client(fleet), TrytonAdmin(fleet.tryton)
    answer = woo.batch_products(create=[{"sku": sku, "name": name, "regular_price": price} for sku, name, price in
                                        (("MUG-BLUE", "Blue mug", "12.50"), ("CAP-GREY", "Grey cap", "15.00"))])
    assert all("error" not in item for item in answer["create"]), answer
    fleet.start_worker(concurrency=3)
    fleet.start_beat()
    order = checkout(fleet, lines=[{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "CAP-GREY", "quantity": 1}],
                     email="tryton.buyer@example.com")
    ref = f"WC-ORDER-{order['id']}"
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: deliver(fleet.shim_url, order, "order.created"), range(3)))
    assert all(a.status_code == 200 for a in answers)

    def written_back():
        return _meta(woo.get_order(order["id"])).get("_erp_order_number")
    number = wait_until(written_back, 90, 0.5, f"{ref}'s Tryton number written back")
    fleet.stop_beat()
    fleet.wait_until_idle()  # any straggling duplicate import (and the order poll) finished before counting
    sales = tryton.sales(ref)
    assert len(sales) == 1, sales
    sale = sales[0]
    assert (sale["number"], sale["reference"]) == (number, ref)
    assert sale["state"] in ("confirmed", "processing")  # confirmed; processing once its shipment exists
    products = sorted((li["product."]["code"], li["quantity"], str(li["unit_price"])) for li in sale["lines."]
                      if li.get("product."))
    assert products == [("CAP-GREY", 1.0, "15.00"), ("MUG-BLUE", 2.0, "12.50")]
    assert len(tryton.parties_with_email("tryton.buyer@example.com")) == 1
    assert sum(number in n["note"] for n in woo.order_notes(order["id"])) == 1

    fleet.start_beat()  # the shipment poll
    wait_until(lambda: tryton.sales(ref)[0]["shipments"], 30, 0.5, "the sale's shipment in Tryton")
    tryton.ship(sale["id"], reference="TRACK-0001")
    wait_until(lambda: woo.get_order(order["id"])["status"] == "completed", 60, 0.5, "order completed")
    notes = [n["note"] for n in woo.order_notes(order["id"]) if n["note"].startswith("Shipped ")]
    assert len(notes) == 1 and "tracking TRACK-0001" in notes[0], notes
