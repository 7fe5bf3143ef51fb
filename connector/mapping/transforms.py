"""Named value transforms that mapping tables refer to by name."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from connector.errors import InvalidDataError


def decimal(value, field: str = "value") -> Decimal:
    """`value` (a string, int or Decimal; a float is read from its str(), 0.1 → 0.1) as a finite Decimal;
    InvalidDataError naming `field` for None, "", a bool, or anything else that is not a number."""
    if isinstance(value, bool) or value is None or value == "":
        raise InvalidDataError(f"{field} is missing or not a decimal: {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidDataError(f"{field} is not a decimal: {value!r}") from None
    if not number.is_finite():
        raise InvalidDataError(f"{field} is not a finite decimal: {value!r}")
    return number


def money(value, field: str = "price") -> str:
    """`value` as a money string rounded half-up to the cent ("19.9" → "19.90"); InvalidDataError naming `field`
    when it is not a decimal or is negative."""
    number = decimal(value, field)
    if number < 0:
        raise InvalidDataError(f"{field} is negative: {value!r}")
    return str(number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def decimal_string(value, field: str = "value") -> str:
    """`value` as a plain decimal string without needless trailing zeros ("1.500" → "1.5", "10.0" → "10",
    never exponent form such as "1E+1", which WooCommerce would store as text), "" for None or "";
    InvalidDataError naming `field` when it is not a decimal."""
    if value in (None, ""):
        return ""
    number = decimal(value, field).normalize()
    return format(number.copy_abs() if number.is_zero() else number, "f")


def text(value, field: str = "value") -> str:
    """`value` as a string, "" for None."""
    return "" if value is None else str(value)


def publish_status(value, field: str = "is_active") -> str:
    """The shop product status for an ERP `is_active` flag: "publish", else "private" (hidden, never deleted)."""
    return "publish" if value else "private"


def visibility(value, field: str = "is_active") -> str:
    """The shop catalog visibility for an ERP `is_active` flag: "visible", else "hidden"."""
    return "visible" if value else "hidden"


TRANSFORMS = {
    "money": money,
    "decimal_string": decimal_string,
    "text": text,
    "publish_status": publish_status,
    "visibility": visibility,
}
