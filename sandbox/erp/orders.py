"""Sales orders: create (`POST /sales-orders`), lookup by `external_ref`, get, amend (`PATCH`), cancel.

`external_ref` is not unique by default (two POSTs make two orders; idempotency is the connector's
job); with config `enforce_unique_external_ref` a repeat answers 409. Statuses: open, confirmed,
partially_shipped, shipped, cancelled. An order reserves its quantities in its warehouse (named
in the body as `warehouse`, else chosen; the answer says which) and a cancel releases what is still
reserved (sandbox/erp/reservations.py).

Amending (contract v1.1): `PATCH /sales-orders/{id}` with any of AMENDABLE, validated as a create, while the
order is open or confirmed (else `409` code `not_amendable`); every PATCH bumps `revision` (1 at creation)
and `modified_at`; `If-Match: <revision>` (or `"revision"` in the body) that is not the current revision is
`412 precondition_failed`. The reservation follows the new lines, less what shipped or was withdrawn by a
restocking credit note.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, request

from . import API_PREFIX
from .addresses import clean_address
from .clock import to_iso
from .errors import ApiError, bad_request, not_found, validation_failed
from .order_rules import order_errors
from .paging import page_params
from . import reservations
from .store import Store, current

OPTIONAL_KEYS = ("customer_id", "order_date", "shipping", "payment", "note")
LIST_KEYS = ("discounts", "fees")
AMENDABLE = ("billing_address", "shipping_address", "lines", "shipping", "discounts", "fees", "totals", "note",
             "payment")

bp = Blueprint("erp_orders", __name__, url_prefix=API_PREFIX)


@bp.get("/sales-orders")
def find_orders():
    store = current()
    ref = request.args.get("external_ref")
    if ref is None:
        limit, cursor, since = page_params(request.args)
        with store.lock:
            return store.orders.page(limit, cursor, since)
    with store.lock:
        return {"items": [store.orders.view(oid) for oid in store.orders_by_ref.get(ref, [])]}


@bp.get("/sales-orders/<id>")
def get_order(id):
    store = current()
    with store.lock:
        return store.orders.view(_order(store, id)["id"])


@bp.post("/sales-orders")
def create_order():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    store = current()
    with store.lock:
        errors = order_errors(store, body)
        named = body.get("warehouse")
        if named is not None and named not in store.warehouses:
            errors["warehouse"] = f"unknown warehouse {named!r}"
        if errors:
            raise validation_failed(errors)
        ref = body["external_ref"]
        if store.config["enforce_unique_external_ref"] and store.orders_by_ref.get(ref):
            raise ApiError(409, f"a sales order with external_ref {ref} exists: "
                                f"{', '.join(store.orders_by_ref[ref])}")
        number = store.next_number("sales_order")
        stamp = reservations.reservation_stamp(store)
        created_at = to_iso(stamp)
        warehouse = reservations.choose_warehouse(store, body["lines"], named)
        order = {"id": f"SO-{number:06d}",
                 "number": f"SO-{datetime.now(timezone.utc).year}-{number:06d}",
                 "status": "open", "created_at": created_at, "external_ref": ref,
                 "currency": body["currency"],
                 **{k: body.get(k) for k in OPTIONAL_KEYS},
                 "billing_address": clean_address(body["billing_address"]),
                 "shipping_address": clean_address(body.get("shipping_address")),
                 "lines": body["lines"],
                 **{k: body.get(k) or [] for k in LIST_KEYS},
                 "totals": body["totals"], "warehouse": warehouse, "revision": 1}
        reservations.reserve(store, warehouse, reservations.quantities(order["lines"]), stamp)
        store.orders.put(order["id"], order)
        store.orders_by_ref.setdefault(ref, []).append(order["id"])
        return store.orders.view(order["id"]), 201


@bp.patch("/sales-orders/<id>")
def amend_order(id):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    store = current()
    with store.lock:
        order = _order(store, id)
        revision = order.get("revision", 1)
        expected = request.headers.get("If-Match", body.get("revision"))
        if expected is not None and str(expected).strip('"') != str(revision):
            raise ApiError(412, f"sales order {id} is at revision {revision}, not {expected}",
                           code="precondition_failed")
        if order["status"] not in ("open", "confirmed"):
            raise ApiError(409, f"sales order {id} is {order['status']}, it cannot be amended",
                           code="not_amendable")
        unknown = sorted(set(body) - set(AMENDABLE) - {"revision"})
        if unknown:
            raise validation_failed({k: "cannot be amended" for k in unknown})
        changes = {k: body[k] for k in AMENDABLE if k in body}
        errors = order_errors(store, {**order, **changes})
        if errors:
            raise validation_failed(errors)
        if "lines" in changes:
            from .shipments import remaining  # shipments imports this module
            warehouse = order_warehouse(store, order)
            reservations.release(store, warehouse, remaining(store, order))
            # the new lines less what already shipped or was withdrawn by restocking credit notes: what a
            # cancel releases later (remaining), so nothing stays reserved for nobody
            reservations.reserve(store, warehouse, remaining(store, {**order, "lines": changes["lines"]}))
        for key in ("billing_address", "shipping_address"):
            if key in changes:
                changes[key] = clean_address(changes[key])
        for key in LIST_KEYS:
            if key in changes:
                changes[key] = changes[key] or []
        order.update(changes)
        order["revision"] = revision + 1
        store.orders.touch(order["id"])
        return store.orders.view(order["id"])


@bp.post("/sales-orders/<id>/cancel")
def cancel_order(id):
    store = current()
    with store.lock:
        order = _order(store, id)
        if order["status"] in ("partially_shipped", "shipped"):
            raise ApiError(409, f"sales order {id} is {order['status']}, it cannot be cancelled")
        if order["status"] != "cancelled":
            from .shipments import remaining  # shipments imports this module
            reservations.release(store, order_warehouse(store, order), remaining(store, order))
        return set_status(store, order, "cancelled")


def confirm_order(store: Store, order_id: str) -> dict:
    """Admin: open -> confirmed, as an ERP user would. Caller holds the lock."""
    order = _order(store, order_id)
    if order["status"] != "open":
        raise ApiError(409, f"sales order {order_id} is {order['status']}, not open")
    return set_status(store, order, "confirmed")


def set_status(store: Store, order: dict, status: str) -> dict:
    if order["status"] != status:
        order["status"] = status
        store.orders.touch(order["id"])
    return store.orders.view(order["id"])


def order_warehouse(store: Store, order: dict) -> str:
    """The warehouse an order reserves in (orders stored before reservations existed: the first)."""
    return order.get("warehouse") or next(iter(store.warehouses))


def _order(store: Store, order_id: str) -> dict:
    order = store.orders.get(order_id)
    if order is None:
        raise not_found(f"sales order {order_id}")
    return order
