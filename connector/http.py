"""Turns HTTP answers and transport failures into the connector's error families (see errors.py).

`exchange` wraps one request of an adapter; `check_response` classifies an answer and
`transport_error` an exception from requests. Nothing else decides whether a failure is worth a retry.
"""
from __future__ import annotations

import email.utils
import os
import re
import time
from contextlib import nullcontext

import requests
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting

from connector.errors import AccessDenied, InvalidDataError, NotFound, PermanentError, TransientError
from connector.logs import get_correlation_id



class _Session(requests.Session):
    """requests' Session, but the proxy variables are read once per host, not once per request.

    With `trust_env` (the default, kept: HTTPS_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE still apply)
    requests scans every variable of os.environ twice for each request to decide on a proxy; profiled,
    that was the largest single CPU cost of an order import in this process (bench/RESULTS.md,
    profiling). The environment of a running worker does not change, so the answer per
    (scheme, host) is kept."""

    def __init__(self):
        super().__init__()
        self._environ_proxies: dict[str, dict] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if not self.trust_env or (proxies and "no_proxy" in proxies):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        origin = "/".join(url.split("/", 3)[:3])
        found = self._environ_proxies.get(origin)
        if found is None:
            found = self._environ_proxies[origin] = requests.utils.get_environ_proxies(url)
        proxies = dict(proxies or {})
        for scheme, proxy in found.items():
            proxies.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        return {"proxies": merge_setting(proxies, self.proxies), "stream": merge_setting(stream, self.stream),
                "verify": merge_setting(verify, self.verify), "cert": merge_setting(cert, self.cert)}


def pooled_session(pool_size: int = 8) -> requests.Session:
    """A `requests.Session` keeping up to `pool_size` keep-alive connections per host (one per adapter
    instance; share it between threads of one process, never across a fork)."""
    session = _Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


RETRYABLE_STATUSES = {408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524}
EXCERPT = 300


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds; accepts delta-seconds and HTTP-dates; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def woocommerce_not_found(response: requests.Response) -> bool:
    """True only for WooCommerce's own "this record does not exist" answer: 410, or 404 with a JSON body whose
    `code` is one of its `woocommerce_rest_…invalid_id` codes (`woocommerce_rest_shop_order_invalid_id`,
    `woocommerce_rest_product_invalid_id`, `woocommerce_rest_invalid_id` for customers…). A 404 from a proxy
    or a cache (an HTML page), or with another code (`rest_no_route`: the API is not reachable at that
    address right now), says nothing about the record."""
    if response.status_code == 410:
        return True
    if response.status_code != 404:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    code = body.get("code") if isinstance(body, dict) else None
    return isinstance(code, str) and code.startswith("woocommerce_rest_") and code.endswith("invalid_id")


KEY_SETTINGS = "WooCommerce → Settings → Advanced → REST API"
_CANNOT = re.compile(r"woocommerce_rest_cannot_(view|create|edit|delete|batch)")
_VERBS = {"view": "read", "create": "create", "edit": "change", "delete": "delete", "batch": "batch-write"}


def woocommerce_access_denied(response: requests.Response) -> tuple[str, str, str] | None:
    """(need, code, reason) when WooCommerce refused the request for lack of permission, else None.

    What the shop answers (reference §1.1, §1.2): a key without the permission the method needs → 401
    `woocommerce_rest_authentication_error` "…does not have write (read) permissions."; a key whose WordPress
    user lacks the capability → 403 `woocommerce_rest_cannot_view|create|edit|delete|batch`; a request the
    shop did not see as authenticated (a key it does not know, credentials stripped by a proxy) → 401 with
    the same codes. A wrong secret, signature or timestamp is not a permission matter (None: a plain
    PermanentError), nor is a 500 `woocommerce_rest_cannot_create_order_refund` or the `cannot_edit` of a
    variation addressed under the wrong parent ("Parent product does not match current variation.")."""
    status = response.status_code
    if status not in (401, 403):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    message = str(body.get("message") or "") if isinstance(body, dict) else ""
    if not isinstance(code, str):
        return None
    need = "read" if response.request.method in ("GET", "HEAD") else "write"
    if code == "woocommerce_rest_authentication_error":
        if "does not have write permission" in message:
            return "write", code, f"the API key has read-only permission; give it Read/Write in {KEY_SETTINGS}"
        if "does not have read permission" in message:
            return "read", code, f"the API key has write-only permission; give it Read/Write in {KEY_SETTINGS}"
        return None
    match = _CANNOT.fullmatch(code)
    if match is None or "does not match" in message:  # a variation under the wrong parent: the request is wrong
        return None
    verb = _VERBS[match.group(1)]
    if status == 403:
        return need, code, (f"the API key's WordPress user may not {verb} this in the shop (no {need} permission); "
                            f"give the key Read/Write in {KEY_SETTINGS}, owned by a user with the Shop manager "
                            f"or Administrator role")
    return need, code, (f"the shop did not accept the API key to {verb} this (no {need} permission): give the key "
                        f"Read/Write in {KEY_SETTINGS} and check WOO_CONSUMER_KEY/WOO_CONSUMER_SECRET (behind a "
                        f"proxy that hides HTTPS or drops the Authorization header, the shop ignores the key)")


def check_response(system: str, response: requests.Response, *, invalid_statuses: tuple[int, ...] = (),
                   not_found=None, denied=None) -> None:
    """Raise the right SyncError for a non-2xx answer; return quietly for 2xx.

    `not_found(response)`, when given, decides a 404/410: True → NotFound (the record is gone), False →
    TransientError (someone other than the system answered; try again). Without it a 404 is a PermanentError.
    `denied(response)`, when given, names a refused permission as (need, code, reason) → AccessDenied, whose
    message starts with the reason (what the operator must change)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    excerpt = response.text[:EXCERPT]
    where = f"{system} {response.request.method} {_path(response.url)} -> {status}"
    refused = denied(response) if denied is not None else None
    if refused is not None:
        need, code, reason = refused
        raise AccessDenied(f"{reason} ({where} {code})", reason=reason, need=need, code=code, status=status,
                           excerpt=excerpt)
    if not_found is not None and status in (404, 410):
        if not_found(response):
            raise NotFound(f"{where}: {excerpt}", status=status, excerpt=excerpt)
        raise TransientError(f"{where} without {system}'s own not-found answer (a proxy or routing fault?): "
                             f"{excerpt}", status=status, excerpt=excerpt)
    if status in RETRYABLE_STATUSES or status >= 500:
        raise TransientError(f"{where}: {excerpt}", status=status, excerpt=excerpt,
                             retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    if status in invalid_statuses:  # the whole answer: its field messages become the quarantine reason
        raise InvalidDataError(f"{where}: {excerpt}", status=status, excerpt=response.text[:4000])
    raise PermanentError(f"{where}: {excerpt}", status=status, excerpt=excerpt)


def exchange(system: str, send, *, limiter=None, slots=None, invalid_statuses: tuple[int, ...] = (),
             not_found=None, denied=None):
    """One request/answer with a remote system: wait for the fleet-wide rate limit, then for one of the
    fleet-wide concurrency slots (held while the request is open), pass the correlation id on, classify any
    failure. `send(headers)` performs the request. Returns (decoded JSON, response)."""
    if limiter is not None:
        limiter.acquire()
    cid = get_correlation_id()
    try:
        with slots.slot() if slots is not None else nullcontext():
            response = send({"X-Correlation-ID": cid} if cid else {})
    except requests.RequestException as exc:
        raise transport_error(system, exc) from exc
    check_response(system, response, invalid_statuses=invalid_statuses, not_found=not_found, denied=denied)
    return json_body(system, response), response


def transport_error(system: str, exc: requests.RequestException) -> TransientError:
    """Timeouts, refused and dropped connections: always worth another try."""
    return TransientError(f"{system} unreachable: {type(exc).__name__}: {str(exc)[:EXCERPT]}")


def json_body(system: str, response: requests.Response):
    """The decoded JSON body; an HTML error page or a truncated body is a transient host fault."""
    try:
        return response.json()
    except ValueError:
        raise TransientError(f"{system} answered {response.status_code} with a body that is not JSON: "
                             f"{response.text[:120]!r}", status=response.status_code) from None


def _path(url: str) -> str:
    return url.split("?", 1)[0].split("/", 3)[-1]
