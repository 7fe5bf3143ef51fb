"""Product writes and the stock owner (connector/sync/inventory.py) against an in-memory shop and ERP: a
new product is created with its web stock in the same batch call, a product write carries stock only
when the figure differs from what that shop record last got, and what a product write carried is what
the stock push then knows was written (no second write of the same figure)."""
from __future__ import annotations

from connector.sync.inventory import InventorySync
from connector.sync.products import ProductSync

WEB = ("MAIN", "STORE2")


class Erp:
    def __init__(self, *records):
        self.records = {r["sku"]: r for r in records}

    def products_by_sku(self, skus):
        return [self.records[s] for s in skus if s in self.records]


class Shop:
    """The batch endpoint as WooCommerce answers it; `batches` keeps each call's (create, update) bodies."""

    def __init__(self):
        self.products, self.batches = {}, []

    def products_by_sku(self, skus):
        return [p for p in self.products.values() if p["sku"] in skus]

    def products_by_id(self, ids):
        return [self.products[i] for i in ids if i in self.products]

    def batch_products(self, create=(), update=()):
        self.batches.append((list(create), list(update)))
        made = []
        for body in create:
            woo_id = 100 + len(self.products)
            self.products[woo_id] = dict(body, id=woo_id)
            made.append({"id": woo_id})
        for body in update:
            self.products[body["id"]].update(body)
        return {"create": made, "update": [{"id": b["id"]} for b in update]}


def product(sku, price="4.20", modified="2026-11-20T10:00:00.000Z"):
    return {"id": f"P-{sku}", "sku": sku, "parent_id": None, "name": sku, "description": "", "list_price": price,
            "is_active": True, "weight_kg": None, "category_code": None, "ean": None, "attributes": {},
            "modified_at": modified}


def row(sku, warehouse, on_hand, reserved=0, safety=0, modified="2026-11-20T10:00:00.000Z"):
    return {"sku": sku, "warehouse": warehouse, "on_hand": on_hand, "reserved": reserved, "safety_stock": safety,
            "modified_at": modified}


def test_products_carry_the_stock_the_stock_owner_asks_for_and_it_remembers_what_they_carried(db):
    shop, erp = Shop(), Erp(product("A"), product("B"))
    inventory = InventorySync(db, shop, WEB)
    inventory.record([row("A", "MAIN", 10, reserved=2, safety=1), row("A", "STORE2", 4), row("A", "RETURNS", 50)])
    products = ProductSync(db, shop, erp, inventory)

    report = products.apply(["A", "B"])
    assert (report.created, report.write_calls) == (2, 1)  # one batch call: both created, A with its stock
    [(created, _)] = shop.batches
    carried = {b["sku"]: (b.get("manage_stock"), b.get("stock_quantity")) for b in created}
    assert carried == {"A": (True, 11), "B": (None, None)}  # B has no stock rows yet: sent without stock
    assert inventory.push(["A", "B"]) == 0  # the figure the create carried is known as written

    erp.records["A"] = product("A", price="5.00", modified="2026-11-21T10:00:00.000Z")
    products.apply(["A"])
    [update] = shop.batches[-1][1]
    assert update["regular_price"] == "5.00" and "stock_quantity" not in update  # same stock: not sent again

    inventory.record([row("A", "STORE2", 9, modified="2026-11-21T11:00:00.000Z"), row("B", "MAIN", 3)])
    erp.records["A"] = product("A", price="5.50", modified="2026-11-21T12:00:00.000Z")
    products.apply(["A", "B"])  # B unchanged in the ERP, but its stock is new to the shop
    sent = {b["sku"]: b.get("stock_quantity") for b in shop.batches[-1][1]}
    assert sent == {"A": 16, "B": 3} and len(shop.batches) == 3
    assert inventory.push(["A", "B"]) == 0
    assert {p["sku"]: p["stock_quantity"] for p in shop.products.values()} == {"A": 16, "B": 3}
