"""`POST /_sandbox/seed`: bulk-create simple products fast (100k in seconds; no webhooks fire,
as with a database import). Deterministic for a given `seed`: SKUs `SEED<seed>-<n>`, names, prices,
stock and created/modified dates spread over the past year; repeated calls continue the numbering."""
from __future__ import annotations

import random

from sandbox.woo.catalog import sanitize_title

ADJECTIVES = ("Classic", "Organic", "Vintage", "Urban", "Alpine", "Coastal", "Nordic", "Everyday", "Premium", "Café")
NOUNS = ("T-Shirt", "Hoodie", "Cap", "Mug", "Backpack", "Scarf", "Sneaker", "Notebook", "Bottle", "Jacket")
YEAR, MONTH = 365 * 86400, 30 * 86400


def seed_products(store, n: int, seed: int) -> dict:
    rng = random.Random(seed)
    with store.lock:
        first = store.seeded.get(seed, 0)
        store.seeded[seed] = first + n
        now = store.now()
        recs = []
        for i in range(first, first + n):
            pid = store.next_id("post")
            name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {seed}-{i:06d}"
            created = now - rng.randrange(YEAR)
            qty = rng.randrange(0, 200)
            rec = {"id": pid, "type": "simple", "status": "publish", "name": name,
                   "slug": store.unique_slug(sanitize_title(name)),
                   "regular_price": f"{rng.randrange(199, 19999) / 100:.2f}",
                   "manage_stock": True, "stock_quantity": qty, "stock_status": "instock" if qty else "outofstock",
                   "created": created, "modified": min(now, created + rng.randrange(MONTH))}
            store.set_sku(rec, f"SEED{seed}-{i:06d}")
            store.products.items[pid] = rec
            recs.append(rec)
        store.products.index.bulk_add(recs)
    return {"created": n, "first_id": recs[0]["id"] if recs else None, "last_id": recs[-1]["id"] if recs else None,
            "sku_prefix": f"SEED{seed}-"}
