"""Stock reservations, as a real ERP keeps them (erp-api.md v1.1 "Stock reservations").

- A sales order reserves its quantities in its warehouse: `reserved += quantity`.
- Cancelling releases what is still reserved (ordered − shipped).
- A shipment takes its quantities out of both `on_hand` and `reserved`.
- A restocking credit note adds its quantities to `on_hand` of the order's warehouse
  (`restock`, called by sandbox/erp/credit_notes.py for units that had shipped).

Every change bumps the stock row's `modified_at`. The order's warehouse is the one it names, else the
first sellable warehouse with enough available stock (on_hand − reserved) for every line, else the
first sellable one. `created_at` of a new order is a moment no earlier stock row version reaches and
no later one precedes: a stock row read with `modified_at >= created_at` already holds the order's
reservation (the connector relies on this to count a sale exactly once; see connector/holds.py).
Callers hold the store lock.
"""
from __future__ import annotations

from collections import Counter

from .clock import now_ms
from .store import Store, stock_id


def quantities(lines: list[dict]) -> Counter:
    wanted = Counter()
    for line in lines:
        wanted[line["sku"]] += line["quantity"]
    return wanted


def choose_warehouse(store: Store, lines: list[dict], named: str | None = None) -> str:
    if named:
        return named
    wanted = quantities(lines)
    sellable = [code for code, w in store.warehouses.items() if w.get("sellable")] or list(store.warehouses)
    for code in sellable:
        if all(_available(store, sku, code) >= qty for sku, qty in wanted.items()):
            return code
    return sellable[0]


def reservation_stamp(store: Store) -> int:
    """A millisecond later than every stock row version so far and not before now: the order's
    `created_at`, and the stamp of the rows its reservation changes."""
    return max(now_ms(), store.inventory.last_stamp + 1)


def reserve(store: Store, warehouse: str, counts: Counter, stamp: int | None = None) -> None:
    _change(store, warehouse, counts, reserved=+1, stamp=stamp)


def release(store: Store, warehouse: str, counts: Counter) -> None:
    _change(store, warehouse, counts, reserved=-1)


def ship_out(store: Store, warehouse: str, counts: Counter) -> None:
    _change(store, warehouse, counts, on_hand=-1, reserved=-1)


def restock(store: Store, warehouse: str, counts: Counter) -> None:
    _change(store, warehouse, counts, on_hand=+1)


def _available(store: Store, sku: str, code: str) -> int:
    row = store.inventory.get(stock_id(sku, code))
    return 0 if row is None else row["on_hand"] - row["reserved"]


def _change(store: Store, warehouse: str, counts: Counter, *, on_hand: int = 0, reserved: int = 0,
            stamp: int | None = None) -> None:
    rows = sorted(sku for sku, qty in counts.items() if qty > 0)
    if not rows:
        return
    first = store.inventory.reserve(len(rows))
    if stamp is not None and first < stamp:  # the stamps must not precede the order's created_at
        first = stamp
        store.inventory.last_stamp = max(store.inventory.last_stamp, stamp + len(rows) - 1)
    for n, sku in enumerate(rows):
        row_id = stock_id(sku, warehouse)
        row = store.inventory.get(row_id) or {"sku": sku, "warehouse": warehouse, "on_hand": 0, "reserved": 0,
                                               "safety_stock": 0}
        qty = counts[sku]
        row["on_hand"] = max(0, row["on_hand"] + on_hand * qty)
        row["reserved"] = max(0, row["reserved"] + reserved * qty)
        store.inventory.put(row_id, row, first + n)
