"""Order items and totals (reference §6.1, §6.3): line, shipping, fee and coupon lines, taxes.

Item writes follow `prepare_line_items`/`prepare_shipping_lines`/...: an item with `id` updates that
item (`quantity:0` or a null `method_id`/`name`/`code` removes it, an unknown id → 400
`woocommerce_rest_invalid_item_id`); an item without id is added and needs a product reference
(400 `woocommerce_rest_required_product_reference`). `recalculate` is `calculate_totals()`:
coupon discounts on the line totals, tax per line at the rate of the shipping (else billing) country,
taxed shipping and taxable fees, then
`total = Σ line subtotals − discount_total + shipping_total + Σ fees + total_tax`.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sandbox.woo import catalog
from sandbox.woo.catalog import get
from sandbox.woo.rest import ApiError, money
from sandbox.woo.store import COUPONS, TAX_RATES

CENT = Decimal("0.01")
ZERO = Decimal("0")


def dec(value, default: Decimal = ZERO) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else default
    except InvalidOperation:
        return default


def round2(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def raw(d: Decimal) -> str:
    """PHP float-to-string of a stored tax amount: "9", "1.8"."""
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _item(items: list, posted: dict) -> dict | None:
    """The existing item a posted entry with `id` targets, None for a new one."""
    if not posted.get("id"):
        return None
    for it in items:
        if it["id"] == posted["id"]:
            return it
    raise ApiError("woocommerce_rest_invalid_item_id", "Order item ID provided is not associated with order.", 400)


def _product_for(store, posted: dict) -> dict:
    items = store.products.items
    if posted.get("sku"):
        pid = store.sku_owner(str(posted["sku"]))
    else:
        pid = posted.get("variation_id") or posted.get("product_id")
    if not pid:
        raise ApiError("woocommerce_rest_required_product_reference", "Product ID or SKU is required.", 400)
    rec = items.get(int(pid)) if str(pid).isdigit() else None
    if rec is None or rec["status"] == "trash":
        raise ApiError("woocommerce_rest_invalid_product_id", "Invalid product ID or SKU.", 400)
    return rec


def new_line(store, product: dict, quantity: int, custom: dict | None = None) -> dict:
    """A line item for `product` (a variation gives product_id = parent, variation_id = itself)."""
    custom = custom or {}
    is_var = product["type"] == "variation"
    parent = store.products.items.get(get(product, "parent_id")) if is_var else None
    unit = dec(catalog.price(store, product))
    subtotal = dec(custom.get("subtotal"), unit * quantity)
    meta = []
    if is_var:
        names = {catalog.sanitize_title(a["name"]): a["name"] for a in get(parent or {}, "attributes")}
        meta = [{"id": store.next_id("meta"), "key": k, "value": v, "display_key": names.get(k, k), "display_value": v}
                for k, v in get(product, "options").items()]
    return {"id": store.next_id("item"), "name": catalog.display_name(store, product),
            "product_id": parent["id"] if parent else product["id"], "variation_id": product["id"] if is_var else 0,
            "quantity": quantity, "tax_class": get(product, "tax_class"), "subtotal": subtotal,
            "base_total": dec(custom.get("total"), subtotal), "meta_data": meta,
            "parent_name": get(parent, "name") if parent else None, "taxable": get(product, "tax_status") == "taxable"}


def apply_line_items(store, order: dict, posted_items: list) -> None:
    items = order["line_items"]
    for posted in (p for p in posted_items if isinstance(p, dict)):
        existing = _item(items, posted)
        qty = posted.get("quantity")
        if existing is None:
            items.append(new_line(store, _product_for(store, posted), int(qty if qty is not None else 1), posted))
            continue
        if qty is not None and int(qty) == 0:
            items.remove(existing)
            continue
        if qty is not None:
            product = store.products.items.get(existing["variation_id"] or existing["product_id"])
            unit = (dec(catalog.price(store, product)) if product
                    else existing["subtotal"] / max(existing["quantity"], 1))
            existing["quantity"] = int(qty)
            existing["subtotal"] = existing["base_total"] = unit * int(qty)
        for field in ("subtotal", "total"):
            if posted.get(field) not in (None, ""):
                existing["subtotal" if field == "subtotal" else "base_total"] = dec(posted[field])
        if posted.get("name"):
            existing["name"] = str(posted["name"])


def apply_other_lines(store, order: dict, key: str, posted_items: list) -> None:
    """shipping_lines (method_id), fee_lines (name), coupon_lines (code)."""
    required = {"shipping_lines": "method_id", "fee_lines": "name", "coupon_lines": "code"}[key]
    items = order[key]
    for posted in (p for p in posted_items if isinstance(p, dict)):
        existing = _item(items, posted)
        if existing is not None and required in posted and posted[required] is None:
            items.remove(existing)
            continue
        if existing is None and not posted.get(required):
            code = {"shipping_lines": "woocommerce_rest_invalid_shipping_item",
                    "fee_lines": "woocommerce_rest_invalid_fee_item",
                    "coupon_lines": "woocommerce_rest_invalid_coupon"}[key]
            raise ApiError(code, f"{required.replace('_', ' ').capitalize()} is required.", 400)
        if key == "coupon_lines" and posted.get("code") and str(posted["code"]).lower() not in COUPONS:
            raise ApiError("woocommerce_rest_invalid_coupon", f'Coupon "{posted["code"]}" does not exist!', 400)
        item = existing or {"id": store.next_id("item"), "meta_data": [], "total": ZERO}
        for field in ("method_id", "method_title", "instance_id", "name", "tax_status", "tax_class"):
            if field in posted and posted[field] is not None:
                item[field] = str(posted[field])
        if posted.get("code"):
            item["code"] = str(posted["code"]).lower()
        if "total" in posted:
            item["total"] = dec(posted["total"])
        if existing is None:
            items.append(item)


def tax_rate(order: dict) -> dict | None:
    country = order["shipping"].get("country") or order["billing"].get("country") or ""
    return TAX_RATES.get(country.upper())


def recalculate(store, order: dict) -> None:
    rate = tax_rate(order) if getattr(store, "taxes_enabled", True) else None
    pct = Decimal(rate["percent"]) / 100 if rate else ZERO
    coupons = [(c, Decimal(COUPONS[c["code"]]["amount"]) / 100)
               for c in order["coupon_lines"] if c.get("code") in COUPONS]
    for c, _ in coupons:
        c["discount"] = c["discount_tax"] = ZERO
    for it in order["line_items"]:
        total = it["base_total"]
        for c, share in coupons:
            d = round2(it["base_total"] * share)
            c["discount"] += d
            c["discount_tax"] += round2(d * pct) if it.get("taxable", True) else ZERO
            total -= d
        it["total"] = total
        r = pct if it.get("taxable", True) else ZERO
        it["subtotal_tax"], it["total_tax"] = round2(it["subtotal"] * r), round2(total * r)
        it["taxes"] = ([{"id": rate["id"], "total": raw(it["total_tax"]), "subtotal": raw(it["subtotal_tax"])}]
                       if rate and r else [])
    for s in order["shipping_lines"]:
        s["total_tax"] = round2(s["total"] * pct)
        s["taxes"] = [{"id": rate["id"], "total": raw(s["total_tax"]), "subtotal": ""}] if rate else []
    for f in order["fee_lines"]:
        taxable = f.get("tax_status", "taxable") == "taxable"
        f["total_tax"] = round2(f["total"] * pct) if taxable else ZERO
        f["taxes"] = [{"id": rate["id"], "total": raw(f["total_tax"]), "subtotal": ""}] if rate and taxable else []
    lines, fees, ships = order["line_items"], order["fee_lines"], order["shipping_lines"]
    cart_tax = sum((i["total_tax"] for i in lines), ZERO) + sum((f["total_tax"] for f in fees), ZERO)
    shipping_tax = sum((s["total_tax"] for s in ships), ZERO)
    t = {"discount_total": sum((i["subtotal"] - i["total"] for i in lines), ZERO),
         "discount_tax": sum((i["subtotal_tax"] - i["total_tax"] for i in lines), ZERO),
         "shipping_total": sum((s["total"] for s in ships), ZERO), "shipping_tax": shipping_tax,
         "cart_tax": cart_tax, "total_tax": cart_tax + shipping_tax}
    t["total"] = (sum((i["subtotal"] for i in lines), ZERO) - t["discount_total"] + t["shipping_total"]
                  + sum((f["total"] for f in fees), ZERO) + t["total_tax"])
    order["totals"] = t
    old = order["tax_lines"][0]["id"] if order["tax_lines"] else store.next_id("item")
    order["tax_lines"] = [{"id": old, "rate": rate, "tax_total": cart_tax, "shipping_tax_total": shipping_tax}] \
        if rate and t["total_tax"] else []


# ---------------------------------------------------------------- JSON

def render_line(store, it: dict) -> dict:
    product = store.products.items.get(it["variation_id"] or it["product_id"])
    qty = it["quantity"]
    unit = it["total"] / qty if qty else ZERO
    images = get(product, "images") if product else ()
    return {"id": it["id"], "name": it["name"], "product_id": it["product_id"], "variation_id": it["variation_id"],
            "quantity": qty, "tax_class": it["tax_class"], "subtotal": money(it["subtotal"]),
            "subtotal_tax": money(it["subtotal_tax"]), "total": money(it["total"]), "total_tax": money(it["total_tax"]),
            "taxes": [dict(t) for t in it["taxes"]], "meta_data": [dict(m) for m in it["meta_data"]],
            "sku": get(product, "sku") if product else None,
            "price": int(unit) if unit == unit.to_integral_value() else float(unit),
            "image": {"id": images[0]["id"], "src": images[0].get("src", "")} if images else {"id": "", "src": ""},
            "parent_name": it["parent_name"]}


def render_tax_line(t: dict) -> dict:
    r = t["rate"]
    return {"id": t["id"], "rate_code": r["code"], "rate_id": r["id"], "label": r["label"], "compound": False,
            "tax_total": money(t["tax_total"]), "shipping_tax_total": money(t["shipping_tax_total"]),
            "rate_percent": r["percent"], "meta_data": []}


def render_shipping_line(s: dict) -> dict:
    return {"id": s["id"], "method_title": s.get("method_title", ""), "method_id": s.get("method_id", ""),
            "instance_id": s.get("instance_id", ""), "total": money(s["total"]), "total_tax": money(s["total_tax"]),
            "taxes": [dict(t) for t in s["taxes"]], "meta_data": [dict(m) for m in s["meta_data"]]}


def render_fee_line(f: dict) -> dict:
    return {"id": f["id"], "name": f.get("name", ""), "tax_class": f.get("tax_class", ""),
            "tax_status": f.get("tax_status", "taxable"), "total": money(f["total"]),
            "total_tax": money(f["total_tax"]),
            "taxes": [dict(t) for t in f["taxes"]], "meta_data": [dict(m) for m in f["meta_data"]]}


def render_coupon_line(c: dict) -> dict:
    coupon = COUPONS.get(c["code"], {})
    return {"id": c["id"], "code": c["code"], "discount": money(c.get("discount", ZERO)),
            "discount_tax": money(c.get("discount_tax", ZERO)), "meta_data": [dict(m) for m in c["meta_data"]],
            "discount_type": coupon.get("discount_type", "fixed_cart"),
            "nominal_amount": float(coupon.get("amount", 0)),
            "free_shipping": False}
