"""Shipments: `GET /shipments` (paged) and the shipping rule behind `/_sandbox` ship and mutate.

A shipment covers some or all of an order's remaining quantities; partial deliveries are several
shipments of one order, which moves the order to partially_shipped, then shipped. A shipment takes its
quantities out of `on_hand` and `reserved` of the order's warehouse.
"""
from __future__ import annotations

from collections import Counter

from flask import Blueprint, request

from . import API_PREFIX
from .clock import now_iso
from .errors import ApiError, not_found, validation_failed
from .orders import order_warehouse, set_status
from . import reservations
from .paging import page_params
from .store import Store, current

SHIPPABLE = ("open", "confirmed", "partially_shipped")

bp = Blueprint("erp_shipments", __name__, url_prefix=API_PREFIX)


@bp.get("/shipments")
def list_shipments():
    store = current()
    limit, cursor, since = page_params(request.args)
    with store.lock:
        return store.shipments.page(limit, cursor, since)


def remaining(store: Store, order: dict) -> Counter:
    ordered = Counter()
    for line in order["lines"]:
        ordered[line["sku"]] += line["quantity"]
    return ordered - store.shipped.get(order["id"], Counter()) - store.withdrawn.get(order["id"], Counter())


def ship(store: Store, order_id: str, lines: list | None = None, carrier: str = "DHL",
         tracking_number: str | None = None) -> dict:
    """Ship `lines` ([{"sku", "quantity"}]) of an order, or everything not shipped yet.
    Caller holds the lock."""
    order = store.orders.get(order_id)
    if order is None:
        raise not_found(f"sales order {order_id}")
    if order["status"] not in SHIPPABLE:
        raise ApiError(409, f"sales order {order_id} is {order['status']}, nothing to ship")
    left = remaining(store, order)
    wanted = Counter(left) if lines is None else _wanted(lines, left)
    number = store.next_number("shipment")
    shipment = {"id": f"SH-{number:06d}", "sales_order_id": order_id,
                "external_ref": order["external_ref"], "carrier": carrier,
                "tracking_number": tracking_number or f"00340434{number:012d}",
                "shipped_at": now_iso(),
                "lines": [{"sku": sku, "quantity": qty} for sku, qty in wanted.items()]}
    store.shipments.put(shipment["id"], shipment)
    store.shipped.setdefault(order_id, Counter()).update(wanted)
    reservations.ship_out(store, order_warehouse(store, order), wanted)
    set_status(store, order, "partially_shipped" if remaining(store, order) else "shipped")
    return store.shipments.view(shipment["id"])


def ship_open_orders(store: Store, count: int) -> list[str]:
    """Ship everything left on the `count` oldest shippable orders; the shipment ids."""
    order_ids = [oid for oid in sorted(store.orders.ids())
                 if store.orders.get(oid)["status"] in SHIPPABLE][:count]
    return [ship(store, oid)["id"] for oid in order_ids]


def _wanted(lines, left: Counter) -> Counter:
    if not isinstance(lines, list) or not lines:
        raise validation_failed({"lines": "a non-empty list of {sku, quantity}"})
    wanted, errors = Counter(), {}
    for i, line in enumerate(lines):
        sku, qty = (line.get("sku"), line.get("quantity")) if isinstance(line, dict) else (None, None)
        if not isinstance(sku, str) or sku not in left:
            errors[f"lines[{i}].sku"] = f"{sku!r} is not left to ship on this order"
        elif isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            errors[f"lines[{i}].quantity"] = "must be a positive integer"
        else:
            wanted[sku] += qty
    errors.update({sku: f"only {left[sku]} left to ship" for sku in wanted if wanted[sku] > left[sku]})
    if errors:
        raise validation_failed(errors)
    return wanted
