"""Decimal strings for money and prices (`"19.90"`), parsed strictly: JSON numbers are refused."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

def parse_decimal(value) -> Decimal | None:
    """The Decimal for a finite decimal string, else None."""
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def cents_to_str(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def format_decimal(amount: Decimal, places: int = 2) -> str:
    return str(amount.quantize(Decimal(1).scaleb(-places)))
