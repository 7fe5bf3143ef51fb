"""WordPress REST plumbing shared by all resources (reference §2, §1.3).

- `ApiError`: the `{code, message, data:{status, ...}}` error body of §2.1.
- `php_json`: PHP `json_encode` byte layout (no spaces, `\\/`, `\\uXXXX`), used for every body (§7.4).
- Query/body access with PHP semantics: duplicate query keys, last one wins; `x[]` keys are lists.
- `validate`: WP core schema checks that produce `rest_invalid_param` with `params`/`details`.
"""
from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from flask import Response, request


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int, headers: dict | None = None, **data):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.data = {"status": status, **data}
        self.headers = headers or {}

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "data": self.data}


def php_json(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def json_response(obj, status: int = 200, headers: dict | None = None) -> Response:
    return Response(php_json(obj), status=status, headers=headers or {},
                    content_type="application/json; charset=UTF-8")


def error_response(e: ApiError) -> Response:
    return json_response(e.body(), e.status, e.headers)


def not_found_route() -> ApiError:
    return ApiError("rest_no_route", "No route was found matching the URL and request method.", 404)


# ---------------------------------------------------------------- request access (PHP $_GET semantics)

def arg(name: str, default=None):
    values = request.args.getlist(name)
    return values[-1] if values else default


def arg_list(name: str) -> list[str] | None:
    """`name[]=a&name[]=b`, or a comma list in the last `name` (wp_parse_list); None when absent."""
    if name + "[]" in request.args:
        return [v for v in request.args.getlist(name + "[]") if v != ""]
    value = arg(name)
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def body_params() -> dict:
    """JSON body (any content type that parses as JSON, as WP does for application/json), else form data."""
    raw = request.get_data(cache=True)
    if request.mimetype == "application/json" or (raw[:1] in (b"{", b"[") and not request.form):
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise ApiError("rest_invalid_json", "Invalid JSON body passed.", 400,
                           json_error_code=4, json_error_message="Syntax error") from None
        return data if isinstance(data, dict) else {}
    return {k: request.form.getlist(k)[-1] for k in request.form}


def truthy(value) -> bool:
    return value in (True, 1, "1", "true", "True", "yes")


# ---------------------------------------------------------------- WP core schema validation

def _check(name: str, value, spec):
    """Return the sanitized value or raise ValueError((code, message)).

    spec: "string" | "integer" | "number" | "boolean" | "array" | "object" | "date" | "stock"
    (boolean or "parent"), a trailing "?" admits null, or a tuple of allowed strings (enum)."""
    if isinstance(spec, tuple):
        if isinstance(value, str) and value in spec:
            return value
        raise ValueError(("rest_not_in_enum", f"{name} is not one of {', '.join(spec)}."))
    nullable, kind = spec.endswith("?"), spec.rstrip("?")
    if value is None and nullable:
        return None
    if kind == "stock" and value == "parent":
        return value
    if kind in ("boolean", "stock"):
        if isinstance(value, bool):
            return value
        if value in (0, 1, "0", "1", "true", "false", ""):
            return value in (1, "1", "true")
    elif kind == "string" and isinstance(value, str):
        return value
    elif kind in ("integer", "number") and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None and not math.isfinite(number):
            number = None
        if number is not None and kind == "number":
            return value
        if number is not None and number == int(number):
            return int(number)
    elif kind == "array" and isinstance(value, list):
        return value
    elif kind == "object" and isinstance(value, dict):
        return value
    elif kind == "date" and isinstance(value, str):
        if value == "" or parse_date(value, 0) is not None:
            return value
        raise ValueError(("rest_invalid_date", "Invalid date."))
    type_name = {"stock": "boolean", "date": "string"}.get(kind, kind)
    raise ValueError(("rest_invalid_type", f"{name} is not of type {type_name}."))


def invalid_params(problems: dict[str, tuple[str, str]]) -> ApiError:
    return ApiError("rest_invalid_param", "Invalid parameter(s): " + ", ".join(problems), 400,
                    params={k: msg for k, (code, msg) in problems.items()},
                    details={k: {"code": code, "message": msg, "data": None} for k, (code, msg) in problems.items()})


def validate(params: dict, schema: dict, strict: bool = True) -> dict:
    """Check the params named in `schema`; unknown params pass through untouched (as in WP).

    strict=False models batch items, which reach the controller without schema validation: values
    are cast the way the PHP setters would (19.99 → "19.99") and uncastable ones are dropped."""
    out, problems = dict(params), {}
    for name, spec in schema.items():
        if name in params:
            try:
                out[name] = _check(name, params[name], spec)
            except ValueError as e:
                problems[name] = e.args[0]
                if not strict:
                    _cast_or_drop(out, name, spec)
    if problems and strict:
        raise invalid_params(problems)
    return out


def _cast_or_drop(out: dict, name: str, spec) -> None:
    value = out.pop(name)
    kind = spec.rstrip("?") if isinstance(spec, str) else "enum"
    if kind in ("string", "date") and isinstance(value, (int, float)) and not isinstance(value, bool):
        out[name] = str(int(value)) if float(value).is_integer() else repr(value)
    elif kind in ("boolean", "stock") and value is not None:
        out[name] = bool(value)


# ---------------------------------------------------------------- money and dates

def money(value, dp: int = 2) -> str:
    return f"{Decimal(value):.{dp}f}"


def clean_decimal(value: str) -> str:
    """wc_format_decimal-like: keep a decimal string as sent, '' if it is not a number."""
    value = value.strip()
    try:
        Decimal(value)
    except InvalidOperation:
        return ""
    return value if re.fullmatch(r"-?\d*\.?\d+", value) else ""


_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
                      r"(Z|[+-]\d{2}:?\d{2})?$")


def parse_date(value: str, offset_minutes: int) -> int | None:
    """ISO 8601 → unix seconds; values without an offset are taken at `offset_minutes` from UTC."""
    m = _DATE_RE.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, tz = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=timezone.utc)
    except ValueError:
        return None
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        hh, mm = int(tz[1:3]), int(tz[-2:])
        offset_minutes = sign * (hh * 60 + mm)
    elif tz == "Z":
        offset_minutes = 0
    return int((dt - timedelta(minutes=offset_minutes)).timestamp())


def fmt_date(ts: int | None, offset_minutes: int = 0) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts + offset_minutes * 60, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def to_int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
