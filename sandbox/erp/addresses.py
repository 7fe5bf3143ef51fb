"""Validation shared by customers and sales orders: addresses and ISO codes."""
from __future__ import annotations

ADDRESS_KEYS = ("line1", "line2", "city", "postcode", "state", "country")

CURRENCIES = frozenset(
    "EUR USD GBP CHF JPY CNY SEK NOK DKK ISK PLN CZK HUF RON BGN TRY UAH RSD CAD AUD NZD MXN BRL ARS CLP "
    "COP PEN ZAR INR IDR MYR PHP SGD THB VND KRW HKD TWD ILS AED SAR QAR EGP NGN KES MAD".split())


def is_country(value) -> bool:
    """ISO 3166-1 alpha-2 shape: two upper-case ASCII letters."""
    return isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha() \
        and value.isupper()


def check_address(errors: dict, name: str, address, required: bool) -> None:
    """Add to `errors` what is wrong with `address` (None is fine unless `required`)."""
    if address is None:
        if required:
            errors[name] = "required"
        return
    if not isinstance(address, dict):
        errors[name] = "must be an object"
    elif not is_country(address.get("country")):
        errors[f"{name}.country"] = "required: ISO 3166-1 alpha-2 code"


def clean_address(address: dict | None) -> dict | None:
    return None if address is None else {k: address.get(k, "") for k in ADDRESS_KEYS}
