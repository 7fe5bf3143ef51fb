"""Credit notes (contract v1.1): `POST /credit-notes`, `GET /credit-notes?external_ref=|sales_order_id=`,
`GET /credit-notes/{id}`, and the keyset-paged list.

A credit note credits money on one sales order: `lines` [{sku, quantity, amount}] of the order's SKUs,
or none for an amount-only credit (shipping, goodwill: `amount` required). With lines, `amount` (if given)
must equal Σ lines.amount within 0.01 × (lines + 1). Σ credited quantities of a SKU never exceed what the
order holds of it, and Σ credit notes of an order never exceed its gross (else 422).

`restock: true` brings the credited goods back: shipped units go back into `on_hand` of the order's
warehouse (reservations.restock); units not shipped yet are withdrawn from the order (no longer to ship,
their reservation released). A partially shipped order whose every unit is then shipped or withdrawn is
`shipped`: nothing is left to ship, as a real ERP closes a delivery whose rest was cancelled. Like sales
orders, `external_ref` is not unique unless `enforce_unique_external_ref` is set (then a repeat is 409),
and a POST may commit then fail (faults).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

from flask import Blueprint, request

from . import API_PREFIX, reservations
from .clock import now_iso
from .errors import ApiError, bad_request, not_found, validation_failed
from .money import parse_decimal
from .orders import order_warehouse, set_status
from .paging import page_params
from .shipments import remaining
from .store import Store, current

bp = Blueprint("erp_credit_notes", __name__, url_prefix=API_PREFIX)
CENT = Decimal("0.01")


@bp.get("/credit-notes")
def find_credit_notes():
    store = current()
    ref, order_id = request.args.get("external_ref"), request.args.get("sales_order_id")
    with store.lock:
        if ref is not None:
            return {"items": [store.credit_notes.view(i) for i in store.credit_notes_by_ref.get(ref, [])]}
        if order_id is not None:
            return {"items": [store.credit_notes.view(i) for i in _of_order(store, order_id)]}
        limit, cursor, since = page_params(request.args)
        return store.credit_notes.page(limit, cursor, since)


@bp.get("/credit-notes/<id>")
def get_credit_note(id):
    store = current()
    with store.lock:
        if id not in store.credit_notes:
            raise not_found(f"credit note {id}")
        return store.credit_notes.view(id)


@bp.post("/credit-notes")
def create_credit_note():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    store = current()
    with store.lock:
        order, lines, amount, errors = _checked(store, body)
        if errors:
            raise validation_failed(errors)
        ref = body["external_ref"]
        if store.config["enforce_unique_external_ref"] and store.credit_notes_by_ref.get(ref):
            raise ApiError(409, f"a credit note with external_ref {ref} exists: "
                                f"{', '.join(store.credit_notes_by_ref[ref])}")
        restock = bool(body.get("restock"))
        if restock:
            _restock(store, order, lines)
        number = store.next_number("credit_note")
        note = {"id": f"CN-{number:06d}", "number": f"CN-{datetime.now(timezone.utc).year}-{number:06d}",
                "external_ref": ref, "sales_order_id": order["id"], "reason": body.get("reason") or "",
                "lines": lines, "amount": str(amount), "restock": restock,
                "created_at": now_iso()}
        store.credit_notes.put(note["id"], note)
        store.credit_notes_by_ref.setdefault(ref, []).append(note["id"])
        return store.credit_notes.view(note["id"]), 201


def _of_order(store: Store, order_id: str) -> list[str]:
    return [i for i in store.credit_notes.ids() if store.credit_notes.get(i)["sales_order_id"] == order_id]


def _checked(store: Store, body: dict):
    errors: dict[str, str] = {}
    ref = body.get("external_ref")
    if not isinstance(ref, str) or not ref.strip():
        errors["external_ref"] = "required"
    if body.get("reason") is not None and not isinstance(body["reason"], str):
        errors["reason"] = "must be a string"
    if body.get("restock") is not None and not isinstance(body["restock"], bool):
        errors["restock"] = "must be true or false"
    order = store.orders.get(body.get("sales_order_id")) if isinstance(body.get("sales_order_id"), str) else None
    if order is None:
        errors["sales_order_id"] = f"unknown sales order {body.get('sales_order_id')!r}"
    raw = body.get("lines") or []
    if not isinstance(raw, list):
        errors["lines"] = "must be a list"
        raw = []
    lines, total, valid = [], Decimal(0), True
    ordered = reservations.quantities(order["lines"]) if order else Counter()
    credited = _credited(store, order["id"]) if order else Counter()
    for i, line in enumerate(raw):
        at = f"lines[{i}]"
        if not isinstance(line, dict):
            errors[at], valid = "must be an object", False
            continue
        sku, qty, value = line.get("sku"), line.get("quantity"), parse_decimal(line.get("amount"))
        if order is not None and sku not in ordered:
            errors[f"{at}.sku"] = f"{sku!r} is not on sales order {order['id']}"
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            errors[f"{at}.quantity"], valid = "must be a positive integer", False
        if value is None or value < 0:
            errors[f"{at}.amount"], valid = "required: a non-negative decimal string such as \"19.90\"", False
        if valid and sku in ordered:
            credited[sku] += qty
            if credited[sku] > ordered[sku]:
                errors[f"{at}.quantity"] = f"credits {credited[sku]} of {sku} in all; the order holds {ordered[sku]}"
            total += value
            lines.append({"sku": sku, "quantity": qty, "amount": str(value)})
    stated = parse_decimal(body.get("amount")) if body.get("amount") is not None else None
    if body.get("amount") is not None and (stated is None or stated < 0):
        errors["amount"] = "must be a non-negative decimal string"
    elif not raw and stated is None:
        errors["amount"] = "required when the credit note has no lines"
    elif raw and valid and stated is not None and abs(stated - total) > CENT * (len(raw) + 1):
        errors["amount"] = f"does not add up: Σ lines.amount = {total}"
    amount = stated if stated is not None else total
    if order is not None and not errors:
        gross = parse_decimal((order.get("totals") or {}).get("gross")) or Decimal(0)
        before = sum((parse_decimal(store.credit_notes.get(i)["amount"]) for i in _of_order(store, order["id"])),
                     Decimal(0))
        if before + amount > gross:
            errors["amount"] = f"credits {before + amount} in all; the order's gross is {gross}"
    return order, lines, amount, errors


def _credited(store: Store, order_id: str) -> Counter:
    counts = Counter()
    for i in _of_order(store, order_id):
        counts.update(reservations.quantities(store.credit_notes.get(i)["lines"]))
    return counts


def _restock(store: Store, order: dict, lines: list[dict]) -> None:
    """Shipped units back into on_hand; units not shipped yet are withdrawn from the order."""
    wanted = reservations.quantities(lines)
    shipped = store.shipped.get(order["id"], Counter())
    returned = store.returned.setdefault(order["id"], Counter())
    back = Counter({sku: min(qty, shipped[sku] - returned[sku]) for sku, qty in wanted.items()})
    warehouse = order_warehouse(store, order)
    reservations.restock(store, warehouse, back)
    returned.update(back)
    unshipped = wanted - back
    if unshipped and order["status"] != "cancelled":
        unshipped &= remaining(store, order)
        reservations.release(store, warehouse, unshipped)
        store.withdrawn.setdefault(order["id"], Counter()).update(unshipped)
        if order["status"] == "partially_shipped" and not remaining(store, order):
            set_status(store, order, "shipped")  # every unit shipped or withdrawn: nothing is left to ship
