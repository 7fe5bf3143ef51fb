"""In-memory shop data of the sandbox: products, variations, orders, notes, webhooks (reference §4, §6, §7.7).

One re-entrant lock guards everything. IDs of products, variations and orders share one sequence,
as WordPress posts do (§4.2); meta rows, order items, notes and webhooks have their own.
Listable records are also kept in sorted (id / created / modified) indexes so that a page costs
O(log n + page size) instead of O(catalog) (§3.1 paging, §3.2 `orderby=modified` watermarks).
"""
from __future__ import annotations

import threading
import time
import uuid
from bisect import bisect_left, insort
from typing import Callable

# Tax rates by country (the store "calculates tax based on the customer shipping address").
TAX_RATES = {
    "DE": {"id": 1, "percent": 19, "label": "MwSt.", "code": "DE-MWST.-1"},
    "AT": {"id": 2, "percent": 20, "label": "MwSt.", "code": "AT-MWST.-1"},
    "FR": {"id": 3, "percent": 20, "label": "TVA", "code": "FR-TVA-1"},
    "NL": {"id": 4, "percent": 21, "label": "BTW", "code": "NL-BTW-1"},
}
COUPONS = {"winter10": {"id": 7001, "discount_type": "percent", "amount": "10"}}
CUSTOMERS = {
    2: {"first_name": "Anna", "last_name": "Schäfer", "email": "anna.schaefer@example.de"},
    3: {"first_name": "Jürgen", "last_name": "Köhler", "email": "juergen.koehler@example.de"},
    4: {"first_name": "Dana", "last_name": "Whitfield", "email": "dana.whitfield@example.net"},
}


class SortedIndex:
    """(created, id) and (modified, id) keys plus ids, each kept sorted."""

    def __init__(self):
        self.by = {"id": [], "date": [], "modified": []}

    def __len__(self) -> int:
        return len(self.by["id"])

    @staticmethod
    def _keys(rec: dict, modified: int) -> dict:
        return {"id": (rec["id"], rec["id"]), "date": (rec["created"], rec["id"]), "modified": (modified, rec["id"])}

    def add(self, rec: dict) -> None:
        for name, key in self._keys(rec, rec["modified"]).items():
            insort(self.by[name], key)

    def remove(self, rec: dict, modified: int) -> None:
        for name, key in self._keys(rec, modified).items():
            keys = self.by[name]
            i = bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                del keys[i]

    def bulk_add(self, recs: list[dict]) -> None:
        for rec in recs:
            for name, key in self._keys(rec, rec["modified"]).items():
                self.by[name].append(key)
        for keys in self.by.values():
            keys.sort()


class Collection:
    """Records by id plus the sorted index of those `listed` returns true for (the `status=any` view)."""

    def __init__(self, listed: Callable[[dict], bool]):
        self.items: dict[int, dict] = {}
        self.index = SortedIndex()
        self.listed = listed

    def insert(self, rec: dict) -> None:
        self.items[rec["id"]] = rec
        if self.listed(rec):
            self.index.add(rec)

    def state(self, rec: dict) -> tuple[int, bool]:
        """Snapshot to pass to `changed` after mutating the record."""
        return rec["modified"], self.listed(rec)

    def changed(self, rec: dict, before: tuple[int, bool]) -> None:
        if before[1]:
            self.index.remove(rec, before[0])
        if self.listed(rec):
            self.index.add(rec)

    def delete(self, rec: dict) -> None:
        if self.listed(rec):
            self.index.remove(rec, rec["modified"])
        del self.items[rec["id"]]


def listed_product(rec: dict) -> bool:
    return rec["type"] != "variation" and rec["status"] != "trash"


def listed_order(rec: dict) -> bool:
    return rec["status"] not in ("trash", "checkout-draft")


class Store:
    def __init__(self, home_url: str, utc_offset_minutes: int):
        self.lock = threading.RLock()
        self.home_url = home_url.rstrip("/")
        self.offset = utc_offset_minutes
        # WooCommerce's install id (option `woocommerce_store_id`, a UUID made once at install): it stays
        # with the shop through URL changes and data resets; a new install gets a new one
        self.store_id = str(uuid.uuid4())
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.products = Collection(listed_product)
            self.orders = Collection(listed_order)
            self.skus: dict[str, set[int]] = {}
            self.slugs: set[str] = set()
            self.notes: dict[int, list[dict]] = {}
            self.refunds: dict[int, list[dict]] = {}  # order id -> its refunds (sandbox/woo/refunds.py)
            self.webhooks: dict[int, dict] = {}
            self.customers = {cid: dict(c, id=cid) for cid, c in CUSTOMERS.items()}
            self.seeded: dict[int, int] = {}
            self.gtins: dict[str, int] = {}  # global_unique_id -> product id
            self.categories: dict[int, dict] = {15: {"id": 15, "name": "Uncategorized", "slug": "uncategorized",
                                                     "parent": 0, "description": "", "display": "default",
                                                     "menu_order": 0}}
            self.category_seq = 15  # term ids have their own sequence
            self._seq = {"post": 10, "meta": 1000, "item": 1, "comment": 1, "webhook": 0}

    def next_id(self, kind: str) -> int:
        with self.lock:
            self._seq[kind] += 1
            return self._seq[kind]

    @staticmethod
    def now() -> int:
        return int(time.time())

    def api_url(self, path: str) -> str:
        return f"{self.home_url}/wp-json/wc/v3/{path}"

    # ------------------------------------------------------------ SKU / slug registries

    def sku_owner(self, sku: str, exclude_id: int = 0) -> int | None:
        """Id of a non-trashed product or variation using `sku` (case-insensitive, MySQL collation)."""
        for pid in sorted(self.skus.get(sku.lower(), ())):
            rec = self.products.items.get(pid)
            if pid != exclude_id and rec and rec["status"] != "trash":
                return pid
        return None

    def set_sku(self, rec: dict, sku: str) -> None:
        old = rec.get("sku", "")
        if old:
            self.skus.get(old.lower(), set()).discard(rec["id"])
        rec["sku"] = sku
        if sku:
            self.skus.setdefault(sku.lower(), set()).add(rec["id"])

    def unique_slug(self, slug: str) -> str:
        slug = slug or "product"
        candidate, n = slug, 2
        while candidate in self.slugs:
            candidate, n = f"{slug}-{n}", n + 1
        self.slugs.add(candidate)
        return candidate

    # ------------------------------------------------------------ meta data (WC_Data::update_meta_data)

    def upsert_meta(self, rows: list[dict], updates: list) -> None:
        for m in updates:
            if not isinstance(m, dict) or "key" not in m:
                continue
            key, value, mid = str(m["key"]), m.get("value"), m.get("id")
            target = next((r for r in rows if mid and r["id"] == mid), None)
            if target is None:
                same = [r for r in rows if r["key"] == key]
                target = same[0] if same else None
                for extra in same[1:]:
                    rows.remove(extra)
            if target is None:
                rows.append({"id": self.next_id("meta"), "key": key, "value": value})
            else:
                target["key"], target["value"] = key, value
