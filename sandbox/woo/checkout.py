"""`POST /_sandbox/checkout`: a shopper placing an order in the storefront (reference §6, §7.1, §11).

Resolves `lines[].sku` against the catalog (variation SKUs give a line with product_id = parent and
variation_id), refuses unknown SKUs, unpurchasable products and missing stock (400 with a reason),
fills realistic billing/shipping data, flat-rate shipping (4.90 in DE, 9.90 elsewhere), the coupon
(e.g. WINTER10 = 10 %), tax of the shipping country (19 % DE), `created_via:"checkout"`, and pays it
via `payment_complete()` for `processing`/`completed`. Fires order.created and order.updated (the
real checkout saves the order twice) and product.updated for each stock change. Optional: `company`
(billing and shipping) and extra order `meta_data` (a VAT plugin's key, say).

With the profile's `checkout_draft` (a real 8.2 block checkout, §11) the order is first saved as a
`checkout-draft` (order.created only), then paid as a separate save (order.updated); `"pay": false`
leaves it a draft until `POST /_sandbox/pay/<id>` (the shopper paying later).
"""
from __future__ import annotations

import hashlib
import random
import secrets

from flask import g, has_request_context

from sandbox.woo import catalog
from sandbox.woo.rest import ApiError, to_int

FIRST = ("Anna", "Jürgen", "Dana", "Lukas", "Mia", "Émile", "Sofia", "Noah", "Zoë", "Karl")
LAST = ("Schäfer", "Whitfield", "Müller", "Dubois", "Novak", "García", "Jansen", "Øster", "Keller", "Brown")
CITIES = {"DE": ("Berlin", "10115", "Torstraße 12"), "AT": ("Wien", "1010", "Graben 21"),
          "FR": ("Lyon", "69001", "12 Rue de la République"), "NL": ("Utrecht", "3511", "Oudegracht 99"),
          "US": ("Sacramento", "95814", "1840 Alder Street")}
PAYMENT_TITLES = {"stripe": "Credit Card (Stripe)", "paypal": "PayPal", "bacs": "Direct bank transfer",
                  "cod": "Cash on delivery", "cheque": "Check payments"}
BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.4 Safari/605.1.15")


def _bad(code: str, message: str, **data) -> ApiError:
    return ApiError(code, message, 400, **data)


def _line(store, spec) -> dict:
    if not isinstance(spec, dict) or not spec.get("sku"):
        raise _bad("sandbox_invalid_checkout", "Every line needs a sku.")
    qty = spec.get("quantity", 1)
    if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
        raise _bad("sandbox_invalid_checkout", f"Line {spec['sku']}: quantity must be a positive integer.")
    pid = store.sku_owner(str(spec["sku"]))
    if pid is None:
        raise _bad("sandbox_unknown_sku", f"No product with SKU {spec['sku']!r} in the store.", sku=spec["sku"])
    product = store.products.items[pid]
    parent = store.products.items.get(catalog.get(product, "parent_id")) if product["type"] == "variation" else None
    if (product["type"] in ("variable", "grouped") or catalog.price(store, product) == ""
            or catalog.get(parent or product, "status") != "publish"):
        raise _bad("sandbox_not_purchasable", f"Product {spec['sku']!r} cannot be purchased.", sku=spec["sku"])
    owner = catalog.stock_owner(store, product)
    if catalog.stock_status(store, owner) == "outofstock" or (
            catalog.get(owner, "manage_stock") and catalog.get(owner, "backorders") == "no"
            and (catalog.get(owner, "stock_quantity") or 0) < qty):
        raise _bad("sandbox_out_of_stock", f"Not enough stock for {spec['sku']!r}.", sku=spec["sku"])
    return {"sku": spec["sku"], "quantity": qty}


def checkout(sb, spec: dict) -> dict:
    store = sb.store
    raw_lines = spec.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise _bad("sandbox_invalid_checkout", "lines must be a non-empty list of {sku, quantity}.")
    status = spec.get("status", "processing")
    method = spec.get("payment_method", "stripe")
    country = str(spec.get("shipping_country", "DE")).upper()
    rng = random.Random(spec.get("seed"))
    with store.lock:
        items = [_line(store, x) for x in raw_lines]
        cid = to_int(spec.get("customer_id"))
        person = store.customers.get(cid) or {"first_name": rng.choice(FIRST), "last_name": rng.choice(LAST)}
        email = spec.get("email") or person.get("email") or (
            f"{catalog.sanitize_title(person['first_name'])}.{rng.randrange(1000, 9999)}@example.org")
        if cid and cid not in store.customers:  # "create an account" at checkout
            store.customers[cid] = dict(person, id=cid, email=email)
        city, postcode, street = CITIES.get(country, CITIES["DE"])
        address = {"first_name": person["first_name"], "last_name": person["last_name"],
                   "company": str(spec.get("company", "")),
                   "address_1": street, "address_2": "", "city": city, "state": "", "postcode": postcode,
                   "country": country}
        params = {
            "customer_id": cid, "billing": dict(address, email=email, phone="+49 30 1234567"),
            "shipping": dict(address, phone=""), "payment_method": method,
            "payment_method_title": PAYMENT_TITLES.get(method, method.title()), "line_items": items,
            "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat rate", "instance_id": "1",
                                "total": "4.90" if country == "DE" else "9.90"}],
            "coupon_lines": [{"code": spec["coupon"]}] if spec.get("coupon") else [],
            "customer_note": str(spec.get("customer_note", "")),
            "meta_data": [{"key": "is_vat_exempt", "value": "no"},
                          {"key": "_wc_order_attribution_source_type", "value": "typein"},
                          *(m for m in spec.get("meta_data") or [] if isinstance(m, dict))],
        }
        if status in ("processing", "completed"):
            params["set_paid"] = True
            params["transaction_id"] = "pi_" + secrets.token_hex(12) if method == "stripe" else ""
            if status == "completed":
                params["status"] = "completed"
        else:
            params["status"] = status
        extra = {"created_via": "checkout", "customer_ip_address": f"203.0.113.{rng.randrange(1, 255)}",
                 "customer_user_agent": BROWSER,
                 "cart_hash": hashlib.md5(repr(items).encode()).hexdigest()}
        if not (sb.profile["checkout_draft"] and status in ("processing", "completed")):
            return sb.orders.create(params, extra=extra)
        payment = {k: params.pop(k) for k in ("set_paid", "transaction_id", "status") if k in params}
        extra["draft_payment"] = payment
        draft = sb.orders.create(dict(params, status="checkout-draft"), extra=extra, updated=False)
        if spec.get("pay", True) is False:
            return draft
        return pay(sb, draft["id"])


def pay(sb, order_id: int) -> dict:
    """The shopper completes a checkout draft: a new save of the order (its own order.updated)."""
    store = sb.store
    with store.lock:
        rec = store.orders.items.get(order_id)
        if rec is None or rec["status"] != "checkout-draft":
            raise _bad("sandbox_not_a_draft", f"Order {order_id} is not a checkout draft.")
        payment = rec.pop("draft_payment", None) or {"set_paid": True}
        rec["status"] = "pending"  # placing the order turns the draft into a pending order, then it is paid
        if has_request_context():
            g.woo_seen = set()  # in a real shop the payment is another request
        return sb.orders.update(rec, payment)
