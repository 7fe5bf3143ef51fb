"""ERP product -> WooCommerce product payload, driven by a JSON table (mapping/products.json).

The ERP owns the list price (`regular_price`); the table never writes `sale_price` or sale dates, so
promotions set in WooCommerce survive every sync. Variants carry only the fields a variation has.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from connector.errors import InvalidDataError
from connector.mapping.transforms import TRANSFORMS

DEFAULT_TABLE = Path(__file__).with_name("products.json")
VARIATION_FIELDS = {"sku", "description", "regular_price", "weight", "status", "meta_data", "attributes",
                    "global_unique_id"}
FORBIDDEN_TARGETS = {"sale_price", "date_on_sale_from", "date_on_sale_to", "date_on_sale_from_gmt",
                     "date_on_sale_to_gmt"}


@lru_cache(maxsize=4)
def load_table(path: str | None = None) -> tuple[dict, ...]:
    path = path or os.environ.get("PRODUCT_MAPPING_FILE") or str(DEFAULT_TABLE)
    fields = json.loads(Path(path).read_text())["fields"]
    for f in fields:
        if f["to"] in FORBIDDEN_TARGETS:
            raise ValueError(f"{path}: {f['to']} belongs to WooCommerce (promotions) and cannot be mapped")
        if f.get("transform", "text") not in TRANSFORMS:
            raise ValueError(f"{path}: unknown transform {f['transform']!r}")
    return tuple(fields)


def validate(record: dict) -> None:
    """Raise InvalidDataError for an ERP product that must not reach the shop."""
    if not str(record.get("sku") or "").strip():
        raise InvalidDataError(f"ERP product {record.get('id')}: has no SKU")
    if not record.get("is_parent"):
        TRANSFORMS["money"](record.get("list_price"), f"ERP product {record.get('sku')}: list_price")


def map_product(record: dict, table: tuple[dict, ...] | None = None) -> dict:
    """The WooCommerce payload for one ERP product (simple, parent or variant)."""
    validate(record)
    payload: dict = {}
    meta: list[dict] = []
    for f in table or load_table():
        if record.get("is_parent") and f["to"] == "regular_price":
            continue  # WooCommerce forces prices of variable parents to ""
        value = TRANSFORMS[f.get("transform", "text")](record.get(f["from"]), f"{record.get('sku')}.{f['from']}")
        if f["to"].startswith("meta:"):
            meta.append({"key": f["to"][5:], "value": value})
        else:
            payload[f["to"]] = value
    payload["meta_data"] = meta
    if record.get("is_parent"):
        payload["type"] = "variable"
    elif record.get("parent_id"):
        payload = {k: v for k, v in payload.items() if k in VARIATION_FIELDS}
        payload["attributes"] = [{"name": name.capitalize(), "option": str(option)}
                                 for name, option in sorted((record.get("attributes") or {}).items())]
    else:
        payload["type"] = "simple"
    return payload


def parent_attributes(variants: list[dict]) -> list[dict]:
    """The variation attributes a variable parent needs so its variants can be created."""
    options: dict[str, list[str]] = {}
    for v in variants:
        for name, option in (v.get("attributes") or {}).items():
            values = options.setdefault(name.capitalize(), [])
            if str(option) not in values:
                values.append(str(option))
    return [{"name": name, "position": i, "visible": True, "variation": True, "options": values}
            for i, (name, values) in enumerate(sorted(options.items()))]


def payload_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
