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

import jsonschema

from connector.errors import ConfigError, InvalidDataError
from connector.mapping.transforms import TRANSFORMS

DEFAULT_TABLE = Path(__file__).with_name("products.json")
VARIATION_FIELDS = {"sku", "description", "regular_price", "weight", "status", "meta_data", "attributes",
                    "global_unique_id"}
FORBIDDEN_TARGETS = {"sale_price", "date_on_sale_from", "date_on_sale_to", "date_on_sale_from_gmt",
                     "date_on_sale_to_gmt"}


# What a PRODUCT_MAPPING_FILE must look like (JSON Schema, checked when any process starts).
SCHEMA = {
    "type": "object",
    "required": ["fields"],
    "properties": {
        "comment": {"type": "string"},
        "fields": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "required": ["from", "to"],
                "additionalProperties": False,
                "properties": {
                    "from": {"type": "string", "minLength": 1},
                    "to": {"type": "string", "pattern": r"^(meta:[A-Za-z0-9_\-]+|[a-z][a-z0-9_]*)$",
                           "not": {"enum": sorted(FORBIDDEN_TARGETS)}},
                    "transform": {"enum": sorted(TRANSFORMS)},
                },
            },
        },
    },
}


def table_path() -> str:
    """The product mapping table in use: PRODUCT_MAPPING_FILE, else the packaged products.json."""
    return os.environ.get("PRODUCT_MAPPING_FILE") or str(DEFAULT_TABLE)


def read_table(path: str) -> tuple[dict, ...]:
    """The mapping table in `path`, checked against SCHEMA; ConfigError (one line, naming
    PRODUCT_MAPPING_FILE) when it is missing, not JSON or not a valid table."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError("PRODUCT_MAPPING_FILE", f"cannot be read: {path}: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError("PRODUCT_MAPPING_FILE", f"is not valid JSON: {path}: {e}") from None
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        if list(error.absolute_path)[-1:] == ["to"] and error.validator == "not":
            problem = f"{error.instance} belongs to WooCommerce (promotions) and cannot be mapped"
        else:
            problem = error.message
        raise ConfigError("PRODUCT_MAPPING_FILE", f"is not a valid mapping table: {path}: at {where}: {problem[:300]}")
    return tuple(document["fields"])


@lru_cache(maxsize=4)
def load_table(path: str | None = None) -> tuple[dict, ...]:
    """The product mapping table at `path` (default: table_path()), read and checked once per path and
    process (cached); ConfigError as read_table."""
    return read_table(path or table_path())


def validate(record: dict) -> None:
    """Raise InvalidDataError for an ERP product that must not reach the shop: no SKU, or (not a parent) a
    `list_price` that is missing, not a decimal or negative."""
    if not str(record.get("sku") or "").strip():
        raise InvalidDataError(f"ERP product {record.get('id')}: has no SKU")
    if not record.get("is_parent"):
        TRANSFORMS["money"](record.get("list_price"), f"ERP product {record.get('sku')}: list_price")


def map_product(record: dict, table: tuple[dict, ...] | None = None) -> dict:
    """The WooCommerce payload for one ERP product (ErpProduct: simple, parent or variant) through the mapping
    `table` (default: load_table()): a simple product gets `type` "simple", a parent "variable" (and no
    price), a variant only the fields a variation takes plus its `attributes`; prices as strings to the
    cent; `meta_data` [{key, value}]. Pure. InvalidDataError (as `validate`, or a field the table's
    transform refuses); ConfigError when the default table is broken."""
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
    """A SHA-256 hex digest of `payload` (key order ignored): equal payloads, equal hashes; stored as `sync_hash`."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
