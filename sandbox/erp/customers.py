"""Customers: lookup by `external_ref` or `email` (`GET /customers`), create (`POST /customers`),
`GET /customers/{id}`. `external_ref` is not enforced unique, like sales orders by default.
"""
from __future__ import annotations

from flask import Blueprint, request

from . import API_PREFIX
from .addresses import check_address, clean_address
from .clock import now_iso
from .errors import bad_request, not_found, validation_failed
from .paging import page_params
from .store import current

TEXT_FIELDS = ("external_ref", "email", "first_name", "last_name", "company", "phone", "vat_id")

bp = Blueprint("erp_customers", __name__, url_prefix=API_PREFIX)


@bp.get("/customers")
def find_customers():
    store = current()
    ref, email = request.args.get("external_ref"), request.args.get("email")
    if ref is None and email is None:
        limit, cursor, since = page_params(request.args)
        with store.lock:
            return store.customers.page(limit, cursor, since)
    with store.lock:
        found = [store.customers.view(cid) for cid in store.customers.ids()
                 if _matches(store.customers.get(cid), ref, email)]
    return {"items": found}


@bp.get("/customers/<id>")
def get_customer(id):
    store = current()
    with store.lock:
        if id not in store.customers:
            raise not_found(f"customer {id}")
        return store.customers.view(id)


@bp.post("/customers")
def create_customer():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    errors = {k: "must be a string" for k in TEXT_FIELDS if not isinstance(body.get(k) or "", str)}
    email = body.get("email")
    if not isinstance(email, str) or "@" not in email:
        errors["email"] = "required: an e-mail address"
    check_address(errors, "billing_address", body.get("billing_address"), required=False)
    check_address(errors, "shipping_address", body.get("shipping_address"), required=False)
    if errors:
        raise validation_failed(errors)
    store = current()
    with store.lock:
        number = store.next_number("customer")
        customer = {"id": f"C-{number:06d}", "number": f"CUST-{number:06d}",
                    **{k: body.get(k) or "" for k in TEXT_FIELDS},
                    "billing_address": clean_address(body.get("billing_address")),
                    "shipping_address": clean_address(body.get("shipping_address")),
                    "created_at": now_iso()}
        store.customers.put(customer["id"], customer)
        return store.customers.view(customer["id"]), 201


def _matches(customer: dict, ref: str | None, email: str | None) -> bool:
    return (ref is None or customer["external_ref"] == ref) and \
        (email is None or customer["email"].lower() == email.lower())

