"""Full resync: compare every ERP product with what the shop shows now, and repair drift.

Delta polls only see ERP changes; a product edited by hand in WooCommerce (or a lost write) drifts
unnoticed. This walks the whole ERP catalog, reads the shop's copy by SKU (≤ 100 per call), compares
the fields the mapping owns, the product's category and the web stock, and rewrites only what differs. Promotions
(`sale_price`, sale dates) are not mapped, so they are never "repaired" away.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from connector import binding
from connector.binding import PRODUCT_KINDS, STOCK
from connector.db import Database
from connector.errors import InvalidDataError
from connector.logs import event
from connector.mapping import products as mapping
from connector.paging import erp_pages
from connector.sync.inventory import InventorySync
from connector.sync.products import ProductSync

log = logging.getLogger("wooerp.resync")
PAGE_SIZE = 100  # ERP products per page of the full scan
COMPARED = ("sku", "name", "description", "regular_price", "weight", "status", "catalog_visibility")


def differing(wanted: dict, current: dict, fields: tuple[str, ...] = COMPARED) -> list[str]:
    """The mapped `fields` whose value in the shop (`current`) is not what the ERP maps to (`wanted`)."""
    return [f for f in fields if f in wanted and str(current.get(f, "")) != str(wanted[f])]


@dataclass
class ResyncReport:
    """What a full resync found and did: `checked` ERP products; `repaired` {sku: [fields that differed]},
    rewritten; `missing` SKUs in the ERP but not in the shop, written; `stock_repaired` {sku: {"shop": int
    or None, "erp": int}}, the web stock rewritten."""
    checked: int = 0
    repaired: dict = field(default_factory=dict)  # sku -> fields that differed
    missing: list = field(default_factory=list)   # in the ERP, not in the shop
    stock_repaired: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The report as a plain dict (a task's JSON-able result)."""
        return self.__dict__.copy()


class FullResync:
    """The full resync (see the module docstring), built from the shop (`woo`), the ERP (`erp`) and the two
    synchronizers that write what differs."""
    def __init__(self, db: Database, woo, erp, products: ProductSync, inventory: InventorySync):
        self.db, self.woo, self.erp, self.products, self.inventory = db, woo, erp, products, inventory

    def run(self) -> ResyncReport:
        """Walk every ERP product page (100 a page; one shop lookup by SKU per page) and rewrite what drifted through
        ProductSync.apply and InventorySync.push. Products the mapping refuses are skipped (the delta sync
        quarantines them). Raises the adapters' error families and PagingStuck; pages already checked stay
        repaired."""
        report = ResyncReport()
        for page in erp_pages(lambda cursor: self.erp.list_products(None, cursor, PAGE_SIZE), name="full resync"):
            self._check(page.items, report)
        event(log, "full resync finished", checked=report.checked, repaired=len(report.repaired),
              missing=len(report.missing), stock_repaired=len(report.stock_repaired))
        return report

    def _check(self, records: list[dict], report: ResyncReport) -> None:
        records = [r for r in records if str(r.get("sku") or "").strip()]
        shop = {p["sku"]: p for p in self.woo.products_by_sku([r["sku"] for r in records]) if p.get("sku")}
        redo: list[str] = []
        categories = self.products.categories.woo_ids(r.get("category_code") for r in records) \
            if self.products.categories is not None else {}
        for record in records:
            report.checked += 1
            try:
                wanted = mapping.map_product(record)
            except InvalidDataError:
                continue  # quarantined by the delta sync, with its reason
            current = shop.get(record["sku"])
            if current is None:
                report.missing.append(record["sku"])
                redo.append(record["sku"])
                continue
            differs = differing(wanted, current)
            category = None if record.get("parent_id") else categories.get(record.get("category_code"))
            if category is not None and category not in {c.get("id") for c in current.get("categories") or []}:
                differs.append("categories")  # not in the shop category of its ERP category
            if differs:
                report.repaired[record["sku"]] = differs
                redo.append(record["sku"])
        if redo:
            binding.forget_written(self.db, PRODUCT_KINDS, [r["id"] for r in records if r["sku"] in redo])
            self.products.apply(redo)
        self._check_stock(records, shop, report)

    def _check_stock(self, records: list[dict], shop: dict, report: ResyncReport) -> None:
        sellable = [r["sku"] for r in records if not r.get("is_parent") and r["sku"] in shop]
        expected = self.inventory.expected(sellable)
        drifted = [sku for sku, qty in expected.items() if shop[sku].get("stock_quantity") != qty]
        for sku in drifted:
            report.stock_repaired[sku] = {"shop": shop[sku].get("stock_quantity"), "erp": expected[sku]}
        if drifted:
            binding.forget_written(self.db, (STOCK,), drifted)
            self.inventory.push(drifted)
