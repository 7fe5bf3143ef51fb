"""Turns HTTP answers and transport failures into the connector's error families (see errors.py).

`exchange` wraps one request of an adapter; `check_response` classifies an answer and
`transport_error` an exception from requests. Nothing else decides whether a failure is worth a retry.
"""
from __future__ import annotations

import email.utils
import time

import requests
from requests.adapters import HTTPAdapter

from connector.errors import InvalidDataError, PermanentError, TransientError
from connector.logs import get_correlation_id



def pooled_session(pool_size: int = 8) -> requests.Session:
    """A `requests.Session` keeping up to `pool_size` keep-alive connections per host (one per adapter
    instance; share it between threads of one process, never across a fork)."""
    session = requests.Session()
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


def check_response(system: str, response: requests.Response, *, invalid_statuses: tuple[int, ...] = ()) -> None:
    """Raise the right SyncError for a non-2xx answer; return quietly for 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    excerpt = response.text[:EXCERPT]
    where = f"{system} {response.request.method} {_path(response.url)} -> {status}"
    if status in RETRYABLE_STATUSES or status >= 500:
        raise TransientError(f"{where}: {excerpt}", status=status, excerpt=excerpt,
                             retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    if status in invalid_statuses:  # the whole answer: its field messages become the quarantine reason
        raise InvalidDataError(f"{where}: {excerpt}", status=status, excerpt=response.text[:4000])
    raise PermanentError(f"{where}: {excerpt}", status=status, excerpt=excerpt)


def exchange(system: str, send, *, limiter=None, invalid_statuses: tuple[int, ...] = ()):
    """One request/answer with a remote system: wait for the fleet-wide rate limit, pass the correlation id
    on, classify any failure. `send(headers)` performs the request. Returns (decoded JSON, response)."""
    if limiter is not None:
        limiter.acquire()
    cid = get_correlation_id()
    try:
        response = send({"X-Correlation-ID": cid} if cid else {})
    except requests.RequestException as exc:
        raise transport_error(system, exc) from exc
    check_response(system, response, invalid_statuses=invalid_statuses)
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
