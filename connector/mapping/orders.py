"""WooCommerce order -> ERP sales order, and the validation that runs before any ERP write.

The field tables below are the mapping; the functions only walk them. Shop money is read from the
decimal strings (`subtotal`, `total`, ...) into `Decimal`, never from a float, and quantities are
checked to be whole numbers, never coerced with `int()`.

How a line stays exact: each ERP line carries `amount`, the shop's line subtotal (before discounts,
to the cent), and a `unit_price` with as many decimals as it takes for quantity × unit_price to
round to that amount (419.75 for 50 → 8.395). The ERP keeps `amount` as the line's amount, so
net = Σ amounts − discounts + shipping + fees equals the shop's figures to the cent.
"""
from __future__ import annotations

import email.utils

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from connector.errors import InvalidDataError

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
    """The ERP `external_ref` of shop order `woo_order_id`: "WC-ORDER-42", the key every ERP lookup uses."""
    return f"WC-ORDER-{int(woo_order_id)}"


def customer_key(order: dict) -> tuple[str, str]:
    """('external_ref', 'WC-CUST-<id>') for registered customers, ('email', <email>) for guests."""
    if int(order.get("customer_id") or 0) > 0:
        return "external_ref", f"WC-CUST-{int(order['customer_id'])}"
    return "email", ((order.get("billing") or {}).get("email") or "").strip().lower()


def amount(value, what: str, *, negative_ok: bool = False) -> Decimal:
    """A shop amount as an exact Decimal; missing/blank is 0. Raises InvalidDataError naming `what`."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, (bool, float)) or not isinstance(value, (str, int)):
        # Woo sends money as strings; a float has already lost the exact amount
        raise InvalidDataError(f"{what} {value!r} is not a decimal amount")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidDataError(f"{what} {value!r} is not a decimal amount") from None
    if not number.is_finite():
        raise InvalidDataError(f"{what} {value!r} is not a decimal amount")
    if number < 0 and not negative_ok:
        raise InvalidDataError(f"{what} {value} is negative")
    return number


def quantity(value, what: str) -> int:
    """A whole, positive quantity: 2, "2" and 2.0 are 2; 1.5, 0, -1 and "two" are refused."""
    if isinstance(value, bool) or value is None or value == "":
        raise InvalidDataError(f"{what} is missing")
    try:
        number = Decimal(str(value).strip())  # str(1.5) == "1.5": the float Woo sends reads back exactly
    except InvalidOperation:
        raise InvalidDataError(f"{what} {value!r} is not a number") from None
    if not number.is_finite():
        raise InvalidDataError(f"{what} {value!r} is not a number")
    if number != number.to_integral_value():
        raise InvalidDataError(f"{what} {value} is not a whole number")
    if number <= 0:
        raise InvalidDataError(f"{what} {value} is not positive")
    return int(number)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _s(value: Decimal) -> str:
    return str(_cents(value))


def unit_price(line_amount: Decimal, qty: int) -> Decimal:
    """The shortest unit price (at least 2 decimals) whose product with `qty` rounds to `line_amount`."""
    exact = line_amount / qty
    places = 2
    while True:
        price = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if _cents(price * qty) == line_amount:
            return price
        places += 1


def _blank(address: dict | None) -> bool:
    return not any(str((address or {}).get(field) or "").strip() for field in ADDRESS_FIELDS.values())


def shipping_is_blank(order: dict) -> bool:
    """True when the order's own shipping address has no address field filled in."""
    return _blank(order.get("shipping"))


def shipping_source(order: dict) -> dict:
    """The Woo address goods go to: `shipping`, unless all its address fields are blank (virtual goods,
    admin orders), then `billing`. The customer and the order mapping both use this one rule."""
    shipping = order.get("shipping")
    return (order.get("billing") or {}) if _blank(shipping) else shipping


def _address(woo: dict | None) -> dict:
    woo = woo or {}
    address = {erp: str(woo.get(field) or "").strip() for erp, field in ADDRESS_FIELDS.items()}
    address["country"] = address["country"].upper()  # ISO 3166-1 alpha-2, as the ERP requires
    return address


def _timestamp(gmt: str | None) -> str | None:
    return f"{gmt}.000Z" if gmt and len(gmt) == 19 else gmt


def _line_name(i: int, line: dict) -> str:
    return f"line {i} '{line.get('name') or line.get('sku') or '?'}'"


def _is_country(value) -> bool:
    return isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha()


def is_email(value) -> bool:
    """Whether `value` looks like an e-mail address a mail server could take: one `local@domain`, as
    `email.utils.parseaddr` reads it back unchanged (no display name, no comment, no blanks), with a
    non-empty local part and a domain of at least two non-empty dot-separated labels. Deliberately not
    a full RFC 5322 check: it catches what people type wrong (`foo@`, `foo@bar`, `@x.de`, `a b@c.de`)."""
    text = str(value or "").strip()
    if not text or any(c.isspace() for c in text) or text.count("@") != 1:
        return False
    if email.utils.parseaddr(text) != ("", text):
        return False
    local, domain = text.split("@")
    labels = domain.split(".")
    return bool(local) and len(labels) >= 2 and all(labels)


ADDRESS_NEEDS = {"address_1": "street (address_1)", "city": "city"}  # besides a valid country


def address_gaps(address: dict | None) -> list[str]:
    """What a non-blank postal address lacks to be delivered to: a street and a city (the country is checked
    apart). An address with only a country (or a postcode) is not one the ERP can ship to."""
    return [label for field, label in ADDRESS_NEEDS.items() if not str((address or {}).get(field) or "").strip()]


def validate(order: dict, *, known_skus: set[str], currencies: tuple[str, ...]) -> None:
    """Raise InvalidDataError with a sentence an operator can act on; nothing is written before this.

    It checks what the ERP will require (so an order is quarantined here, not refused by the ERP half-way):
    SKUs, whole positive quantities, decimal non-negative amounts, the currency, an e-mail address
    (is_email), a billing country, a usable shipping address (blank: goods go to billing; else a country, a
    street and a city: address_gaps), and that the order's own totals add up."""
    oid = order.get("id")
    try:
        _check(order, known_skus, currencies)
    except InvalidDataError as e:
        raise InvalidDataError(f"Order {oid}: {e}") from None


def _check(order: dict, known_skus: set[str], currencies: tuple[str, ...]) -> None:
    lines = order.get("line_items") or []
    if not lines:
        raise InvalidDataError("has no line items")
    if order.get("currency") not in currencies:
        raise InvalidDataError(f"currency {order.get('currency')} is not supported "
                               f"(supported: {', '.join(currencies)})")
    subtotals = Decimal(0)
    for i, line in enumerate(lines, 1):
        name = _line_name(i, line)
        sku = line.get("sku")
        if not sku:
            raise InvalidDataError(f"{name} has no SKU (product deleted?)")
        if sku not in known_skus:
            raise InvalidDataError(f"{name}: SKU {sku} is unknown in the ERP")
        quantity(line.get("quantity"), f"{name}: quantity")
        subtotals += amount(line.get("subtotal"), f"{name}: subtotal")
        for field in ("total", "subtotal_tax", "total_tax"):
            amount(line.get(field), f"{name}: {field}")
    billing = order.get("billing") or {}
    if not is_email(billing.get("email")):
        raise InvalidDataError(f"billing e-mail {billing.get('email')!r} is missing or not an address "
                               f"(expected local@domain.tld)")
    if not _is_country(str(billing.get("country") or "").strip()):
        raise InvalidDataError(f"billing country {billing.get('country')!r} is missing or not an ISO code")
    if not _blank(order.get("shipping")) and not _is_country(str(order["shipping"].get("country") or "").strip()):
        raise InvalidDataError(f"shipping address has no valid country ({order['shipping'].get('country')!r}); "
                               f"fill it in, or clear the whole shipping address to ship to the billing address")
    gaps = [] if _blank(order.get("shipping")) else address_gaps(order["shipping"])
    if gaps:
        raise InvalidDataError(f"shipping address has no {' and no '.join(gaps)}; fill it in, or clear the whole "
                               f"shipping address to ship to the billing address")
    if not order.get("payment_method"):
        raise InvalidDataError("has no payment method")
    discount = amount(order.get("discount_total"), "discount_total")
    for c in order.get("coupon_lines") or []:
        amount(c.get("discount"), f"coupon {c.get('code')!r}: discount")
    shipping = amount(order.get("shipping_total"), "shipping_total")
    amount(order.get("shipping_tax"), "shipping_tax")
    fees = sum((amount(f.get("total"), f"fee {f.get('name')!r}: total", negative_ok=True)
                for f in order.get("fee_lines") or []), Decimal(0))
    tax = amount(order.get("total_tax"), "total_tax", negative_ok=True)
    total = amount(order.get("total"), "total")
    expected = subtotals - discount + shipping + fees + tax
    if abs(expected - total) > CENT * (len(lines) + 1):
        raise InvalidDataError(f"totals do not add up (lines, discounts, shipping, fees and tax make "
                               f"{_s(expected)}, the order says {order.get('total')})")


def map_customer(order: dict) -> dict:
    """The ERP customer (ErpCustomer shape, without id) of an order's buyer from its billing fields, all
    trimmed strings: e-mail lower-cased, `external_ref` "WC-CUST-<id>" for a registered buyer (None for a
    guest), `vat_id` "" (connector.mapping.customers fills it), billing and shipping addresses with the
    country upper-cased. Pure; no validation."""
    billing = order.get("billing") or {}
    kind, key = customer_key(order)
    customer = {erp: str(billing.get(field) or "").strip() for erp, field in CUSTOMER_FIELDS.items()}
    customer["email"] = customer["email"].lower()
    customer["external_ref"] = key if kind == "external_ref" else None
    customer["vat_id"] = ""
    customer["billing_address"] = _address(billing)
    customer["shipping_address"] = _address(shipping_source(order))
    return customer


def _line_tax_rate(li: dict, order: dict, subtotal: Decimal, name: str) -> Decimal:
    """The line's tax rate in percent: the configured rate(s) the shop applied to it (its `taxes` ids →
    the order's `tax_lines[].rate_percent`), summed when several apply. Derived from the rounded amounts
    (subtotal_tax / subtotal) only when the shop does not say: 1.60 / 8.40 reads as 19.05, not 19."""
    percents = {t.get("rate_id"): t.get("rate_percent") for t in order.get("tax_lines") or [] if isinstance(t, dict)}
    try:
        applied = [t.get("id") for t in li.get("taxes") or []
                   if isinstance(t, dict) and Decimal(str(t.get("subtotal") or t.get("total") or "0").strip() or "0")]
        if applied and all(percents.get(rid) is not None for rid in applied):
            return sum((Decimal(str(percents[rid])) for rid in applied), Decimal(0))
    except InvalidOperation:
        pass  # the shop's tax detail is unreadable: derive the rate from the amounts
    return amount(li.get("subtotal_tax"), f"{name}: subtotal_tax") * 100 / subtotal if subtotal else Decimal(0)


def map_order(order: dict, erp_customer_id: str) -> dict:
    """The ERP order (SalesOrder shape, without the ERP's answer keys) for a validated Woo order (call
    `validate` first), for ERP customer `erp_customer_id`. Pure. Money as decimal strings to the cent
    (`unit_price` may carry more decimals, see the module docstring), quantities as ints, `tax_rate` in
    percent, timestamps ISO UTC with `Z`; `external_ref` "WC-ORDER-<id>"; totals net = gross − tax.
    Raises InvalidDataError naming the field for an amount or quantity it cannot read exactly."""
    lines = []
    for i, li in enumerate(order["line_items"], 1):
        name = _line_name(i, li)
        qty = quantity(li.get("quantity"), f"{name}: quantity")
        subtotal = _cents(amount(li.get("subtotal"), f"{name}: subtotal"))
        rate = _line_tax_rate(li, order, subtotal, name)
        lines.append({"sku": li["sku"], "quantity": qty, "unit_price": str(unit_price(subtotal, qty)),
                      "amount": _s(subtotal), "tax_rate": _s(rate), "description": li.get("name") or li["sku"]})
    shipping_line = (order.get("shipping_lines") or [{}])[0]
    total, tax = _cents(amount(order.get("total"), "total")), _cents(amount(order.get("total_tax"), "total_tax",
                                                                              negative_ok=True))
    discounts = [{"code": c.get("code"), "amount": _s(amount(c.get("discount"), "discount"))}
                 for c in order.get("coupon_lines") or []]
    rest = _cents(amount(order.get("discount_total"), "discount_total")) - sum(
        (Decimal(d["amount"]) for d in discounts), Decimal(0))
    if rest:  # a discount not carried by a coupon line (e.g. edited by hand in the admin)
        discounts.append({"code": "other discounts", "amount": _s(rest)})
    erp = {erp_field: order.get(woo_field) for erp_field, woo_field in ORDER_FIELDS.items()}
    erp.update({
        "external_ref": order_ref(order["id"]),
        "customer_id": erp_customer_id,
        "order_date": _timestamp(order.get("date_created_gmt")),
        "billing_address": _address(order.get("billing")),
        "shipping_address": _address(shipping_source(order)),
        "lines": lines,
        "shipping": {"method": shipping_line.get("method_id") or "none",
                     "amount": _s(amount(order.get("shipping_total"), "shipping_total")),
                     "tax": _s(amount(order.get("shipping_tax"), "shipping_tax"))},
        "discounts": discounts,
        "fees": [{"name": f.get("name"), "amount": _s(amount(f.get("total"), "fee", negative_ok=True))}
                 for f in order.get("fee_lines") or []],
        "totals": {"net": _s(total - tax), "tax": _s(tax), "gross": _s(total)},
        "payment": {"method": order.get("payment_method"), "transaction_id": order.get("transaction_id") or "",
                    "paid_at": _timestamp(order.get("date_paid_gmt"))},
        "note": order.get("customer_note") or "",
    })
    return erp
