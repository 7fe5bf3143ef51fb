"""Customers: lookup by `external_ref` or `email` (`GET /customers`), create (`POST /customers`),
`GET /customers/{id}`, and (contract v1.1) `PATCH /customers/{id}`.

`external_ref` is not enforced unique, like sales orders by default. A customer may carry several
references (`external_refs`; `external_ref` stays the first one for v1 clients); `PATCH` with
`{"add_external_ref": "WC-CUST-42"}` adds one (adding a reference it already carries changes nothing), and
any other field of `POST /customers` may be patched too. `?external_ref=` matches any of the references,
`?email=` the trimmed, case-folded e-mail.
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
ADDRESS_FIELDS = ("billing_address", "shipping_address")

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
    body = _body()
    errors = _field_errors(body)
    email = body.get("email")
    if not isinstance(email, str) or "@" not in email:
        errors["email"] = "required: an e-mail address"
    if errors:
        raise validation_failed(errors)
    store = current()
    with store.lock:
        number = store.next_number("customer")
        ref = body.get("external_ref") or ""
        customer = {"id": f"C-{number:06d}", "number": f"CUST-{number:06d}",
                    **{k: body.get(k) or "" for k in TEXT_FIELDS},
                    "external_refs": [ref] if ref else [],
                    **{k: clean_address(body.get(k)) for k in ADDRESS_FIELDS},
                    "created_at": now_iso()}
        store.customers.put(customer["id"], customer)
        return store.customers.view(customer["id"]), 201


@bp.patch("/customers/<id>")
def patch_customer(id):
    body = _body()
    unknown = sorted(set(body) - set(TEXT_FIELDS) - set(ADDRESS_FIELDS) - {"add_external_ref"})
    errors = {k: "unknown field" for k in unknown}
    errors.update(_field_errors(body))
    new_ref = body.get("add_external_ref")
    if "add_external_ref" in body and (not isinstance(new_ref, str) or not new_ref.strip()):
        errors["add_external_ref"] = "must be a non-empty string"
    if "email" in body and (not isinstance(body["email"], str) or "@" not in body["email"]):
        errors["email"] = "must be an e-mail address"
    if errors:
        raise validation_failed(errors)
    store = current()
    with store.lock:
        customer = store.customers.get(id)
        if customer is None:
            raise not_found(f"customer {id}")
        changed = False
        for k in TEXT_FIELDS:
            if k in body and k != "external_ref" and customer.get(k) != (body[k] or ""):
                customer[k], changed = body[k] or "", True
        for k in ADDRESS_FIELDS:
            if k in body and customer.get(k) != clean_address(body[k]):
                customer[k], changed = clean_address(body[k]), True
        refs = customer.setdefault("external_refs", [customer["external_ref"]] if customer["external_ref"] else [])
        if new_ref and new_ref not in refs:
            refs.append(new_ref)
            changed = True
        if "external_ref" in body and body["external_ref"] and body["external_ref"] not in refs:
            refs.append(body["external_ref"])
            changed = True
        customer["external_ref"] = refs[0] if refs else ""
        if changed:
            store.customers.touch(id)
        return store.customers.view(id)


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body


def _field_errors(body: dict) -> dict:
    errors = {k: "must be a string" for k in TEXT_FIELDS if not isinstance(body.get(k) or "", str)}
    for k in ADDRESS_FIELDS:
        check_address(errors, k, body.get(k), required=False)
    return errors


def _fold(email: str | None) -> str:
    return (email or "").strip().casefold()


def _matches(customer: dict, ref: str | None, email: str | None) -> bool:
    refs = customer.get("external_refs") or ([customer["external_ref"]] if customer.get("external_ref") else [])
    return (ref is None or ref in refs) and (email is None or _fold(customer["email"]) == _fold(email))
