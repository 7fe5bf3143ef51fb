"""WooCommerce order -> ERP sales order, and the validation that runs before any ERP write.

The field tables below are the mapping; the functions only walk them. Unit prices are derived from the
line `subtotal` strings (before discounts), never from the float `price` (reference §10.2 quirk 8),
so the ERP's arithmetic check (net = Σ qty × unit − discounts + shipping + fees) holds.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from connector.errors import InvalidDataError
from connector.mapping.transforms import decimal

CENT = Decimal("0.01")

ADDRESS_FIELDS = {  # ERP address field <- Woo address field
    "line1": "address_1", "line2": "address_2", "city": "city", "postcode": "postcode",
    "state": "state", "country": "country",
}
CUSTOMER_FIELDS = {  # ERP customer field <- Woo billing field
    "email": "email", "first_name": "first_name", "last_name": "last_name", "company": "company",
    "phone": "phone",
}
ORDER_FIELDS = {  # ERP order field <- Woo order field
    "currency": "currency", "order_date": "date_created_gmt", "note": "customer_note",
}


def order_ref(woo_order_id: int) -> str:
    return f"WC-ORDER-{int(woo_order_id)}"


def customer_key(order: dict) -> tuple[str, str]:
    """('external_ref', 'WC-CUST-<id>') for registered customers, ('email', <email>) for guests."""
    if int(order.get("customer_id") or 0) > 0:
        return "external_ref", f"WC-CUST-{int(order['customer_id'])}"
    return "email", (order.get("billing") or {}).get("email", "").strip().lower()


def _money(value) -> Decimal:
    return decimal(value or "0").quantize(CENT, rounding=ROUND_HALF_UP)


def _s(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _address(woo: dict | None) -> dict:
    woo = woo or {}
    return {erp: (woo.get(field) or "") for erp, field in ADDRESS_FIELDS.items()}


def _timestamp(gmt: str | None) -> str | None:
    return f"{gmt}.000Z" if gmt and len(gmt) == 19 else gmt


def validate(order: dict, *, known_skus: set[str], currencies: tuple[str, ...]) -> None:
    """Raise InvalidDataError with a sentence an operator can act on; nothing is written before this."""
    oid = order.get("id")
    if not order.get("line_items"):
        raise InvalidDataError(f"Order {oid}: has no line items")
    for line in order["line_items"]:
        sku = line.get("sku")
        if not sku:
            raise InvalidDataError(f"Order {oid}: line '{line.get('name')}' has no SKU (product deleted?)")
        if sku not in known_skus:
            raise InvalidDataError(f"Order {oid}: SKU {sku} is unknown in the ERP")
        if int(line.get("quantity") or 0) <= 0:
            raise InvalidDataError(f"Order {oid}: SKU {sku} has quantity {line.get('quantity')}")
    shipping_country = (order.get("shipping") or {}).get("country") or (order.get("billing") or {}).get("country")
    if not shipping_country:
        raise InvalidDataError(f"Order {oid}: has no shipping country")
    if not order.get("payment_method"):
        raise InvalidDataError(f"Order {oid}: has no payment method")
    if order.get("currency") not in currencies:
        raise InvalidDataError(f"Order {oid}: currency {order.get('currency')} is not supported "
                               f"(supported: {', '.join(currencies)})")
    expected = (sum(_money(li.get("subtotal")) for li in order["line_items"])
                - _money(order.get("discount_total")) + _money(order.get("shipping_total"))
                + sum(_money(f.get("total")) for f in order.get("fee_lines") or [])
                + _money(order.get("total_tax")))
    if abs(expected - _money(order.get("total"))) > CENT * (len(order["line_items"]) + 1):
        raise InvalidDataError(f"Order {oid}: totals do not add up (lines, discounts, shipping, fees and tax "
                               f"make {_s(expected)}, the order says {order.get('total')})")


def map_customer(order: dict) -> dict:
    billing = order.get("billing") or {}
    kind, key = customer_key(order)
    customer = {erp: (billing.get(field) or "") for erp, field in CUSTOMER_FIELDS.items()}
    customer["email"] = customer["email"].strip().lower()
    customer["external_ref"] = key if kind == "external_ref" else None
    customer["vat_id"] = ""
    customer["billing_address"] = _address(billing)
    customer["shipping_address"] = _address(order.get("shipping") or billing)
    return customer


def map_order(order: dict, erp_customer_id: str) -> dict:
    lines = []
    for li in order["line_items"]:
        qty = int(li["quantity"])
        subtotal = _money(li.get("subtotal"))
        rate = (_money(li.get("subtotal_tax")) * 100 / subtotal) if subtotal else Decimal(0)
        lines.append({"sku": li["sku"], "quantity": qty, "unit_price": _s(subtotal / qty),
                      "tax_rate": _s(rate), "description": li.get("name") or li["sku"]})
    shipping_line = (order.get("shipping_lines") or [{}])[0]
    total, tax = _money(order.get("total")), _money(order.get("total_tax"))
    erp = {erp_field: order.get(woo_field) for erp_field, woo_field in ORDER_FIELDS.items()}
    erp.update({
        "external_ref": order_ref(order["id"]),
        "customer_id": erp_customer_id,
        "order_date": _timestamp(order.get("date_created_gmt")),
        "billing_address": _address(order.get("billing")),
        "shipping_address": _address(order.get("shipping") if (order.get("shipping") or {}).get("country")
                                     else order.get("billing")),
        "lines": lines,
        "shipping": {"method": shipping_line.get("method_id") or "none",
                     "amount": _s(_money(order.get("shipping_total"))),
                     "tax": _s(_money(order.get("shipping_tax")))},
        "discounts": [{"code": c.get("code"), "amount": _s(_money(c.get("discount")))}
                      for c in order.get("coupon_lines") or []],
        "fees": [{"name": f.get("name"), "amount": _s(_money(f.get("total")))} for f in order.get("fee_lines") or []],
        "totals": {"net": _s(total - tax), "tax": _s(tax), "gross": _s(total)},
        "payment": {"method": order.get("payment_method"), "transaction_id": order.get("transaction_id") or "",
                    "paid_at": _timestamp(order.get("date_paid_gmt"))},
        "note": order.get("customer_note") or "",
    })
    return erp
