"""Web stock from ERP warehouse rows, less what the shop sold and the ERP has not reserved yet:
max(0, Σ over web warehouses of (on_hand − reserved − safety_stock) − held), held from connector/holds.py.

`record` keeps the last seen row per (sku, warehouse) in our database, so a change in one warehouse
recomputes the SKU from all its rows without asking the ERP again; a row is only ever replaced by a
version at least as new (one conditional UPDATE, see connector/holds.py for why). `push` writes the
computed stock to WooCommerce in batches (variations under their parent), only where it differs from
what was last written. Every stock figure (`expected`, `to_write`) reads the holds of its SKUs with
one query on the hold table's sku index.
"""
from __future__ import annotations

import logging
from collections import defaultdict

from sqlalchemy import select, update

from connector import binding, holds
from connector.binding import STOCK, VARIATION
from connector.db import Database, utcnow
from connector.errors import InvalidDataError
from connector.logs import event
from connector.models import InventoryLevel
from connector.paging import chunked
from connector.sync.delta import format_ts, parse_ts
from connector.woo.client import BATCH_LIMIT

log = logging.getLogger("wooerp.inventory")


def web_stock(rows: list[InventoryLevel], warehouses: tuple[str, ...], held: int = 0) -> int:
    """max(0, Σ over web warehouses of (on_hand − reserved − safety_stock) − held)."""
    return max(0, sum(r.on_hand - r.reserved - r.safety_stock for r in rows if r.warehouse in warehouses) - held)


def _quantity(row: dict, name: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidDataError(f"stock row {row.get('sku')}@{row.get('warehouse')}: {name} is {value!r}, "
                               f"not a non-negative integer")
    return value


class InventorySync:
    def __init__(self, db: Database, woo, warehouses: tuple[str, ...]):
        self.db, self.woo, self.warehouses = db, woo, warehouses

    def record(self, rows: list[dict]) -> tuple[list[str], dict[str, str]]:
        """Store ERP stock rows; returns (SKUs touched, {row key: quarantine reason})."""
        touched, rejected = set(), {}
        with self.db.session() as s:
            skus = sorted({str(r["sku"]) for r in rows if r.get("sku")})
            stored = {(lv.sku, lv.warehouse): lv for lv in
                      s.scalars(select(InventoryLevel).where(InventoryLevel.sku.in_(skus)))}
            for row in rows:
                key = f"{row.get('sku')}@{row.get('warehouse')}"
                try:
                    if not row.get("sku") or not row.get("warehouse"):
                        raise InvalidDataError(f"stock row {key}: no SKU or warehouse")
                    values = {n: _quantity(row, n) for n in ("on_hand", "reserved", "safety_stock")}
                except InvalidDataError as e:
                    rejected[key] = str(e)
                    event(log, "stock row quarantined", logging.WARNING, row=key, reason=str(e))
                    continue
                modified = format_ts(parse_ts(row["modified_at"]))
                level = stored.get((row["sku"], row["warehouse"]))
                if level is None:
                    level = stored[(row["sku"], row["warehouse"])] = InventoryLevel(
                        sku=row["sku"], warehouse=row["warehouse"], modified_at=modified, **values)
                    s.add(level)
                elif modified >= level.modified_at:
                    # conditional: a hand-over (connector/holds.py) may have moved the row on meanwhile
                    s.execute(update(InventoryLevel).where(
                        InventoryLevel.sku == row["sku"], InventoryLevel.warehouse == row["warehouse"],
                        InventoryLevel.modified_at <= modified).values(modified_at=modified, **values))
                touched.add(row["sku"])
        return sorted(touched), rejected

    def expected(self, skus: list[str]) -> dict[str, int]:
        """Web stock per SKU from the stored warehouse rows (SKUs without rows are left out)."""
        levels = defaultdict(list)
        with self.db.session() as s:
            for lv in s.scalars(select(InventoryLevel).where(InventoryLevel.sku.in_(skus))):
                levels[lv.sku].append(lv)
            held = holds.held(s, list(levels))
        return {sku: web_stock(rows, self.warehouses, held.get(sku, 0)) for sku, rows in levels.items()}

    def to_write(self, targets: dict[str, int]) -> dict[str, int]:
        """Web stock for the SKUs of `targets` ({sku: woo id}) that differs from what was last written
        there; SKUs without warehouse rows are left out. Product writes carry these values along."""
        if not targets:
            return {}
        with self.db.session() as s:
            levels = defaultdict(list)
            for lv in s.scalars(select(InventoryLevel).where(InventoryLevel.sku.in_(list(targets)))):
                levels[lv.sku].append(lv)
            held = holds.held(s, list(levels))
        written = binding.get(self.db, STOCK, list(levels))
        wanted = {}
        for sku, rows in levels.items():
            qty, last = web_stock(rows, self.warehouses, held.get(sku, 0)), written.get(sku)
            if last is None or last.sync_hash != str(qty) or last.woo_id != targets[sku]:
                wanted[sku] = qty
        return wanted

    def push(self, skus: list[str]) -> int:
        """Write changed web stock for `skus` to WooCommerce; returns the number of write calls."""
        targets = binding.by_sku(self.db, skus, bound_only=True)
        wanted = self.to_write({sku: m.woo_id for sku, m in targets.items()})
        groups: dict[int | None, list[tuple[str, dict]]] = defaultdict(list)
        for sku in sorted(wanted):  # SKUs not in the shop yet are pushed when their product is written
            target = targets[sku]
            parent = target.woo_parent_id if target.entity_type == VARIATION else None
            groups[parent].append((sku, {"id": target.woo_id, "manage_stock": True, "stock_quantity": wanted[sku]}))
        calls = 0
        for parent, items in groups.items():
            for chunk in chunked(items, BATCH_LIMIT):
                updates = [u for _, u in chunk]
                answer = (self.woo.batch_variations(parent, update=updates) if parent
                          else self.woo.batch_products(update=updates))
                calls += 1
                self._remember(chunk, answer.get("update", []))
        return calls

    def remember(self, written: list[tuple[str, int, int]]) -> None:
        """Record stock written by a product write: [(sku, woo id, quantity)]."""
        self._store_all(written)

    def _remember(self, chunk, answers) -> None:
        written = []
        for (sku, change), answer in zip(chunk, answers):
            if answer.get("error"):
                event(log, "stock write refused", logging.WARNING, sku=sku, error=answer["error"].get("code"))
                continue
            written.append((sku, change["id"], change["stock_quantity"]))
        self._store_all(written)

    def _store_all(self, written: list[tuple[str, int, int]]) -> None:
        """Store what was written, in one transaction (a stock push and a product write may store the
        same SKU at once: the binder settles that race)."""
        now = utcnow()
        binding.upsert(self.db, STOCK, {sku: {"sku": sku, "woo_id": woo_id, "sync_hash": str(qty), "last_synced_at": now}
                                        for sku, woo_id, qty in written})
