"""Product and variation model: schema checks, writes and the two JSON shapes (reference §4).

Follows `WC_REST_Products_Controller` / `WC_REST_Product_Variations_Controller` (v3):
string prices (numeric → 400 `rest_invalid_param`), sale price and sale dates, stock fields only
applied when `manage_stock` is on (else `stock_quantity` becomes null, §4.3), stock status derived
from the quantity, variable parents with `""` prices and a price/stock status from their children,
`manage_stock:"parent"` on variations, `meta_data` upsert by key, unique SKUs across products and
variations (400 `product_invalid_sku` with `resource_id`/`unique_sku`), `date_modified` bumped on save.
Records store only non-default fields, so 100k seeded products stay small.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from sandbox.woo.rest import ApiError, clean_decimal, fmt_date, parse_date, to_int, validate

DEFAULTS = {
    "name": "", "slug": "", "type": "simple", "status": "publish", "featured": False,
    "catalog_visibility": "visible", "description": "", "short_description": "", "sku": "",
    "regular_price": "", "sale_price": "", "sale_from": None, "sale_to": None, "virtual": False,
    "downloadable": False, "tax_status": "taxable", "tax_class": "", "manage_stock": False,
    "stock_quantity": None, "stock_status": "instock", "backorders": "no", "low_stock_amount": None,
    "sold_individually": False, "weight": "", "dimensions": {"length": "", "width": "", "height": ""},
    "shipping_class": "", "reviews_allowed": True, "parent_id": 0, "purchase_note": "", "categories": None,
    "tags": (), "images": (), "attributes": (), "default_attributes": (), "variations": (), "menu_order": 0,
    "meta_data": (), "total_sales": 0, "external_url": "", "button_text": "", "options": {}, "image": None,
    "global_unique_id": "",
}
UNCATEGORIZED = [{"id": 15, "name": "Uncategorized", "slug": "uncategorized"}]
STOCK_STATUSES = ("instock", "outofstock", "onbackorder")
COMMON_SCHEMA = {
    "description": "string", "sku": "string", "regular_price": "string", "sale_price": "string",
    "date_on_sale_from": "date?", "date_on_sale_from_gmt": "date?", "date_on_sale_to": "date?",
    "date_on_sale_to_gmt": "date?", "virtual": "boolean", "downloadable": "boolean",
    "tax_status": ("taxable", "shipping", "none"), "tax_class": "string", "stock_quantity": "integer",
    "inventory_delta": "integer", "stock_status": STOCK_STATUSES, "backorders": ("no", "notify", "yes"),
    "low_stock_amount": "integer?", "weight": "string", "dimensions": "object", "shipping_class": "string",
    "attributes": "array", "menu_order": "integer", "meta_data": "array", "global_unique_id": "string",
}
PRODUCT_SCHEMA = dict(COMMON_SCHEMA, **{
    "name": "string", "slug": "string", "type": ("simple", "grouped", "external", "variable"),
    "status": ("draft", "pending", "private", "publish", "future"), "featured": "boolean",
    "catalog_visibility": ("visible", "catalog", "search", "hidden"), "short_description": "string",
    "manage_stock": "boolean", "sold_individually": "boolean", "reviews_allowed": "boolean",
    "parent_id": "integer", "purchase_note": "string", "categories": "array", "tags": "array",
    "images": "array", "default_attributes": "array", "external_url": "string", "button_text": "string",
})
VARIATION_SCHEMA = dict(COMMON_SCHEMA, status=("draft", "pending", "private", "publish"), manage_stock="stock",
                        image="object?")
SIMPLE_FIELDS = ("name", "description", "short_description", "featured", "catalog_visibility", "virtual",
                 "downloadable", "tax_status", "tax_class", "sold_individually", "weight", "shipping_class",
                 "reviews_allowed", "purchase_note", "menu_order", "external_url", "button_text", "status")


def product_refs(store, refs) -> list[dict]:
    """A product's `categories` as WooCommerce answers them: the terms' current name and slug; ids of terms
    that do not exist are dropped (sandbox/woo/categories.py holds the terms)."""
    out = []
    for ref in refs or []:
        term = store.categories.get(to_int(ref.get("id"))) if isinstance(ref, dict) else None
        if term is not None:
            out.append({"id": term["id"], "name": term["name"], "slug": term["slug"]})
    return out


def get(rec: dict, field: str):
    return rec.get(field, DEFAULTS[field])


def sanitize_title(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def invalid_id(store_kind: str, status: int) -> ApiError:
    return ApiError(f"woocommerce_rest_{store_kind}_invalid_id", "Invalid ID.", status)


# ---------------------------------------------------------------- derived values

def children(store, rec: dict) -> list[dict]:
    items = store.products.items
    return [items[i] for i in get(rec, "variations") if i in items and items[i]["status"] != "trash"]


def on_sale(store, rec: dict) -> bool:
    if get(rec, "type") == "variable":
        return any(on_sale(store, c) for c in children(store, rec))
    sale, regular = get(rec, "sale_price"), get(rec, "regular_price")
    if sale == "" or regular == "" or Decimal(sale) >= Decimal(regular):
        return False
    now = store.now()
    start, end = get(rec, "sale_from"), get(rec, "sale_to")
    return (start is None or start <= now) and (end is None or end >= now)


def price(store, rec: dict) -> str:
    if get(rec, "type") == "variable":
        prices = [price(store, c) for c in children(store, rec) if get(c, "status") == "publish"]
        prices = [p for p in prices if p != ""]
        return min(prices, key=Decimal) if prices else ""
    return get(rec, "sale_price") if on_sale(store, rec) else get(rec, "regular_price")


def stock_owner(store, rec: dict) -> dict:
    """The record whose stock applies: a variation without own stock uses a stock-managing parent."""
    if rec["type"] == "variation" and not get(rec, "manage_stock"):
        parent = store.products.items.get(get(rec, "parent_id"))
        if parent and get(parent, "manage_stock"):
            return parent
    return rec


def stock_status(store, rec: dict) -> str:
    if get(rec, "type") == "variable" and not get(rec, "manage_stock"):
        statuses = {stock_status(store, c) for c in children(store, rec)}
        return next((s for s in STOCK_STATUSES if s in statuses), "outofstock")
    return get(rec, "stock_status")


def derive_stock_status(rec: dict) -> None:
    """validate_props(): a managed product's status follows its quantity."""
    if get(rec, "manage_stock") and get(rec, "type") != "variable":
        qty = get(rec, "stock_quantity") or 0
        rec["stock_status"] = ("instock" if qty > 0 else
                               "onbackorder" if get(rec, "backorders") != "no" else "outofstock")


def display_name(store, rec: dict) -> str:
    if rec["type"] != "variation":
        return get(rec, "name")
    parent = store.products.items.get(get(rec, "parent_id"))
    base = get(parent, "name") if parent else ""
    options = [v for v in get(rec, "options").values() if v]
    return f"{base} - {', '.join(options)}" if options and len(options) <= 2 else base


# ---------------------------------------------------------------- writes

def check_write(store, params: dict, is_variation: bool, current: dict | None, strict: bool = True) -> dict:
    """Schema validation (skipped for batch items: strict=False) and the SKU uniqueness check.

    Returns sanitized params; raises before anything is saved."""
    params = validate(params, VARIATION_SCHEMA if is_variation else PRODUCT_SCHEMA, strict)
    sku = params.get("sku")
    if isinstance(sku, str) and sku.strip():
        own_id = current["id"] if current else 0
        owner = store.sku_owner(sku.strip(), exclude_id=own_id)
        if owner is not None:
            n, base = 1, sku.strip()
            while store.sku_owner(f"{base}-{n}", exclude_id=own_id) is not None:
                n += 1
            raise ApiError("product_invalid_sku", "Invalid or duplicated SKU.", 400,
                           resource_id=owner, unique_sku=f"{base}-{n}")
    gtin = params.get("global_unique_id")
    if isinstance(gtin, str) and gtin.strip():  # WooCommerce 9.2+: digits and hyphens, unique over products
        owner = store.gtins.get(gtin.strip())
        if not all(c.isdigit() or c == "-" for c in gtin.strip()) or (
                owner is not None and owner != (current["id"] if current else 0)
                and (store.products.items.get(owner) or {}).get("status") != "trash"):
            raise ApiError("product_invalid_global_unique_id", "Invalid or duplicated GTIN, UPC, EAN or ISBN.",
                           400, resource_id=owner or 0)
    return params


def apply_write(store, rec: dict, p: dict) -> None:
    """Apply checked params to a record (create or update); the caller bumps dates and indexes."""
    is_variation = rec["type"] == "variation"
    for field in SIMPLE_FIELDS:
        if field in p and (field != "status" or p[field]):
            rec[field] = p[field]
    if "type" in p and not is_variation:
        rec["type"] = p["type"]
    if p.get("slug"):
        rec["slug"] = store.unique_slug(sanitize_title(p["slug"]))
    if "sku" in p:
        store.set_sku(rec, p["sku"].strip())
    if "global_unique_id" in p and isinstance(p["global_unique_id"], str):
        old = get(rec, "global_unique_id")
        if old and store.gtins.get(old) == rec["id"]:
            del store.gtins[old]
        rec["global_unique_id"] = p["global_unique_id"].strip()
        if rec["global_unique_id"]:
            store.gtins[rec["global_unique_id"]] = rec["id"]
    if "dimensions" in p:
        rec["dimensions"] = {k: str(p["dimensions"].get(k, get(rec, "dimensions")[k])) for k in DEFAULTS["dimensions"]}
    for field in ("categories", "tags", "images", "default_attributes"):
        if field in p:
            rec[field] = [_with_id(store, x) for x in p[field] if isinstance(x, dict)]
    if "image" in p:
        rec["image"] = _with_id(store, p["image"]) if p["image"] else None
    if "attributes" in p:
        _apply_attributes(store, rec, p["attributes"])
    _apply_prices(store, rec, p)
    _apply_stock(rec, p, is_variation)
    if isinstance(p.get("meta_data"), list):
        store.upsert_meta(rec.setdefault("meta_data", []), p["meta_data"])
    if get(rec, "type") == "variable":
        rec["regular_price"] = rec["sale_price"] = ""


def _with_id(store, obj: dict) -> dict:
    return dict(obj, id=obj.get("id") or store.next_id("post"))


def _apply_attributes(store, rec: dict, attributes: list) -> None:
    if rec["type"] != "variation":
        out = []
        for i, a in enumerate(x for x in attributes if isinstance(x, dict) and x.get("name")):
            options = a.get("options", [])
            if isinstance(options, str):
                options = [o.strip() for o in options.split("|") if o.strip()]
            out.append({"id": to_int(a.get("id")), "name": str(a["name"]), "position": to_int(a.get("position"), i),
                        "visible": bool(a.get("visible", False)), "variation": bool(a.get("variation", False)),
                        "options": [str(o) for o in options]})
        rec["attributes"] = out
        return
    parent = store.products.items.get(get(rec, "parent_id"), {})
    allowed = {sanitize_title(a["name"]): a["name"] for a in get(parent, "attributes") if a["variation"]}
    chosen = {}
    for a in attributes:
        key = sanitize_title(str(a.get("name", ""))) if isinstance(a, dict) else ""
        if key in allowed:
            chosen[key] = str(a.get("option", ""))
    rec["options"] = chosen


def _apply_prices(store, rec: dict, p: dict) -> None:
    for field in ("regular_price", "sale_price"):
        if field in p:
            rec[field] = clean_decimal(p[field])
    for field, key in (("date_on_sale_from", "sale_from"), ("date_on_sale_to", "sale_to")):
        for name, tz in ((field, store.offset), (field + "_gmt", 0)):
            if name in p:
                rec[key] = parse_date(p[name], tz) if p[name] else None


def _apply_stock(rec: dict, p: dict, is_variation: bool) -> None:
    if "manage_stock" in p:
        rec["manage_stock"] = p["manage_stock"] is True
    if "stock_status" in p:
        rec["stock_status"] = p["stock_status"]
    if "backorders" in p:
        rec["backorders"] = p["backorders"]
    if get(rec, "manage_stock"):
        if "stock_quantity" in p:
            rec["stock_quantity"] = p["stock_quantity"]
        elif "inventory_delta" in p:
            rec["stock_quantity"] = (get(rec, "stock_quantity") or 0) + p["inventory_delta"]
        if "low_stock_amount" in p:
            rec["low_stock_amount"] = p["low_stock_amount"]
        if get(rec, "stock_quantity") is None:
            rec["stock_quantity"] = 0
    else:
        rec["stock_quantity"] = None
        rec["low_stock_amount"] = None
        if is_variation:
            rec["backorders"] = "no"
    derive_stock_status(rec)


# ---------------------------------------------------------------- JSON shapes

def _dates(store, rec: dict) -> dict:
    off = store.offset
    return {"date_created": fmt_date(rec["created"], off), "date_created_gmt": fmt_date(rec["created"]),
            "date_modified": fmt_date(rec["modified"], off), "date_modified_gmt": fmt_date(rec["modified"])}


def _common(store, rec: dict) -> dict:
    off, owner = store.offset, stock_owner(store, rec)
    manage = get(rec, "manage_stock")
    if rec["type"] == "variation" and owner is not rec:
        manage = "parent"
    status = stock_status(store, rec)
    backorders = get(owner, "backorders")
    return {
        "sku": get(rec, "sku"), "global_unique_id": get(rec, "global_unique_id"),
        "price": price(store, rec), "regular_price": get(rec, "regular_price"),
        "sale_price": get(rec, "sale_price"),
        "date_on_sale_from": fmt_date(get(rec, "sale_from"), off),
        "date_on_sale_from_gmt": fmt_date(get(rec, "sale_from")),
        "date_on_sale_to": fmt_date(get(rec, "sale_to"), off), "date_on_sale_to_gmt": fmt_date(get(rec, "sale_to")),
        "on_sale": on_sale(store, rec), "status": get(rec, "status"),
        "purchasable": price(store, rec) != "" and get(rec, "status") in ("publish", "private"),
        "virtual": get(rec, "virtual"), "downloadable": get(rec, "downloadable"), "downloads": [],
        "download_limit": -1, "download_expiry": -1, "tax_status": get(rec, "tax_status"),
        "tax_class": get(rec, "tax_class"), "manage_stock": manage, "stock_quantity": get(owner, "stock_quantity"),
        "stock_status": status, "backorders": backorders, "backorders_allowed": backorders != "no",
        "backordered": status == "onbackorder", "low_stock_amount": get(owner, "low_stock_amount"),
        "weight": get(rec, "weight"), "dimensions": dict(get(rec, "dimensions")),
        "shipping_class": get(rec, "shipping_class"), "shipping_class_id": 0,
    }


def permalink(store, rec: dict) -> str:
    if rec["type"] == "variation":
        parent = store.products.items.get(get(rec, "parent_id"), {})
        query = "&".join(f"attribute_{k}={v}" for k, v in get(rec, "options").items())
        return f"{store.home_url}/product/{get(parent, 'slug')}/" + (f"?{query}" if query else "")
    return f"{store.home_url}/product/{get(rec, 'slug')}/"


def _variation_attributes(store, rec: dict) -> list[dict]:
    parent = store.products.items.get(get(rec, "parent_id"), {})
    names = {sanitize_title(a["name"]): a["name"] for a in get(parent, "attributes")}
    return [{"id": 0, "name": names.get(k, k), "option": v} for k, v in get(rec, "options").items()]


def render_product(store, rec: dict) -> dict:
    """`GET products/<id>` shape; variations come out with `type:"variation"` and `parent_id` (§4.4)."""
    is_variation = rec["type"] == "variation"
    links = {"self": [{"href": store.api_url(f"products/{rec['id']}")}],
             "collection": [{"href": store.api_url("products")}]}
    if get(rec, "parent_id"):
        links["up"] = [{"href": store.api_url(f"products/{get(rec, 'parent_id')}")}]
    ids = [c["id"] for c in children(store, rec)] if get(rec, "type") == "variable" else []
    return {
        "id": rec["id"], "name": display_name(store, rec), "slug": get(rec, "slug"), "permalink": permalink(store, rec),
        **_dates(store, rec), "type": get(rec, "type"), "featured": get(rec, "featured"),
        "catalog_visibility": get(rec, "catalog_visibility"), "description": get(rec, "description"),
        "short_description": get(rec, "short_description"), "price_html": "", **_common(store, rec),
        "total_sales": get(rec, "total_sales"), "external_url": get(rec, "external_url"),
        "button_text": get(rec, "button_text"), "sold_individually": get(rec, "sold_individually"),
        "shipping_required": not get(rec, "virtual"),
        "shipping_taxable": get(rec, "tax_status") in ("taxable", "shipping"),
        "reviews_allowed": get(rec, "reviews_allowed"), "average_rating": "0.00", "rating_count": 0,
        "related_ids": [], "upsell_ids": [], "cross_sell_ids": [], "parent_id": get(rec, "parent_id"),
        "purchase_note": get(rec, "purchase_note"), "categories": product_refs(store, get(rec, "categories")) or list(UNCATEGORIZED),
        "tags": list(get(rec, "tags")), "images": list(get(rec, "images")),
        "attributes": _variation_attributes(store, rec) if is_variation else [dict(a) for a in get(rec, "attributes")],
        "default_attributes": list(get(rec, "default_attributes")), "variations": ids, "grouped_products": [],
        "menu_order": get(rec, "menu_order"), "meta_data": [dict(m) for m in get(rec, "meta_data")], "_links": links,
    }


def render_variation(store, rec: dict) -> dict:
    """`GET products/<pid>/variations/<id>` shape (no name/type/parent_id, §4.4)."""
    pid = get(rec, "parent_id")
    base = f"products/{pid}/variations"
    return {
        "id": rec["id"], **_dates(store, rec), "description": get(rec, "description"),
        "permalink": permalink(store, rec), **_common(store, rec), "image": get(rec, "image"),
        "attributes": _variation_attributes(store, rec), "menu_order": get(rec, "menu_order"),
        "meta_data": [dict(m) for m in get(rec, "meta_data")],
        "_links": {"self": [{"href": store.api_url(f"{base}/{rec['id']}")}],
                   "collection": [{"href": store.api_url(base)}],
                   "up": [{"href": store.api_url(f"products/{pid}")}]},
    }
