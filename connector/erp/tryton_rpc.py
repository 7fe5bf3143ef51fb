"""A JSON-RPC client for trytond (series 8.0): login, calls with the user's context, error classes.

Protocol (trytond/protocols/dispatcher.py, jsonrpc.py): `POST <url>/<database>/rpc/` with
`{"id", "method", "params"}`. `common.db.login [login, {"password"}]` answers `[user_id, key, …]`; later
calls carry `Authorization: Session base64(login:user_id:key)`. Model calls are `model.<name>.<method>`
with the context as their last parameter; the context is the user's preferences (company, warehouse,
language), read once per session as the Tryton client does. Dates, datetimes and Decimals travel as
`{"__class__": …}` objects.

Failures: transport, 5xx, 429 and "database is locked" are TransientError; a refused login, an unknown
database or model, a server-side bug are PermanentError; a Tryton UserError (validation, a missing
record, a workflow state that forbids the call) is InvalidDataError with Tryton's message. An expired
session is renewed once, transparently. The password never appears in a message or a log line.
"""
from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import threading
from decimal import Decimal
from typing import Any

import requests

from connector.errors import InvalidDataError, PermanentError, TransientError
from connector.http import exchange, pooled_session

TRANSIENT_MARKERS = ("database is locked", "could not obtain lock", "could not serialize", "deadlock detected", "timeout",
                     "could not connect", "connection")
CONTEXT_SKIP = ("locale", "groups")  # preferences that are display data, not context


def encode(value: Any) -> Any:
    """Python values to Tryton's JSON: Decimal, datetime and date become `__class__` objects."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"__class__": "datetime", "year": value.year, "month": value.month, "day": value.day,
                "hour": value.hour, "minute": value.minute, "second": value.second,
                "microsecond": value.microsecond}
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """Tryton's JSON to Python values (the inverse of `encode`)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("__class__")
    if kind == "Decimal":
        return Decimal(value["decimal"])
    if kind == "datetime":
        return dt.datetime(value["year"], value["month"], value["day"], value["hour"], value["minute"],
                           value["second"], value.get("microsecond", 0))
    if kind == "date":
        return dt.date(value["year"], value["month"], value["day"])
    return {k: decode(v) for k, v in value.items()}


def classify(method: str, error: Any) -> Exception:
    """The connector error for the `error` member of a JSON-RPC answer."""
    kind = error[0] if isinstance(error, list) and error else error
    detail = error[1] if isinstance(error, list) and len(error) > 1 else ""
    if kind in ("UserError", "UserWarning"):
        parts = detail if isinstance(detail, list) else [detail]
        text = " ".join(str(p) for p in parts[:2 if kind == "UserError" else 3] if p)
        return InvalidDataError(f"tryton {method}: {text}", excerpt=text[:300])
    if kind == "ConcurrencyException":
        return TransientError(f"tryton {method}: {detail}")
    text = str(kind)[:300]
    if any(marker in text.lower() for marker in TRANSIENT_MARKERS):
        return TransientError(f"tryton {method}: {text}", excerpt=text)
    return PermanentError(f"tryton {method}: {text}", excerpt=text)


class TrytonRpc:
    """A JSON-RPC session with trytond at `url` (the server root) for `database`, logged in as `user` on first
    use and again once when the session expires. `timeout` in seconds per call; `limiter` waited on before
    each call. Thread-safe login; errors classified as the module docstring says."""
    system = "tryton"

    def __init__(self, url: str, database: str, user: str, password: str, *, timeout: float = 30.0,
                 session: requests.Session | None = None, limiter=None):
        self.endpoint = f"{url.rstrip('/')}/{database}/rpc/"
        self.database = database
        self.user, self._password = user, password
        self.timeout = timeout
        self.session = session or pooled_session()
        self.limiter = limiter
        self._auth: str | None = None
        self._context: dict | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- public ----------------------------------------------------------------------------------------
    def model(self, model: str, method: str, *args, context: dict | None = None) -> Any:
        """`model.<model>.<method>(*args, context)` with the session's context updated by `context`."""
        self._ensure_login()
        try:
            return self._call(f"model.{model}.{method}", [*args, {**self._context, **(context or {})}])
        except PermanentError as e:
            if e.status != 401:
                raise
        self._login()  # the session expired or was revoked: once more with a new one
        return self._call(f"model.{model}.{method}", [*args, {**self._context, **(context or {})}])

    @property
    def context(self) -> dict:
        """A copy of the user's context (company, warehouse, language…), logging in first if needed."""
        self._ensure_login()
        return dict(self._context)

    # -- internals -------------------------------------------------------------------------------------
    def _ensure_login(self) -> None:
        if self._auth is None:
            self._login()

    def _login(self) -> None:
        with self._lock:
            try:
                result = self._call("common.db.login", [self.user, {"password": self._password}], auth=False)
            except PermanentError as e:
                if e.status in (401, 403):
                    raise PermanentError(f"tryton refused the login of user {self.user!r} "
                                         f"(TRYTON_USER / TRYTON_PASSWORD)", status=e.status) from None
                if e.status == 404:
                    raise PermanentError(f"tryton has no database at {self.endpoint} (TRYTON_DATABASE)",
                                         status=404) from None
                raise
            user_id, key = result[0], result[1]
            token = base64.b64encode(f"{self.user}:{user_id}:{key}".encode()).decode()
            self._auth = f"Session {token}"
            try:
                prefs = self._call("model.res.user.get_preferences", [True, {}])
            except BaseException:
                self._auth = None  # half a login is no login: the next call logs in again
                raise
            self._context = {k: v for k, v in prefs.items() if "." not in k and k not in CONTEXT_SKIP}

    def _call(self, method: str, params: list, *, auth: bool = True) -> Any:
        body = json.dumps({"id": next(self._ids), "method": method, "params": encode(params)})

        def send(headers: dict) -> requests.Response:
            headers = {**headers, "Content-Type": "application/json"}
            if auth and self._auth:
                headers["Authorization"] = self._auth
            return self.session.post(self.endpoint, data=body, headers=headers, timeout=self.timeout)
        answer, _ = exchange(self.system, send, limiter=self.limiter)
        if not isinstance(answer, dict):
            raise PermanentError(f"tryton {method}: unexpected answer {str(answer)[:120]!r}")
        if "error" in answer:
            raise classify(method, answer["error"])
        return decode(answer.get("result"))
