"""Product categories (contract v1.1): `GET /categories?modified_since&cursor&limit`, keyset-paged like
products, items `{"code", "name", "parent_code" | null, "modified_at"}`; a product's `category_code` names
one of them. Seeding adds one top-level category per seeded product family and `GENERAL`; the admin
route `PUT /_sandbox/categories/{code}` creates or changes one (`name`, `parent_code`).
"""
from __future__ import annotations

from flask import Blueprint, request

from . import API_PREFIX
from .errors import not_found, validation_failed
from .paging import page_params
from .store import current

bp = Blueprint("erp_categories", __name__, url_prefix=API_PREFIX)


@bp.get("/categories")
def list_categories():
    store = current()
    limit, cursor, since = page_params(request.args)
    with store.lock:
        return store.categories.page(limit, cursor, since)


@bp.get("/categories/<code>")
def get_category(code):
    store = current()
    with store.lock:
        if code not in store.categories:
            raise not_found(f"category {code}")
        return store.categories.view(code)


def put_category(store, code: str, body: dict) -> dict:
    """Create or change a category (caller holds the lock); a write that changes nothing keeps its stamp."""
    name, parent = body.get("name"), body.get("parent_code")
    existing = store.categories.get(code)
    errors = {}
    if not isinstance(name, str) or not name.strip():
        if existing is None or "name" in body:
            errors["name"] = "required: a non-empty string"
        name = existing and existing["name"]
    if "parent_code" not in body and existing is not None:
        parent = existing["parent_code"]
    if parent is not None and (not isinstance(parent, str) or parent not in store.categories or parent == code):
        errors["parent_code"] = "must name another existing category"
    if errors:
        raise validation_failed(errors)
    record = {"code": code, "name": name.strip(), "parent_code": parent}
    if existing != record:
        store.categories.put(code, record)
    return store.categories.view(code)
