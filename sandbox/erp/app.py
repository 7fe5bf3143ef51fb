"""Flask app factory for the ERP sandbox: wires the resource blueprints, bearer auth, fault
injection, correlation ids, per-route counting and the request log around every `/api/v1` call.

Request order for the API: count -> faults (latency, error, rate_limit, drop) -> configured latency
-> auth -> view -> commit_then_slow -> commit_then_fail -> echo X-Correlation-ID -> log.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import (ADMIN_PREFIX, API_PREFIX, DEFAULT_TOKEN, categories, control, credit_notes, customers, inventory,
               orders, products, shipments, system)
from .clock import now_iso
from .errors import ApiError, error_response
from .faults import BEFORE_KINDS, FaultInjector, drop_connection
from .seed import seed
from .store import Store
from .traffic import Traffic

log = logging.getLogger("sandbox.erp")


def create_app(token: str | None = None, *, seed_demo: bool = False) -> Flask:
    """The sandbox app; `token` defaults to $ERP_TOKEN, else DEFAULT_TOKEN."""
    token = token or os.environ.get("ERP_TOKEN") or DEFAULT_TOKEN
    app = Flask(__name__)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    store, faults, traffic = Store(), FaultInjector(), Traffic()
    app.extensions.update(erp_store=store, erp_faults=faults, erp_traffic=traffic)
    for module in (products, inventory, customers, orders, shipments, categories, credit_notes, system, control):
        app.register_blueprint(module.bp)
    if seed_demo:
        with store.lock:
            seed(store, 30, variants_per_parent=3, seed=42)
    expected = f"Bearer {token}".encode()

    @app.before_request
    def guard():
        g.started, g.fault, g.dropped = time.monotonic(), None, False
        if request.path.startswith(ADMIN_PREFIX) and not _loopback(request.remote_addr):
            raise ApiError(403, "the /_sandbox endpoints answer on loopback only")
        if not request.path.startswith(API_PREFIX):
            return None
        traffic.count_request(f"{request.method} {route_template()}")
        traffic.enter()
        g.in_flight = True
        fired = faults.fire(request.method, request.path, BEFORE_KINDS)
        latency = [rule for rule in fired if rule.kind == "latency"]
        for _ in latency:
            traffic.count_fault("latency")
            g.fault = "latency"
        delay_ms = sum(rule.ms for rule in latency) + store.config["latency_ms"]
        if delay_ms:
            time.sleep(delay_ms / 1000)
        failure = next((r for r in fired if r.kind in ("error", "rate_limit", "drop")), None)
        if failure is not None:
            return inject(failure.kind, failure)
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            raise ApiError(401, "missing or wrong bearer token")
        return None

    def inject(kind: str, rule) -> Response:
        traffic.count_fault(kind)
        g.fault = kind
        if kind == "drop" or (kind == "commit_then_fail" and rule.drop):
            drop_connection(request.environ)
            g.dropped = True
            return Response(status=502)
        if kind == "rate_limit":
            return error_response(429, "rate limited (sandbox fault)",
                                  headers={"Retry-After": str(rule.retry_after)})
        return error_response(rule.status, f"injected {kind} fault")

    @app.after_request
    def finish(response: Response) -> Response:
        if request.path.startswith(API_PREFIX):
            if response.status_code < 300 and not g.dropped:
                slow = faults.fire(request.method, request.path, ("commit_then_slow",))
                for rule in slow:
                    traffic.count_fault("commit_then_slow")
                    g.fault = "commit_then_slow"
                if slow:
                    time.sleep(sum(rule.ms for rule in slow) / 1000)
                fired = faults.fire(request.method, request.path, ("commit_then_fail",))
                if fired:
                    response = inject("commit_then_fail", fired[0])
            correlation_id = request.headers.get("X-Correlation-ID")
            if correlation_id:
                response.headers["X-Correlation-ID"] = correlation_id
            traffic.record(_log_entry(response, correlation_id))
        log.info("%s %s %s %dms cid=%s fault=%s", request.method, request.full_path.rstrip("?"),
                 "dropped" if g.get("dropped") else response.status_code,
                 _elapsed_ms(), request.headers.get("X-Correlation-ID", "-"), g.get("fault") or "-")
        return response

    @app.teardown_request
    def done(_exc):
        if g.pop("in_flight", False):
            traffic.leave()

    @app.errorhandler(ApiError)
    def api_error(e: ApiError):
        return e.response()

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        return error_response(e.code or 500, e.description or e.name)

    @app.errorhandler(Exception)
    def crash(e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, f"internal error: {type(e).__name__}: {e}")

    return app


def route_template() -> str:
    """The matched route as `/api/v1/sales-orders/{id}` (the raw path if no route matched)."""
    rule = request.url_rule
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule) if rule else request.path


def _log_entry(response: Response, correlation_id: str | None) -> dict:
    return {"at": now_iso(), "method": request.method, "path": request.path, "route": route_template(),
            "query": request.query_string.decode(errors="replace"),
            "status": None if g.dropped else response.status_code, "dropped": g.dropped,
            "fault": g.fault, "correlation_id": correlation_id, "ms": _elapsed_ms(),
            "body": request.get_json(silent=True) if request.is_json else None}


def _elapsed_ms() -> int:
    return int((time.monotonic() - g.get("started", time.monotonic())) * 1000)


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False
