"""Validation of a sales order body (the 422 rules of erp-api.md), without side effects.

Unknown or non-sellable SKU, non-positive quantity, money that is not a decimal string, a missing
country, an unknown currency, an unknown customer, and totals that do not add up:
net = Σ line amounts − Σ discounts + shipping + Σ fees and gross = net + tax, each within
0.01 × (lines + 1). A line's amount is quantity × unit_price rounded half-up to the cent (unit prices may
have more than two decimals); a line may state it as `amount`, which must then match. Tax is taken as given.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .addresses import CURRENCIES, check_address
from .clock import parse_iso
from .money import parse_decimal
from .store import Store


def order_errors(store: Store, body: dict) -> dict[str, str]:
    """Field path -> message for everything wrong with `body`; empty when valid. Caller holds the lock."""
    errors: dict[str, str] = {}
    ref = body.get("external_ref")
    if not isinstance(ref, str) or not ref.strip():
        errors["external_ref"] = "required"
    currency = body.get("currency")
    if not isinstance(currency, str) or currency not in CURRENCIES:
        errors["currency"] = f"unknown currency {currency!r}"
    customer_id = body.get("customer_id")
    if customer_id is not None and (not isinstance(customer_id, str) or customer_id not in store.customers):
        errors["customer_id"] = f"unknown customer {customer_id!r}"
    if body.get("order_date") is not None:
        try:
            parse_iso(body["order_date"])
        except ValueError:
            errors["order_date"] = "not an ISO 8601 timestamp"
    check_address(errors, "billing_address", body.get("billing_address"), required=True)
    check_address(errors, "shipping_address", body.get("shipping_address"), required=False)
    goods = _lines(store, body.get("lines"), errors)
    extras = _extras(body, errors)
    totals = _totals(body.get("totals"), errors)
    if goods is not None and extras is not None and totals is not None:
        _check_sums(goods + extras, totals, len(body["lines"]), errors)
    return errors


def _lines(store: Store, lines, errors: dict) -> Decimal | None:
    if not isinstance(lines, list) or not lines:
        errors["lines"] = "at least one line is required"
        return None
    total, valid = Decimal(0), True
    for i, line in enumerate(lines):
        at = f"lines[{i}]"
        if not isinstance(line, dict):
            errors[at] = "must be an object"
            valid = False
            continue
        product = store.product_for_sku(line.get("sku")) if isinstance(line.get("sku"), str) else None
        if product is None:
            errors[f"{at}.sku"] = f"unknown SKU {line.get('sku')!r}"
        elif product["is_parent"]:
            errors[f"{at}.sku"] = f"SKU {product['sku']} is a parent product, not sellable"
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            errors[f"{at}.quantity"] = "must be a positive integer"
            valid = False
        price = _money(line, "unit_price", at, errors)
        if line.get("tax_rate") is not None:
            _money(line, "tax_rate", at, errors)
        stated = _money(line, "amount", at, errors) if line.get("amount") is not None else None
        if price is None or (line.get("amount") is not None and stated is None):
            valid = False
        elif valid:
            amount = line_amount(quantity, price)
            if stated is not None and stated != amount:
                errors[f"{at}.amount"] = f"does not match quantity × unit_price = {amount}"
            total += amount
    return total if valid else None


def line_amount(quantity: int, unit_price: Decimal) -> Decimal:
    """quantity × unit_price, rounded half-up to the cent: what the ERP books for a line."""
    return (quantity * unit_price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _extras(body: dict, errors: dict) -> Decimal | None:
    """shipping.amount + Σ fees − Σ discounts, or None if any of them is malformed."""
    shipping = body.get("shipping")
    parts: list[tuple[int, Decimal | None]] = []
    if shipping is not None:
        if isinstance(shipping, dict):
            parts.append((1, _money(shipping, "amount", "shipping", errors)))
            if shipping.get("tax") is not None:
                _money(shipping, "tax", "shipping", errors)
        else:
            errors["shipping"] = "must be an object"
            parts.append((1, None))
    for key, sign in (("fees", 1), ("discounts", -1)):
        items = body.get(key) or []
        if not isinstance(items, list):
            errors[key] = "must be a list"
            parts.append((sign, None))
            continue
        for i, item in enumerate(items):
            if isinstance(item, dict):
                parts.append((sign, _money(item, "amount", f"{key}[{i}]", errors)))
            else:
                errors[f"{key}[{i}]"] = "must be an object"
                parts.append((sign, None))
    if any(amount is None for _, amount in parts):
        return None
    return sum((sign * amount for sign, amount in parts), Decimal(0))


def _totals(totals, errors: dict) -> dict | None:
    if not isinstance(totals, dict):
        errors["totals"] = "required: {net, tax, gross}"
        return None
    values = {k: _money(totals, k, "totals", errors) for k in ("net", "tax", "gross")}
    return None if None in values.values() else values


def _check_sums(net: Decimal, totals: dict, line_count: int, errors: dict) -> None:
    tolerance = Decimal("0.01") * (line_count + 1)
    if abs(totals["net"] - net) > tolerance:
        errors["totals.net"] = f"does not add up: lines − discounts + shipping + fees = {net}"
    if abs(totals["gross"] - (totals["net"] + totals["tax"])) > tolerance:
        errors["totals.gross"] = f"does not add up: net + tax = {totals['net'] + totals['tax']}"


def _money(obj: dict, key: str, at: str, errors: dict) -> Decimal | None:
    value = parse_decimal(obj.get(key))
    if value is None:
        errors[f"{at}.{key}"] = "required: a decimal string such as \"19.90\""
    return value
