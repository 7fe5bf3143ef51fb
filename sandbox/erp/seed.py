"""Deterministic catalogs: `seed()` replaces all data with N sellable products (simple products and
variants grouped under parents, parents in addition) and one stock row per product and warehouse.

The same arguments give the same products, SKUs, prices and stock; only timestamps differ (seeded
records get consecutive milliseconds ending at the moment of seeding). 100,000 products take a few
seconds because records are appended in (modified_at, id) order.
"""
from __future__ import annotations

import random

from .errors import bad_request
from .inventory import warehouse_specs
from .money import cents_to_str
from .products import make_product, new_product_id
from .store import DEFAULT_WAREHOUSES, Store

MAX_PRODUCTS = 1_000_000
CATEGORIES = {
    "APPAREL": ("APP", ["T-Shirt", "Hoodie", "Jacket", "Cap", "Socks", "Scarf"]),
    "HOME": ("HOM", ["Mug", "Lamp", "Vase", "Cushion", "Blanket", "Candle"]),
    "TOOLS": ("TOL", ["Hammer", "Screwdriver Set", "Wrench", "Drill Bits", "Tape Measure"]),
    "GARDEN": ("GAR", ["Planter", "Hose", "Shears", "Watering Can", "Seed Box"]),
    "TOYS": ("TOY", ["Puzzle", "Kite", "Building Blocks", "Plush Bear", "Yo-Yo"]),
}
ADJECTIVES = ["Classic", "Organic", "Premium", "Everyday", "Vintage", "Urban", "Eco", "Deluxe", "Compact"]
COLORS = ["red", "blue", "green", "black", "white", "grey", "yellow", "navy"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
MAX_VARIANTS = len(COLORS) * len(SIZES)


def seed(store: Store, products: int, variants_per_parent: int = 0, warehouses=None,
         seed: int = 42) -> dict:
    """Replace all data with a generated catalog. Caller holds the lock."""
    _check_int("products", products, 0, MAX_PRODUCTS)
    _check_int("variants_per_parent", variants_per_parent, 0, MAX_VARIANTS)
    _check_int("seed", seed, -2**63, 2**63)
    specs = warehouse_specs(list(DEFAULT_WAREHOUSES) if warehouses is None else warehouses)
    store.clear_data(seed)
    store.warehouses = {w["code"]: w for w in specs}
    for code in ("GENERAL", *CATEGORIES):
        store.categories.put(code, {"code": code, "name": code.capitalize(), "parent_code": None})
    rng = random.Random(seed)
    groups = _group_sizes(rng, products, variants_per_parent)
    parents = sum(1 for size in groups if size)
    stamp = store.products.reserve(products + parents)
    for size in groups:
        stamp = _add_group(store, rng, size, stamp)
    rows = len(store.sellable_ids) * len(specs)
    stamp = store.inventory.reserve(rows)
    for product_id in store.sellable_ids:
        store.add_stock_rows(store.products.get(product_id)["sku"], stamp,
                             lambda _code: random_quantities(rng))
        stamp += len(specs)
    return {"products": products, "parents": parents, "inventory_rows": rows,
            "warehouses": [w["code"] for w in specs], "seed": seed}


def new_simple_product(store: Store, rng: random.Random) -> dict:
    """A fresh simple product with random stock in every warehouse (for mutate `new`)."""
    product = _simple(store, rng)
    store.add_product(product)
    store.add_stock_rows(product["sku"], quantities=lambda _code: random_quantities(rng))
    return product


def random_quantities(rng: random.Random) -> tuple[int, int, int]:
    on_hand = 0 if rng.random() < 0.1 else rng.randrange(1, 200)
    return on_hand, rng.randrange(0, min(on_hand, 10) + 1), rng.randrange(0, 6)


def _group_sizes(rng: random.Random, products: int, k: int) -> list[int]:
    """0 for a simple product, k for a parent with k variants; about a third of products are variants."""
    parents = max(1, products // (3 * k)) if k and products >= k else 0
    groups = [k] * parents + [0] * (products - parents * k)
    rng.shuffle(groups)
    return groups


def _add_group(store: Store, rng: random.Random, size: int, stamp: int) -> int:
    base = _simple(store, rng)
    if not size:
        store.add_product(base, stamp)
        return stamp + 1
    base.update(is_parent=True, ean="", weight_kg="0.000")
    store.add_product(base, stamp)
    colors = rng.sample(COLORS, len(COLORS))
    for n, (color, size_code) in enumerate((c, s) for c in colors for s in SIZES):
        if n == size:
            break
        cents = int(base["list_price"].replace(".", "")) + rng.choice((0, 0, 100, 200))
        variant = make_product(
            new_product_id(store), f"{base['sku']}-{color.upper()}-{size_code}",
            parent_id=base["id"], name=f"{base['name']} {color} {size_code}",
            description=base["description"], list_price=cents_to_str(cents),
            tax_class=base["tax_class"], weight_kg=_weight(rng), ean=_ean(rng),
            category_code=base["category_code"], attributes={"color": color, "size": size_code})
        store.add_product(variant, stamp + 1 + n)
    return stamp + 1 + size


def _simple(store: Store, rng: random.Random) -> dict:
    category = rng.choice(list(CATEGORIES))
    prefix, nouns = CATEGORIES[category]
    product_id = new_product_id(store)
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(nouns)}"
    return make_product(
        product_id, f"{prefix}-{product_id[2:]}", name=name,
        description=f"<p>{name} from our {category.lower()} range.</p>",
        list_price=cents_to_str(rng.randrange(199, 20000)),
        tax_class="reduced" if rng.random() < 0.15 else "standard",
        weight_kg=_weight(rng), ean=_ean(rng), category_code=category)


def _weight(rng: random.Random) -> str:
    grams = rng.randrange(50, 5000)
    return f"{grams // 1000}.{grams % 1000:03d}"


def _ean(rng: random.Random) -> str:
    digits = "400" + f"{rng.randrange(10**9):09d}"
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return digits + str(check)


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(f"{name} must be an integer {low}..{high}, got {value!r}")
