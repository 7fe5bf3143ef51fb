"""The `/_sandbox` administration endpoints (not part of a real ERP), open without auth on loopback.

reset, seed, mutate, faults, config, stats and the request log, plus precise test helpers:
create/update a product, set one stock row, confirm or ship an order. `ErpSandboxAdmin` in
admin.py is the Python client for all of them.
"""
from __future__ import annotations

from flask import Blueprint, request

from . import ADMIN_PREFIX, faults, store as stores, traffic
from .categories import put_category
from .errors import bad_request
from .inventory import set_stock
from .mutate import mutate
from .orders import confirm_order
from .products import create_product, update_product
from .seed import seed
from .shipments import ship

bp = Blueprint("erp_sandbox", __name__, url_prefix=ADMIN_PREFIX)


def _body() -> dict:
    if not request.content_length:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body


@bp.post("/reset")
def reset():
    stores.current().reset()
    faults.current().clear()
    traffic.current().clear()
    return {"reset": True}


@bp.post("/seed")
def seed_data():
    body = _body()
    store = stores.current()
    with store.lock:
        return seed(store, body.get("products", 0), body.get("variants_per_parent", 0),
                    body.get("warehouses"), body.get("seed", 42))


@bp.post("/mutate")
def mutate_data():
    body = _body()
    store = stores.current()
    with store.lock:
        return mutate(store, body.get("kind"), body.get("count", 1))


@bp.get("/faults")
def get_faults():
    return {"rules": faults.current().rules()}


@bp.put("/faults")
def put_faults():
    body = _body()
    return {"rules": faults.current().set_rules(body.get("rules"), body.get("seed"))}


@bp.delete("/faults")
def delete_faults():
    faults.current().clear()
    return {"rules": []}


@bp.get("/config")
def get_config():
    return dict(stores.current().config)


@bp.put("/config")
def put_config():
    body, store = _body(), stores.current()
    unknown = sorted(set(body) - set(store.config))
    if unknown:
        raise bad_request(f"unknown config keys {unknown}; known: {sorted(store.config)}")
    if not isinstance(body.get("enforce_unique_external_ref", False), bool):
        raise bad_request("enforce_unique_external_ref must be a boolean")
    latency = body.get("latency_ms", 0)
    if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= 600_000:
        raise bad_request("latency_ms must be an integer 0..600000")
    with store.lock:
        store.config.update(body)
        return dict(store.config)


@bp.get("/stats")
def stats():
    store = stores.current()
    with store.lock:
        by_ref = store.orders_by_external_ref()
    return {**traffic.current().counts(), "orders_by_external_ref": by_ref}


@bp.get("/requests")
def request_log():
    limit = request.args.get("limit", type=int)
    return {"items": traffic.current().entries(request.args.get("correlation_id"), limit)}


@bp.post("/products")
def add_product():
    body, store = _body(), stores.current()
    with store.lock:
        return create_product(store, body), 201


@bp.patch("/products/<sku>")
def change_product(sku):
    body, store = _body(), stores.current()
    with store.lock:
        return update_product(store, sku, body)


@bp.put("/categories/<code>")
def change_category(code):
    body, store = _body(), stores.current()
    with store.lock:
        return put_category(store, code, body)


@bp.put("/inventory")
def put_stock():
    body, store = _body(), stores.current()
    with store.lock:
        return set_stock(store, body)


@bp.post("/sales-orders/<id>/confirm")
def confirm(id):
    store = stores.current()
    with store.lock:
        return confirm_order(store, id)


@bp.post("/sales-orders/<id>/ship")
def ship_order(id):
    body, store = _body(), stores.current()
    with store.lock:
        return ship(store, id, body.get("lines"), body.get("carrier") or "DHL",
                    body.get("tracking_number")), 201
