"""A 10,000-product catalog with variants, loaded by real workers into an empty shop, then kept in sync
with the fewest writes the WooCommerce API allows."""
from __future__ import annotations

import math
from collections import Counter

import pytest
import redis

from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_get, woo_client
from tests.support.catalog import settle, woo_stats, write_calls
from tests.support.messages import send

pytestmark = pytest.mark.e2e
VARIANTS_PER_PARENT = 10


def erp_catalog(fleet) -> dict[str, dict]:
    items, cursor = {}, None
    while True:
        page = erp_get(fleet, "/products", limit=500, **({"cursor": cursor} if cursor else {}))
        items.update({p["sku"]: p for p in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return items


def shop_catalog(fleet) -> dict[str, dict]:
    """Every product and variation in the Woo sandbox by SKU, read through its admin listing."""
    woo, found, page = woo_client(fleet), {}, 1
    while True:
        batch = woo.get("products", per_page=100, page=page, status="any")
        for p in batch:
            found[p["sku"]] = p
            if p.get("type") == "variable":
                vpage = 1
                while True:
                    variations = woo.get(f"products/{p['id']}/variations", per_page=100, page=vpage)
                    found.update({v["sku"]: dict(v, parent_id=p["id"]) for v in variations})
                    if len(variations) < 100:
                        break
                    vpage += 1
        if len(batch) < 100:
            return found
        page += 1


def poll_and_settle(fleet, broker) -> dict:
    """Run one product and one stock poll; the Woo write calls they made, by route shape."""
    before = woo_stats(fleet.woo_url)
    send(fleet, "wooerp.catalog.poll_products", on="catalog")
    send(fleet, "wooerp.inventory.poll_inventory", on="inventory")
    settle(fleet.woo_url, broker, timeout=400)
    after = woo_stats(fleet.woo_url)
    writes = Counter()
    for key, n in after.items():
        if n != before.get(key, 0) and key.split(" ")[0] in ("POST", "PUT"):
            writes["variations" if "/variations/batch" in key else key.split("?")[0]] += n - before.get(key, 0)
    assert write_calls(after) - write_calls(before) == sum(writes.values())
    return writes


def test_ten_thousand_products_with_variants_load_then_cost_only_what_changed(fleet_factory):
    fleet = fleet_factory(PRODUCT_POLL_SECONDS="3600", INVENTORY_POLL_SECONDS="3600", ORDER_POLL_SECONDS="3600",
                          LOG_LEVEL="WARNING")
    erp = ErpSandboxAdmin(fleet.erp_url)
    seeded = erp.seed(products=10_000, variants_per_parent=VARIANTS_PER_PARENT, seed=11)
    parents = seeded["parents"]
    assert parents > 100
    fleet.start_worker(name="w1", queues="catalog,inventory", concurrency=2)
    fleet.start_worker(name="w2", queues="catalog,inventory", concurrency=2)
    broker = redis.Redis.from_url(fleet.env["REDIS_URL"])

    initial = poll_and_settle(fleet, broker)
    wanted = erp_catalog(fleet)
    shop = shop_catalog(fleet)
    assert set(shop) == set(wanted)  # every ERP product, parent and variant once in the shop
    variable = [p for p in shop.values() if p.get("type") == "variable"]
    assert len(variable) == parents
    for sku, p in wanted.items():
        if not p.get("is_parent"):
            assert shop[sku]["regular_price"] == p["list_price"], sku
            assert shop[sku]["manage_stock"] is True, sku
    # new products carry their stock: about one products batch per 100 and one variations batch per parent
    simple = 10_000 - parents * VARIANTS_PER_PARENT
    floor = math.ceil((simple + parents) / 100) + parents
    assert sum(initial.values()) <= 1.1 * floor, initial

    assert poll_and_settle(fleet, broker) == Counter()  # nothing changed in the ERP: nothing written

    changed = erp.mutate("price", 100)["changed"]
    by_id = {p["id"]: p for p in erp_catalog(fleet).values()}
    touched_parents = {by_id[i]["parent_id"] for i in changed if by_id[i].get("parent_id")}
    changed_simple = [i for i in changed if not by_id[i].get("parent_id")]
    writes = poll_and_settle(fleet, broker)
    # WooCommerce writes variations only under their parent: one batch per parent touched
    assert writes["variations"] == len(touched_parents)
    assert writes["POST /wp-json/wc/v3/products/batch"] == math.ceil(len(changed_simple) / 100)
    after = shop_catalog(fleet)
    moved = {sku for sku in after if after[sku].get("regular_price") != shop[sku].get("regular_price")}
    assert moved == {by_id[i]["sku"] for i in changed}
