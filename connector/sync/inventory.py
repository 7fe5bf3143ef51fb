"""The one owner of web stock: what it is, whether the shop must be told, and what the shop was told.

Web stock = max(0, Σ over web warehouses of (on_hand − reserved − safety_stock) − held), held from
connector/holds.py. `record` keeps the last seen row per (sku, warehouse) in our database, so a change in
one warehouse recomputes the SKU from all its rows without asking the ERP again; a row is only ever
replaced by a version at least as new (one conditional UPDATE, see connector/holds.py for why).

Every stock write goes through here. `push` writes it on its own (batches of ≤ BATCH_LIMIT, variations
under their parent); a product write (connector/sync/products.py) asks `fields_for_write` for the stock
fields to carry in the batch it is about to send (a new product is created with its stock, no separate
call) and hands what the shop accepted to `written`. Either way a figure is sent only where it differs
from what was last written to that shop record, and is remembered (binding kind STOCK) once accepted.
Every stock figure reads the holds of its SKUs with one query on the hold table's sku index.

The shop also moves its own stock (a sale, a cancel, a restocking refund): then what was last written is
forgotten, and SKUs whose web stock rose with no ERP change are marked due (connector/holds.py
`shop_moved`); `push` writes them whatever was written before, and the inventory poll pushes the due ones.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Iterable

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
NOT_IN_SHOP = -1  # the Woo id of a SKU whose product is being created: never the id stock was written to


def web_stock(rows: list[InventoryLevel], warehouses: tuple[str, ...], held: int = 0) -> int:
    """max(0, Σ over the rows of `warehouses` of (on_hand − reserved − safety_stock) − held), in units;
    rows of other warehouses are ignored."""
    return max(0, sum(r.on_hand - r.reserved - r.safety_stock for r in rows if r.warehouse in warehouses) - held)


def _quantity(row: dict, name: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidDataError(f"stock row {row.get('sku')}@{row.get('warehouse')}: {name} is {value!r}, "
                               f"not a non-negative integer")
    return value


def stock_fields(quantity: int) -> dict:
    """The fields of a Woo product or variation body that set its stock to `quantity` units."""
    return {"manage_stock": True, "stock_quantity": quantity}


class InventorySync:
    """Web stock for the shop `woo` (a ShopPort) from the ERP rows of `warehouses` (warehouse codes)."""

    def __init__(self, db: Database, woo, warehouses: tuple[str, ...]):
        self.db, self.woo, self.warehouses = db, woo, warehouses

    def record(self, rows: list[dict]) -> tuple[list[str], dict[str, str]]:
        """Store ERP stock rows (connector.records.StockRow: sku, warehouse, on_hand, reserved,
        safety_stock as non-negative ints, modified_at ISO UTC). Returns (SKUs touched, sorted;
        {"sku@warehouse": reason} for rows refused as invalid, which are logged and not stored). A row
        older than the stored one changes nothing. Raises sqlalchemy errors when the database is down."""
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
        """Web stock in units per SKU from the stored warehouse rows, less holds (SKUs without rows are
        left out). Reads our database only."""
        levels = defaultdict(list)
        with self.db.session() as s:
            for lv in s.scalars(select(InventoryLevel).where(InventoryLevel.sku.in_(skus))):
                levels[lv.sku].append(lv)
            held = holds.held(s, list(levels))
        return {sku: web_stock(rows, self.warehouses, held.get(sku, 0)) for sku, rows in levels.items()}

    def to_write(self, targets: dict[str, int]) -> dict[str, int]:
        """Web stock in units for the SKUs of `targets` ({sku: Woo id of the record that gets it}) where it
        differs from what was last written to that record; SKUs without warehouse rows are left out.
        Reads our database only."""
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

    def fields_for_write(self, bound: dict[str, int], new: Iterable[str]) -> dict[str, dict]:
        """The stock fields a product write about to be sent must carry, by SKU (`stock_fields` shape):
        for `bound` SKUs ({sku: Woo id}) where the web stock differs from what that record last got, for
        `new` SKUs (created by this write) whenever their stock is known. SKUs absent from the answer are
        sent without stock. One read of rows, holds and last writes for the whole batch; no shop call."""
        targets = {**bound, **{sku: NOT_IN_SHOP for sku in new}}
        return {sku: stock_fields(qty) for sku, qty in self.to_write(targets).items()}

    def written(self, accepted: Iterable[tuple[str, int, dict]]) -> None:
        """A product write's items the shop accepted: (sku, Woo id, the body sent). Those whose body
        carried stock fields are remembered as the stock last written to that record."""
        self._store_all([(sku, woo_id, body["stock_quantity"]) for sku, woo_id, body in accepted
                         if "stock_quantity" in body])

    def push(self, skus: list[str]) -> int:
        """Write the web stock of `skus` that differs from what the shop last got, in batches of ≤
        BATCH_LIMIT (variations under their parent); SKUs not bound to a shop record are skipped (their
        product write carries it). Returns the number of Woo write calls (0: nothing differed). A record
        the shop refuses is logged and not remembered (the next push tries again); raises the
        ShopPort's error families."""
        due = {sku: b.last_synced_at for sku, b in binding.get(self.db, binding.STOCK_DUE, skus).items()}
        targets = binding.by_sku(self.db, skus, bound_only=True)
        wanted = self.to_write({sku: m.woo_id for sku, m in targets.items()})
        groups: dict[int | None, list[tuple[str, dict]]] = defaultdict(list)
        for sku in sorted(wanted):  # SKUs not in the shop yet are pushed when their product is written
            target = targets[sku]
            parent = target.woo_parent_id if target.entity_type == VARIATION else None
            groups[parent].append((sku, {"id": target.woo_id, **stock_fields(wanted[sku])}))
        calls = 0
        for parent, items in groups.items():
            for chunk in chunked(items, BATCH_LIMIT):
                updates = [u for _, u in chunk]
                answer = (self.woo.batch_variations(parent, update=updates) if parent
                          else self.woo.batch_products(update=updates))
                calls += 1
                refused = self._remember(chunk, answer.get("update", []))
                for sku in refused:
                    due.pop(sku, None)  # refused: stays due, the next poll tries again
        binding.stock_pushed(self.db, due)  # written, or nothing to write: no longer due
        return calls

    def due(self, limit: int = 1000) -> list[str]:
        """SKUs whose shop stock moved by itself with no ERP change to push it (connector/holds.py
        `shop_moved`): the inventory poll pushes them along with the ERP's changes. Reads our database only."""
        return binding.stock_due(self.db, limit)

    def _remember(self, chunk, answers) -> list[str]:
        written, refused = [], []
        for (sku, change), answer in zip(chunk, answers):
            if answer.get("error"):
                event(log, "stock write refused", logging.WARNING, sku=sku, error=answer["error"].get("code"))
                refused.append(sku)
                continue
            written.append((sku, change["id"], change["stock_quantity"]))
        self._store_all(written)
        return refused

    def _store_all(self, written: list[tuple[str, int, int]]) -> None:
        """Store what was written, in one transaction (a stock push and a product write may store the
        same SKU at once: the binder settles that race)."""
        now = utcnow()
        binding.upsert(self.db, STOCK, {sku: {"sku": sku, "woo_id": woo_id, "sync_hash": str(qty), "last_synced_at": now}
                                        for sku, woo_id, qty in written})
