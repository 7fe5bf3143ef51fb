"""`/_sandbox/mutate`: change k records now, bumping `modified_at`, to drive delta syncs.

Kinds: price (k sellable products get a new list price), stock (k stock rows get a new on_hand),
new (k new simple products with stock), deactivate (k active products get is_active false),
ship (the k oldest shippable orders are shipped in full). Picks come from the store's seeded RNG,
so a seed followed by the same mutations gives the same changes.
"""
from __future__ import annotations

from .errors import bad_request
from .money import cents_to_str
from .seed import new_simple_product
from .shipments import ship_open_orders
from .store import Store, stock_id

KINDS = ("price", "stock", "new", "deactivate", "ship")


def mutate(store: Store, kind: str, count: int) -> dict:
    """Apply one mutation; `{"kind", "changed": [ids]}`. Caller holds the lock."""
    if kind not in KINDS:
        raise bad_request(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100_000:
        raise bad_request(f"count must be an integer 0..100000, got {count!r}")
    changed = {"price": _price, "stock": _stock, "new": _new, "deactivate": _deactivate,
               "ship": ship_open_orders}[kind](store, count)
    return {"kind": kind, "changed": changed}


def _pick(store: Store, ids: list[str], count: int) -> list[str]:
    return store.rng.sample(ids, min(count, len(ids)))


def _price(store: Store, count: int) -> list[str]:
    active = [pid for pid in store.sellable_ids if store.products.get(pid)["is_active"]]
    chosen = _pick(store, active, count)
    for product_id in chosen:
        product = store.products.get(product_id)
        cents = int(product["list_price"].replace(".", ""))
        delta = max(1, cents * store.rng.randrange(1, 21) // 100)
        product["list_price"] = cents_to_str(cents + delta if store.rng.random() < 0.5 or cents <= delta
                                             else cents - delta)
        store.products.touch(product_id)
    return chosen


def _stock(store: Store, count: int) -> list[str]:
    if not store.warehouses:
        return []
    changed = []
    for product_id in _pick(store, store.sellable_ids, count):
        row_id = stock_id(store.products.get(product_id)["sku"], store.rng.choice(list(store.warehouses)))
        row = store.inventory.get(row_id)
        on_hand = row["on_hand"] + store.rng.choice((-5, -3, -1, 2, 4, 10))
        row["on_hand"] = on_hand if on_hand >= 0 else row["on_hand"] + 10
        store.inventory.touch(row_id)
        changed.append(row_id)
    return changed


def _new(store: Store, count: int) -> list[str]:
    return [new_simple_product(store, store.rng)["id"] for _ in range(count)]


def _deactivate(store: Store, count: int) -> list[str]:
    active = [pid for pid in store.sellable_ids if store.products.get(pid)["is_active"]]
    chosen = _pick(store, active, count)
    for product_id in chosen:
        store.products.get(product_id)["is_active"] = False
        store.products.touch(product_id)
    return chosen
