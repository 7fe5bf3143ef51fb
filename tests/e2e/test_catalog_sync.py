"""ERP → shop by beat-scheduled delta polls: mapping, linking, hashing, promotions and web stock."""
from __future__ import annotations

import pytest
import requests

from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import woo_client
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e


def woo_stats(fleet) -> dict:
    return requests.get(f"{fleet.woo_url}/_sandbox/stats", timeout=10).json()["requests"]


def woo_writes(fleet) -> int:
    return sum(n for k, n in woo_stats(fleet).items() if k.split(" ")[0] in ("POST", "PUT"))


def poll_runs(fleet) -> dict[str, int]:
    """How many product and inventory polls have run to their end."""
    return {task: fleet.task_runs(task) for task in ("wooerp.catalog.poll_products", "wooerp.inventory.poll_inventory")}


def test_stock_is_the_web_warehouse_formula_and_clamps_at_zero(fleet):
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.add_product("LAMP-1", name="Lamp", list_price="30.00", stock={
        "MAIN": {"on_hand": 20, "reserved": 3, "safety_stock": 2},      # 15
        "STORE2": {"on_hand": 5, "reserved": 1, "safety_stock": 0},     # 4
        "RETURNS": {"on_hand": 100, "reserved": 0, "safety_stock": 0},  # not a web warehouse
    })
    erp.add_product("LAMP-2", name="Lamp 2", list_price="30.00", stock={
        "MAIN": {"on_hand": 1, "reserved": 4, "safety_stock": 2}})       # -5 -> 0
    fleet.start_worker()
    fleet.start_beat()
    woo = woo_client(fleet)

    def stock(sku):
        found = woo.products_by_sku([sku])
        return found[0]["stock_quantity"] if found and found[0]["manage_stock"] else None
    wait_until(lambda: stock("LAMP-1") == 19, 60, 0.5, "LAMP-1 stock 19")
    wait_until(lambda: stock("LAMP-2") == 0, 60, 0.5, "LAMP-2 stock 0")
    erp.set_stock("LAMP-1", "STORE2", on_hand=9, reserved=1, safety_stock=0)  # one warehouse changes: 15 + 8
    wait_until(lambda: stock("LAMP-1") == 23, 60, 0.5, "LAMP-1 recomputed from all its warehouses")


def test_existing_shop_products_are_linked_and_promotions_survive_price_changes(fleet):
    woo = woo_client(fleet)
    made = woo.batch_products(create=[{"sku": "CHAIR-1", "name": "Old chair name", "regular_price": "99.00",
                                       "sale_price": "79.00"}])["create"][0]
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.add_product("CHAIR-1", name="Chair", list_price="100.00")
    fleet.start_worker()
    fleet.start_beat()
    wait_until(lambda: woo.get_product(made["id"])["name"] == "Chair", 60, 0.5, "the existing product updated")
    assert [p["id"] for p in woo.products_by_sku(["CHAIR-1"])] == [made["id"]]  # linked, not duplicated
    erp.update_product("CHAIR-1", list_price="120.00")
    wait_until(lambda: woo.get_product(made["id"])["regular_price"] == "120.00", 60, 0.5, "new list price")
    product = woo.get_product(made["id"])
    assert product["sale_price"] == "79.00"


def test_a_poll_without_erp_changes_writes_nothing(fleet):
    erp = ErpSandboxAdmin(fleet.erp_url)
    for i in range(5):
        erp.add_product(f"BOOK-{i}", name=f"Book {i}", list_price="9.99",
                        stock={"MAIN": {"on_hand": 3, "reserved": 0, "safety_stock": 0}})
    fleet.start_worker()
    fleet.start_beat()
    woo = woo_client(fleet)
    wait_until(lambda: len(woo.products_by_sku([f"BOOK-{i}" for i in range(5)])) == 5, 60, 0.5, "5 books")
    wait_until(lambda: all(p["stock_quantity"] == 3 for p in woo.products_by_sku([f"BOOK-{i}" for i in range(5)])),
               60, 0.5, "book stock")
    fleet.stop_beat()
    fleet.wait_until_idle()  # the in-flight polls settled
    before, polls = woo_writes(fleet), poll_runs(fleet)
    # two more polls of each stream run to their end against the unchanged ERP; then beat stops and whatever
    # those polls queued has run as well
    fleet.start_beat()
    wait_until(lambda: all(n >= polls[task] + 2 for task, n in poll_runs(fleet).items()), 60, 0.3,
               "two more product and inventory polls")
    fleet.stop_beat()
    fleet.wait_until_idle()
    assert woo_writes(fleet) == before


def test_products_added_after_the_first_load_are_created_with_their_stock_in_one_write(fleet):
    """Once the stock stream has run, a product poll that finds products new to the shop brings the stock
    stream up to date before writing them: they are sellable with their stock at once, and each costs its
    place in one products batch, not a create and then a stock-only write."""
    from tests.support.messages import send
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.add_product("PEN-0", name="Pen 0", list_price="2.50", stock={"MAIN": {"on_hand": 4, "reserved": 0,
                                                                               "safety_stock": 0}})
    fleet.start_worker()
    send(fleet, "wooerp.inventory.poll_inventory", on="inventory")
    send(fleet, "wooerp.catalog.poll_products")
    woo = woo_client(fleet)
    wait_until(lambda: [p["stock_quantity"] for p in woo.products_by_sku(["PEN-0"])] == [4], 60, 0.5, "PEN-0 stock")
    fleet.wait_until_idle()
    for i in range(1, 4):  # new in the ERP with their stock rows, after both streams have run
        erp.add_product(f"PEN-{i}", name=f"Pen {i}", list_price="2.50",
                        stock={"MAIN": {"on_hand": 10 + i, "reserved": 1, "safety_stock": 0}})
    before = woo_stats(fleet)
    send(fleet, "wooerp.catalog.poll_products")  # the product poll alone, as when it runs before the stock poll
    wait_until(lambda: len(woo.products_by_sku([f"PEN-{i}" for i in range(1, 4)])) == 3, 60, 0.5, "3 new pens")
    fleet.wait_until_idle()
    assert {p["sku"]: (p["manage_stock"], p["stock_quantity"]) for p in woo.products_by_sku(
        [f"PEN-{i}" for i in range(1, 4)])} == {f"PEN-{i}": (True, 9 + i) for i in range(1, 4)}
    writes = {k: n - before.get(k, 0) for k, n in woo_stats(fleet).items()
              if k.split(" ")[0] in ("POST", "PUT") and n != before.get(k, 0)}
    assert writes == {"POST /wp-json/wc/v3/products/batch": 1}


def wait_for_a_product_page_checkpoint(fleet) -> None:
    """Until the running product poll has checkpointed a page (and is paging on)."""
    from connector.db import Database
    from connector.models import SyncCursor
    db = Database(fleet.env["DATABASE_URL"])

    def checkpointed():
        with db.session() as s:
            row = s.get(SyncCursor, "products")
            return row is not None and row.page_cursor is not None
    wait_until(checkpointed, 60, 0.2, "a checkpoint after the first page")


def test_a_poll_killed_mid_way_resumes_from_its_checkpoint(fleet_factory):
    fleet = fleet_factory(STREAM_LEASE_SECONDS="6", VISIBILITY_TIMEOUT_SECONDS="20", RETRY_BACKOFF_MAX_SECONDS="4",
                          ORDER_LEASE_SECONDS="8", PRODUCT_POLL_SECONDS="3")
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.seed(products=600, seed=7)
    erp.set_faults([{"method": "GET", "path": "/api/v1/products", "kind": "latency", "ms": 1500, "rate": 1.0}])
    worker = fleet.start_worker()
    fleet.start_beat()
    wait_for_a_product_page_checkpoint(fleet)
    worker.kill_group()
    erp.clear_faults()
    fleet.start_worker(name="worker2")
    wait_until(lambda: '"resumed": true' in (fleet.logs / "worker2.log").read_text(), 60, 0.5,
               "a poll resumed from the checkpoint")
    woo = woo_client(fleet)
    skus = [p["sku"] for p in _erp_products(fleet)]
    assert len(skus) >= 600

    def all_in_shop():
        found = 0
        for i in range(0, len(skus), 100):
            found += len(woo.products_by_sku(skus[i:i + 100]))
        return found >= len(skus)
    wait_until(all_in_shop, 120, 2, "every ERP product in the shop")


def _erp_products(fleet) -> list[dict]:
    from tests.e2e.conftest import erp_get
    items, cursor = [], None
    while True:
        page = erp_get(fleet, "/products", limit=500, **({"cursor": cursor} if cursor else {}))
        items += [p for p in page["items"] if not p.get("is_parent")]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_parents_become_variable_products_and_variants_their_variations(fleet):
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.add_product("HOODIE", name="Hoodie", is_parent=True)
    for color, size, qty in (("Blue", "L", 4), ("Blue", "M", 6), ("Red", "L", 0)):
        erp.add_product(f"HOODIE-{color}-{size}", name=f"Hoodie {color} {size}", list_price="45.00",
                        parent_sku="HOODIE", attributes={"color": color, "size": size},
                        stock={"MAIN": {"on_hand": qty, "reserved": 0, "safety_stock": 0}})
    fleet.start_worker()
    fleet.start_beat()
    woo = woo_client(fleet)
    skus = ["HOODIE-Blue-L", "HOODIE-Blue-M", "HOODIE-Red-L"]
    variations = wait_until(lambda: len(woo.products_by_sku(skus)) == 3 and woo.products_by_sku(skus), 60, 0.5,
                            "three variations")
    parent_ids = {v["parent_id"] for v in variations}
    assert len(parent_ids) == 1 and all(v["type"] == "variation" for v in variations)
    parent = woo.get_product(parent_ids.pop())
    assert parent["type"] == "variable" and parent["sku"] == "HOODIE"
    attrs = {a["name"]: sorted(a["options"]) for a in parent["attributes"]}
    assert attrs == {"Color": ["Blue", "Red"], "Size": ["L", "M"]}
    assert {v["sku"]: v["regular_price"] for v in variations} == dict.fromkeys(skus, "45.00")
    wait_until(lambda: {v["sku"]: v["stock_quantity"] for v in woo.products_by_sku(skus)} ==
               {"HOODIE-Blue-L": 4, "HOODIE-Blue-M": 6, "HOODIE-Red-L": 0}, 60, 0.5, "variation stock")


def test_full_resync_repairs_a_product_edited_by_hand_in_the_shop(fleet):
    import subprocess
    import sys

    from tests.support.procs import ROOT
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.add_product("DESK-1", name="Desk", list_price="250.00",
                    stock={"MAIN": {"on_hand": 8, "reserved": 0, "safety_stock": 0}})
    erp.add_product("DESK-2", name="Desk 2", list_price="199.00",
                    stock={"MAIN": {"on_hand": 2, "reserved": 0, "safety_stock": 0}})
    fleet.start_worker()
    fleet.start_beat()
    woo = woo_client(fleet)
    wait_until(lambda: {p["sku"]: p["stock_quantity"] for p in woo.products_by_sku(["DESK-1", "DESK-2"])}
               == {"DESK-1": 8, "DESK-2": 2}, 60, 0.5, "desks in the shop with stock")
    fleet.stop_beat()
    fleet.wait_until_idle()
    desk = woo.products_by_sku(["DESK-1"])[0]
    woo.batch_products(update=[{"id": desk["id"], "name": "Desk (edited)", "regular_price": "1.00",
                                "sale_price": "0.50", "manage_stock": True, "stock_quantity": 99}])
    out = subprocess.run([sys.executable, "-m", "ops.cli", "sync", "full"], cwd=ROOT, env=fleet.env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "repaired DESK-1: name, regular_price" in out.stdout
    assert "stock    DESK-1: shop had 99, ERP says 8" in out.stdout
    assert "DESK-2" not in out.stdout
    fixed = woo.get_product(desk["id"])
    assert (fixed["name"], fixed["regular_price"], fixed["stock_quantity"]) == ("Desk", "250.00", 8)
    assert fixed["sale_price"] == "0.50"  # a promotion is the shop's own, not drift


def test_a_product_changed_in_the_erp_while_the_poll_pages_reaches_the_shop(fleet_factory):
    fleet = fleet_factory(PRODUCT_POLL_SECONDS="3")
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.seed(products=1200, seed=5)  # three pages of 500
    first = _erp_products(fleet)[0]  # on the first page
    erp.set_faults([{"method": "GET", "path": "/api/v1/products", "kind": "latency", "ms": 1500, "rate": 1.0}])
    fleet.start_worker()
    fleet.start_beat()
    wait_for_a_product_page_checkpoint(fleet)
    erp.update_product(first["sku"], list_price="777.77")  # behind the cursor now
    erp.clear_faults()
    woo = woo_client(fleet)

    def shop_price():
        found = woo.products_by_sku([first["sku"]])
        return found[0]["regular_price"] if found else None
    wait_until(lambda: shop_price() == "777.77", 90, 1, "the change made while paging in the shop")
