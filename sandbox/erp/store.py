"""In-memory ERP state: the paged collections, lookup indexes, id sequences and runtime config.
An empty store (fresh or reset) has no records but the default warehouses MAIN, STORE2, RETURNS.

One re-entrant lock guards everything; views and admin endpoints hold it for the whole read or
write, so concurrent clients see consistent pages. Domain rules live in the per-resource modules.
"""
from __future__ import annotations

import random
import threading
import uuid
from collections import Counter

from flask import current_app

from .paging import Collection

DEFAULT_CONFIG = {"enforce_unique_external_ref": False, "latency_ms": 0}
DEFAULT_WAREHOUSES = ({"code": "MAIN", "name": "Main DC", "sellable": True},
                      {"code": "STORE2", "name": "Store 2", "sellable": True},
                      {"code": "RETURNS", "name": "Returns", "sellable": False})


def by_warehouse(row: dict) -> str:
    return row["warehouse"]


def stock_id(sku: str, warehouse: str) -> str:
    return f"{sku}@{warehouse}"


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self._collections: tuple[Collection, ...] = ()
        self.tenant_id = str(uuid.uuid4())  # made once per ERP tenant; a reset empties it but keeps it
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.config = dict(DEFAULT_CONFIG)
            self.clear_data()

    def clear_data(self, seed: int = 42) -> None:
        with self.lock:
            after = max((c.last_stamp for c in self._collections), default=0)
            self.products = Collection("products", after_stamp=after)
            self.inventory = Collection("inventory", by_warehouse, after)
            self.customers = Collection("customers", after_stamp=after)
            self.orders = Collection("sales-orders", after_stamp=after)
            self.shipments = Collection("shipments", after_stamp=after)
            self.categories = Collection("categories", after_stamp=after)
            self.credit_notes = Collection("credit-notes", after_stamp=after)
            self._collections = (self.products, self.inventory, self.customers, self.orders, self.shipments,
                                 self.categories, self.credit_notes)
            self.warehouses: dict[str, dict] = {w["code"]: dict(w) for w in DEFAULT_WAREHOUSES}
            self.product_by_sku: dict[str, str] = {}
            self.sellable_ids: list[str] = []  # simple products and variants, in creation order
            self.orders_by_ref: dict[str, list[str]] = {}
            self.shipped: dict[str, Counter] = {}  # sales order id -> quantity shipped per sku
            self.credit_notes_by_ref: dict[str, list[str]] = {}
            self.returned: dict[str, Counter] = {}  # sales order id -> shipped units back in stock (credit notes)
            self.withdrawn: dict[str, Counter] = {}  # sales order id -> units credited and restocked before shipping
            self._sequences: Counter = Counter()
            self.rng = random.Random(seed)

    def next_number(self, kind: str) -> int:
        self._sequences[kind] += 1
        return self._sequences[kind]

    def add_product(self, product: dict, stamp: int | None = None) -> None:
        self.products.put(product["id"], product, stamp)
        self.product_by_sku[product["sku"]] = product["id"]
        if not product["is_parent"]:
            self.sellable_ids.append(product["id"])

    def product_for_sku(self, sku: str) -> dict | None:
        product_id = self.product_by_sku.get(sku)
        return None if product_id is None else self.products.get(product_id)

    def add_stock_rows(self, sku: str, first_stamp: int | None = None, quantities=None) -> None:
        """One row per warehouse for a new sellable SKU; `quantities(warehouse)` gives the numbers."""
        if first_stamp is None:
            first_stamp = self.inventory.reserve(len(self.warehouses))
        for offset, code in enumerate(self.warehouses):
            on_hand, reserved, safety = quantities(code) if quantities else (0, 0, 0)
            row = {"sku": sku, "warehouse": code, "on_hand": on_hand, "reserved": reserved,
                   "safety_stock": safety}
            self.inventory.put(stock_id(sku, code), row, first_stamp + offset)

    def orders_by_external_ref(self) -> dict[str, int]:
        return {ref: len(ids) for ref, ids in self.orders_by_ref.items()}


def current() -> Store:
    return current_app.extensions["erp_store"]
