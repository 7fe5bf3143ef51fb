"""Products: `GET /products` (paged, or `?sku=A,B` without paging) and `GET /products/{id}`, plus the
record builder and the admin create/update rules used by the seed and `/_sandbox/products`.

A parent (template) has `is_parent: true` and no stock; a variant points at it with `parent_id`.
"""
from __future__ import annotations

from flask import Blueprint, request

from . import API_PREFIX
from .errors import ApiError, bad_request, not_found, validation_failed
from .inventory import checked_quantities
from .money import format_decimal, parse_decimal
from .paging import page_params
from .store import Store, current

MAX_SKUS = 100
EDITABLE = {"name": str, "description": str, "list_price": str, "currency": str, "tax_class": str,
            "is_active": bool, "weight_kg": str, "ean": str, "category_code": str, "attributes": dict}

bp = Blueprint("erp_products", __name__, url_prefix=API_PREFIX)


@bp.get("/products")
def list_products():
    store = current()
    if "sku" in request.args:
        skus = [s.strip() for s in request.args["sku"].split(",") if s.strip()]
        if len(skus) > MAX_SKUS:
            raise bad_request(f"at most {MAX_SKUS} SKUs per request, got {len(skus)}")
        with store.lock:
            ids = dict.fromkeys(store.product_by_sku[s] for s in skus if s in store.product_by_sku)
            return {"items": [store.products.view(pid) for pid in ids], "next_cursor": None}
    limit, cursor, since = page_params(request.args)
    with store.lock:
        return store.products.page(limit, cursor, since)


@bp.get("/products/<id>")
def get_product(id):
    store = current()
    with store.lock:
        if id not in store.products:
            raise not_found(f"product {id}")
        return store.products.view(id)


def make_product(product_id: str, sku: str, **fields) -> dict:
    product = {"id": product_id, "sku": sku, "parent_id": None, "is_parent": False, "name": sku,
               "description": "", "list_price": "0.00", "currency": "EUR", "tax_class": "standard",
               "is_active": True, "weight_kg": "0.000", "ean": "", "category_code": "GENERAL",
               "attributes": {}}
    product.update(fields)
    return product


def new_product_id(store: Store) -> str:
    return f"P-{store.next_number('product'):06d}"


def create_product(store: Store, data: dict) -> dict:
    """Admin create: `sku` plus any editable field, `is_parent`, `parent_sku`, and optional
    `stock: {warehouse: {on_hand, reserved, safety_stock}}`. Caller holds the lock."""
    sku = data.get("sku")
    if not isinstance(sku, str) or not sku.strip():
        raise validation_failed({"sku": "required"})
    if sku in store.product_by_sku:
        raise ApiError(409, f"SKU {sku} already exists")
    fields = _checked_fields({k: v for k, v in data.items() if k in EDITABLE})
    parent_id = None
    if data.get("parent_sku") is not None:
        parent = store.product_for_sku(str(data["parent_sku"]))
        if parent is None or not parent["is_parent"]:
            raise validation_failed({"parent_sku": f"no parent product with SKU {data['parent_sku']!r}"})
        parent_id = parent["id"]
    is_parent = bool(data.get("is_parent", False))
    if is_parent and parent_id:
        raise validation_failed({"is_parent": "a variant cannot be a parent"})
    stock = data.get("stock") or {}
    if not isinstance(stock, dict) or not all(isinstance(q, dict) for q in stock.values()):
        raise validation_failed({"stock": "must be {warehouse: {on_hand, reserved, safety_stock}}"})
    unknown = sorted(set(stock) - set(store.warehouses))
    if unknown:
        raise validation_failed({"stock": f"unknown warehouses {unknown}"})
    quantities = {code: checked_quantities(stock.get(code, {})) for code in store.warehouses}
    fields.setdefault("list_price", "10.00")
    product = make_product(new_product_id(store), sku, parent_id=parent_id, is_parent=is_parent, **fields)
    store.add_product(product)
    if not is_parent:
        store.add_stock_rows(sku, quantities=quantities.__getitem__)
    return store.products.view(product["id"])


def update_product(store: Store, sku: str, changes: dict) -> dict:
    """Admin update of editable fields; bumps `modified_at`. Caller holds the lock."""
    product = store.product_for_sku(sku)
    if product is None:
        raise not_found(f"product with SKU {sku}")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise validation_failed({k: "not editable" for k in unknown})
    product.update(_checked_fields(changes))
    store.products.touch(product["id"])
    return store.products.view(product["id"])


def _checked_fields(fields: dict) -> dict:
    errors = {k: f"must be {EDITABLE[k].__name__}" for k, v in fields.items()
              if not isinstance(v, EDITABLE[k])}
    for key, places in (("list_price", 2), ("weight_kg", 3)):
        if key in fields and key not in errors:
            number = parse_decimal(fields[key])
            if number is None:
                errors[key] = "must be a decimal string"
            else:
                fields[key] = format_decimal(number, places)
    if errors:
        raise validation_failed(errors)
    return fields
