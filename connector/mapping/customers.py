"""Who an order's buyer is in the ERP, and what the ERP customer should hold (B2B fields included).

Kept apart from `mapping.orders` (which maps the order itself): this module decides the lookup keys
(`WC-CUST-<id>` reference, then the trimmed, case-folded e-mail), reads the VAT id from the meta keys
that EU VAT plugins write, checks its format, and says which fields of a found ERP customer are stale.
"""
from __future__ import annotations

from dataclasses import dataclass

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.util import clean

from connector.mapping import orders as order_mapping

# Meta keys holding a buyer's VAT id, first match wins (order meta, then the shop customer's meta).
# Sources, read in each plugin's code or docs:
# - WooCommerce EU VAT Number (Woo's own extension): `_billing_vat_number`, older versions `_vat_number`
#   (also the keys WooCommerce PDF Invoices reads "from the 'WooCommerce EU VAT Number' plugin");
# - EU/UK VAT Manager for WooCommerce (wpcodefactory/eu-vat-for-woocommerce): `_billing_eu_vat_number`
#   (its checkout field is `billing_eu_vat_number`);
# - Germanized Pro (vendidero): `_billing_vat_id` (its REST extension writes billing.vat_id there);
# - Aelia EU VAT Assistant: `vat_number`;
# - YITH WooCommerce EU VAT: `yweu_billing_vat`; German Market: `billing_vat`;
# - EU/UK VAT Compliance (Simba Hosting): `VAT Number`.
DEFAULT_VAT_META_KEYS = ("_billing_vat_number", "_billing_eu_vat_number", "_billing_vat_id", "_vat_number",
                         "vat_number", "yweu_billing_vat", "billing_vat", "VAT Number")

UPDATABLE = ("first_name", "last_name", "company", "phone", "vat_id", "billing_address", "shipping_address")
NAME_FIELDS = ("first_name", "last_name", "company")
CUSTOMER_NUMBER_META = "_erp_customer_number"


def customer_ref(woo_customer_id) -> str | None:
    """`WC-CUST-<id>` for a registered customer, None for a guest (id 0 or missing)."""
    cid = int(woo_customer_id or 0)
    return f"WC-CUST-{cid}" if cid > 0 else None


def fold_email(email: str | None) -> str:
    """`email` trimmed and case-folded, the form customers are matched by ("" for None)."""
    return (email or "").strip().casefold()


def meta_value(meta_data, keys) -> str:
    """The first non-blank value among `keys` in a Woo `meta_data` list ("" when none)."""
    meta = {m.get("key"): m.get("value") for m in meta_data or [] if isinstance(m, dict)}
    for key in keys:
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


@dataclass(frozen=True)
class VatCheck:
    """The VAT id found for a customer ("" when none) and, when its format is invalid for its country
    (python-stdnum), `problem`: a sentence for the order note; the VAT id reaches the ERP either way."""
    vat_id: str
    problem: str | None  # a sentence for the order note, None when the format is valid (or there is no VAT id)


def check_vat(vat_id: str, country: str | None) -> VatCheck:
    """Validate the format (checksums included) of an EU VAT id with python-stdnum. The id is passed on as
    the buyer typed it either way; a malformed one is reported, never dropped or "corrected"."""
    if not vat_id:
        return VatCheck("", None)
    compact = clean(vat_id, " -./,").upper().strip()
    if compact[:2].isalpha():
        candidate = compact
    else:  # typed without its country prefix: take the billing country's (Greece's VAT prefix is EL)
        prefix = {"GR": "EL"}.get((country or "").upper(), (country or "").upper())
        candidate = prefix + compact
    try:
        eu_vat.validate(candidate)
    except ValidationError as e:
        where = f" for {country}" if country else ""
        return VatCheck(vat_id, f"VAT id {vat_id} is not a valid VAT number{where} ({e.message}); "
                                f"it was passed to the ERP as given.")
    return VatCheck(vat_id, None)


def customer_from_order(order: dict, vat_keys=DEFAULT_VAT_META_KEYS, customer_meta=None) -> tuple[dict, VatCheck]:
    """The ERP customer the order's buyer should be: order mapping's fields plus the VAT id (from the order's
    meta, else from the shop customer's meta when given) and the company from billing."""
    customer = order_mapping.map_customer(order)
    customer["email"] = fold_email(customer.get("email"))
    customer["external_ref"] = customer_ref(order.get("customer_id"))
    vat_id = meta_value(order.get("meta_data"), vat_keys) or meta_value(customer_meta, vat_keys)
    check = check_vat(vat_id, (order.get("billing") or {}).get("country"))
    customer["vat_id"] = check.vat_id
    customer["company"] = ((order.get("billing") or {}).get("company") or "").strip()
    return customer, check


def customer_from_woo_customer(woo: dict, vat_keys=DEFAULT_VAT_META_KEYS) -> dict:
    """The ERP customer fields a WooCommerce customer record (`customer.updated`) carries."""
    return customer_from_order({"customer_id": woo.get("id"), "billing": woo.get("billing") or {},
                                "shipping": woo.get("shipping") or {}, "meta_data": woo.get("meta_data")},
                               vat_keys)[0] | {"email": _email_or_blank(woo.get("email") or
                                                                        (woo.get("billing") or {}).get("email"))}


def _email_or_blank(value) -> str:
    """The folded e-mail when it is an address (order_mapping.is_email); blank otherwise, so a malformed one
    (`foo@`) is never used to link or create an ERP customer."""
    return fold_email(value) if order_mapping.is_email(value) else ""


def updatable_from_order(order: dict) -> tuple[str, ...]:
    """The customer fields an order speaks for. An order without a shipping address of its own (virtual
    goods: the mapping ships to billing) says nothing about the customer's shipping address."""
    if order_mapping.shipping_is_blank(order):
        return tuple(f for f in UPDATABLE if f != "shipping_address")
    return UPDATABLE


_NEEDS = [erp for erp, woo in order_mapping.ADDRESS_FIELDS.items() if woo in order_mapping.ADDRESS_NEEDS]  # line1, city


def _address(value) -> dict | None:
    """The address as the ERP stores it; None when it is not usable (the order rule: a country, a street
    and a city), so a half-filled shop address never overwrites the one the ERP holds."""
    if not value or not value.get("country") or any(not str(value.get(k) or "").strip() for k in _NEEDS):
        return None
    return {k: value.get(k) or "" for k in order_mapping.ADDRESS_FIELDS}


def stale_fields(erp_customer: dict, wanted: dict, fields=UPDATABLE) -> dict:
    """The fields of `wanted` (among `fields`) that the ERP customer lacks or holds differently. Blank values
    never erase what the ERP holds (an order without a VAT id or company says nothing about the customer's)."""
    changes = {}
    for key in fields:
        if key.endswith("_address"):
            new = _address(wanted.get(key))
            if new is not None and _address(erp_customer.get(key)) != new:
                changes[key] = new
        else:
            new = (wanted.get(key) or "").strip()
            if new and (erp_customer.get(key) or "").strip() != new:
                changes[key] = new
    if changes.keys() & NAME_FIELDS:  # a name is one thing to an ERP that keeps it in one field
        changes.update({k: wanted[k].strip() for k in NAME_FIELDS if (wanted.get(k) or "").strip()})
    return changes
