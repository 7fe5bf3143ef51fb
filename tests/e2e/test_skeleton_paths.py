"""The two paths of the skeleton, end to end with real processes: ERP product → Woo by the
beat-scheduled poll, and a Woo checkout → exactly one ERP sales order, written back."""
from __future__ import annotations

import pytest
import requests

from connector.sync.webhook_setup import ensure_webhooks
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_orders, woo_client
from tests.support.deliveries import DEFAULT_SECRET
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e


def test_erp_product_reaches_the_shop_through_beat(fleet):
    ErpSandboxAdmin(fleet.erp_url).add_product(
        "MUG-BLUE", name="Blue mug", list_price="12.5", weight_kg="0.400", category_code="KITCHEN",
        description="<p>A blue mug</p>", stock={"MAIN": {"on_hand": 10, "reserved": 2, "safety_stock": 1}})
    fleet.start_worker()
    fleet.start_beat()
    woo = woo_client(fleet)
    product = wait_until(lambda: woo.products_by_sku(["MUG-BLUE"]), 60, 0.5, "MUG-BLUE in the shop")[0]
    assert product["name"] == "Blue mug"
    assert product["regular_price"] == "12.50"
    assert product["weight"] == "0.4"
    assert product["status"] == "publish"
    assert {m["key"]: m["value"] for m in product["meta_data"]}["_erp_category"] == "KITCHEN"
    wait_until(lambda: woo.products_by_sku(["MUG-BLUE"])[0]["stock_quantity"] == 7, 60, 0.5,
               "web stock 10 - 2 - 1 = 7")


def test_checkout_creates_exactly_one_erp_order_and_writes_back(fleet):
    ErpSandboxAdmin(fleet.erp_url).add_product("TEE-RED-M", name="Red tee M", list_price="19.90",
                                               stock={"MAIN": {"on_hand": 50, "reserved": 0, "safety_stock": 0}})
    fleet.start_worker()
    fleet.start_beat()
    woo = woo_client(fleet)
    wait_until(lambda: woo.products_by_sku(["TEE-RED-M"]), 60, 0.5, "TEE-RED-M in the shop")
    ensure_webhooks(woo, fleet.shim_url + "/webhooks/woocommerce", DEFAULT_SECRET, ("order.created", "order.updated"))
    r = requests.post(f"{fleet.woo_url}/_sandbox/checkout", timeout=10,
                      json={"lines": [{"sku": "TEE-RED-M", "quantity": 2}], "customer_id": 0,
                            "email": "buyer@example.com"})
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    ref = f"WC-ORDER-{order_id}"
    wait_until(lambda: erp_orders(fleet, ref), 60, 0.5, f"{ref} in the ERP")

    def written_back():
        meta = {m["key"]: m["value"] for m in woo.get_order(order_id)["meta_data"]}
        return meta.get("_erp_order_number")
    number = wait_until(written_back, 60, 0.5, "ERP number written back to Woo")
    orders = erp_orders(fleet, ref)
    assert len(orders) == 1
    assert orders[0]["number"] == number
    assert [(li["sku"], li["quantity"]) for li in orders[0]["lines"]] == [("TEE-RED-M", 2)]
    assert sum(number in n["note"] for n in woo.order_notes(order_id)) == 1
