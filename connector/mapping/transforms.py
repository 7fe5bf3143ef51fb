"""Named value transforms that mapping tables refer to by name."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from connector.errors import InvalidDataError


def decimal(value, field: str = "value") -> Decimal:
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
    number = decimal(value, field)
    if number < 0:
        raise InvalidDataError(f"{field} is negative: {value!r}")
    return str(number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def decimal_string(value, field: str = "value") -> str:
    if value in (None, ""):
        return ""
    return str(decimal(value, field).normalize())


def text(value, field: str = "value") -> str:
    return "" if value is None else str(value)


def publish_status(value, field: str = "is_active") -> str:
    return "publish" if value else "private"


def visibility(value, field: str = "is_active") -> str:
    return "visible" if value else "hidden"


TRANSFORMS = {
    "money": money,
    "decimal_string": decimal_string,
    "text": text,
    "publish_status": publish_status,
    "visibility": visibility,
}
