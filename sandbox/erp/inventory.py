"""Warehouses and stock: `GET /warehouses` and `GET /inventory` (paged, `?warehouse=` filter), plus the
admin rules for defining warehouses and setting one stock row.

One row per (sku, warehouse); writing a row bumps that row's `modified_at` only. Which warehouses
count for web stock is the connector's configuration; `sellable` is only a hint.
"""
from __future__ import annotations

from flask import Blueprint, request

from . import API_PREFIX
from .errors import bad_request, not_found, validation_failed
from .paging import page_params
from .store import Store, current, stock_id

QUANTITIES = ("on_hand", "reserved", "safety_stock")
DEFAULT_NAMES = {"MAIN": "Main DC"}

bp = Blueprint("erp_inventory", __name__, url_prefix=API_PREFIX)


@bp.get("/warehouses")
def list_warehouses():
    store = current()
    with store.lock:
        return {"items": [dict(w) for w in store.warehouses.values()]}


@bp.get("/inventory")
def list_inventory():
    store = current()
    limit, cursor, since = page_params(request.args)
    warehouse = request.args.get("warehouse") or None
    with store.lock:
        if warehouse is not None and warehouse not in store.warehouses:
            raise bad_request(f"unknown warehouse {warehouse!r}")
        return store.inventory.page(limit, cursor, since, partition=warehouse)


def warehouse_specs(specs) -> list[dict]:
    """Normalise seed warehouses: a code string, or `{"code", "name"?, "sellable"?}`. Codes starting
    with RETURN are not sellable unless told otherwise."""
    if not isinstance(specs, list) or not specs:
        raise bad_request("warehouses must be a non-empty list")
    result = []
    for spec in specs:
        spec = {"code": spec} if isinstance(spec, str) else spec
        code = spec.get("code") if isinstance(spec, dict) else None
        if not isinstance(code, str) or not code:
            raise bad_request(f"bad warehouse {spec!r}")
        name = spec.get("name") or DEFAULT_NAMES.get(code, f"{code.title()} warehouse")
        sellable = spec.get("sellable", not code.upper().startswith("RETURN"))
        if not isinstance(sellable, bool):
            raise bad_request(f"warehouse {code}: sellable must be a boolean")
        result.append({"code": code, "name": name, "sellable": sellable})
    if len({w["code"] for w in result}) != len(result):
        raise bad_request("duplicate warehouse codes")
    return result


def checked_quantities(data: dict, defaults: dict | None = None) -> tuple[int, int, int]:
    """(on_hand, reserved, safety_stock) from `data`, missing ones from `defaults` or 0; 422 if not ints."""
    values, errors = [], {}
    for key in QUANTITIES:
        value = data.get(key, (defaults or {}).get(key, 0))
        if isinstance(value, bool) or not isinstance(value, int):
            errors[key] = "must be an integer"
        values.append(value)
    if errors:
        raise validation_failed(errors)
    return tuple(values)


def set_stock(store: Store, data: dict) -> dict:
    """Admin write of one row `{"sku", "warehouse", "on_hand"?, "reserved"?, "safety_stock"?}`.
    Always bumps that row's `modified_at`. Caller holds the lock."""
    sku, code = data.get("sku"), data.get("warehouse")
    product = store.product_for_sku(sku) if isinstance(sku, str) else None
    if product is None or product["is_parent"]:
        raise not_found(f"sellable product with SKU {sku!r}")
    if code not in store.warehouses:
        raise validation_failed({"warehouse": f"unknown warehouse {code!r}"})
    row_id = stock_id(sku, code)
    old = store.inventory.get(row_id) or {}
    row = {"sku": sku, "warehouse": code, **dict(zip(QUANTITIES, checked_quantities(data, old)))}
    store.inventory.put(row_id, row)
    return store.inventory.view(row_id)
