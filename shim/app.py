"""`POST /webhooks/woocommerce`, `GET /healthz`, `GET /status` and `GET /metrics`, served by gunicorn.

The view only translates HTTP: the verdict comes from connector.webhooks.judge, the delivery is
committed to the outbox before the 200, and the publish to the broker is best effort — when it fails
the relay task publishes the delivery once the broker is back. Nothing accepted is ever lost.
"""
from __future__ import annotations

import hmac
import logging
import socket
import threading
import time

from flask import Flask, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from connector import logs, webhooks
from connector.logs import event, new_correlation_id, set_correlation_id
from connector.services import Services
from connector.settings import Settings
from ops.status import report as status_report
from shim import metrics
from workers.publish import publish_delivery  # the shim's one way onto the queues

log = logging.getLogger("wooerp.shim")


def create_app(settings: Settings, publish=None) -> Flask:
    """`publish(topic, resource_id, correlation_id) -> task id` hands a delivery to the workers
    (by default workers.publish.publish_delivery, which routes it by its topic, as the relay does)."""
    publish = publish or publish_delivery
    services = Services(settings)
    db = services.db
    app = Flask("wooerp-shim")
    app.config["MAX_CONTENT_LENGTH"] = None  # we answer 413 ourselves, with a reason

    @app.post("/webhooks/woocommerce")
    def woocommerce_webhook():
        cid = new_correlation_id()
        token = set_correlation_id(cid)
        result = "error"
        try:
            response, result = receive(cid)
            return response
        except SQLAlchemyError as e:  # our own dependency: a 5xx, so that the shop delivers again later
            event(log, "delivery not stored: database unavailable", logging.ERROR, error=f"{type(e).__name__}")
            return _answer(503, "the database is unavailable; deliver again later")
        finally:
            metrics.count(request.headers.get("X-WC-Webhook-Topic"), result, settings.webhook_topics)
            logs.reset_correlation_id(token)

    def receive(cid: str):
        """The answer to one delivery, and its result for wooerp_webhook_deliveries_total."""
        started = time.perf_counter()
        length = request.content_length or 0
        if length > settings.webhook_max_body_bytes:
            return _answer(413, f"body of {length} bytes exceeds the limit of {settings.webhook_max_body_bytes}"), \
                "too_large"
        # a client that trickles its body holds one gunicorn thread; past the deadline it gets a 408
        raw = _read_body(settings.webhook_max_body_bytes, settings.webhook_body_timeout)
        if raw is None:
            response = _answer(408, f"the body did not arrive within {settings.webhook_body_timeout:g} s")
            response.headers["Connection"] = "close"
            return response, "timeout"
        if len(raw) > settings.webhook_max_body_bytes:
            return _answer(413, f"body exceeds the limit of {settings.webhook_max_body_bytes} bytes"), "too_large"
        verdict = webhooks.judge(raw, request.headers, secret=settings.woo_webhook_secret,
                                 topics=settings.webhook_topics, max_bytes=settings.webhook_max_body_bytes)
        if not verdict.accepted:
            event(log, "webhook not accepted", logging.INFO if verdict.status < 400 else logging.WARNING,
                  status=verdict.status, reason=verdict.reason, topic=request.headers.get("X-WC-Webhook-Topic"))
            return _answer(verdict.status, verdict.reason), metrics.refused(verdict.status)
        delivery_id, new, queued = webhooks.record(db, verdict, request.headers, cid, publish,
                                                   hold_statuses=settings.import_statuses)
        if not new:
            event(log, "duplicate delivery ignored", topic=verdict.topic, resource_id=verdict.resource_id,
                  payload_sha256=verdict.body_sha256)
            return _answer(200, "duplicate of an accepted delivery", delivery_id=delivery_id), "duplicate"
        event(log, "webhook accepted", topic=verdict.topic, resource_id=verdict.resource_id,
              delivery_id=delivery_id, payload_sha256=verdict.body_sha256, queued=queued,
              ms=round((time.perf_counter() - started) * 1000, 2))
        return _answer(200, "accepted", delivery_id=delivery_id, queued=queued), \
            "accepted" if queued else "accepted_unqueued"

    @app.get("/metrics")
    def prometheus_metrics():
        """Prometheus text: this instance's webhook deliveries, summed over its gunicorn workers."""
        body, content_type = metrics.exposition()
        return body, 200, {"Content-Type": content_type}

    @app.get("/status")
    def status():
        """The fleet report of `wooerp status`, for operators (basic auth: FLOWER_USER/FLOWER_PASSWORD)."""
        auth = request.authorization
        if not (auth and _same(auth.username, settings.flower_user) and _same(auth.password, settings.flower_password)):
            response = _answer(401, "operator credentials required")
            response.headers["WWW-Authenticate"] = 'Basic realm="wooerp status"'
            return response
        return jsonify(status_report(services))

    @app.get("/healthz")
    def healthz():
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return jsonify(status="ok")

    return app


class _BodyDeadlines:
    """One watchdog thread per process: a request whose body is still arriving at its deadline gets its
    socket's read side shut, so the blocked read returns at once (gunicorn reads a body until it has
    all of it, so a per-recv socket timeout alone would let a byte a second go on for hours)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._watched: dict[int, list] = {}
        self._thread: threading.Thread | None = None

    def watch(self, sock, seconds: float) -> list:
        entry = [time.monotonic() + seconds, sock, False]
        with self._lock:
            self._watched[id(entry)] = entry
            if self._thread is None or not self._thread.is_alive():  # also after gunicorn forked us
                self._thread = threading.Thread(target=self._run, name="body-deadlines", daemon=True)
                self._thread.start()
        return entry

    def release(self, entry: list) -> bool:
        """Stop watching; True when the deadline had passed."""
        with self._lock:
            self._watched.pop(id(entry), None)
        return entry[2]

    def _run(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self._lock:
                expired = [e for e in self._watched.values() if e[0] <= now]
                for e in expired:
                    del self._watched[id(e)]
            for e in expired:
                e[2] = True
                try:
                    e[1].shutdown(socket.SHUT_RD)
                except OSError:
                    pass


_deadlines = _BodyDeadlines()


def _read_body(limit: int, deadline_seconds: float) -> bytes | None:
    """At most `limit + 1` bytes of the body, or None when it did not arrive within the deadline (under
    gunicorn; deploy/README.md: slow clients)."""
    sock = request.environ.get("gunicorn.socket")
    entry = _deadlines.watch(sock, deadline_seconds) if sock is not None else None
    try:
        raw = request.stream.read(limit + 1)
    except OSError:
        raw = None
    if entry is not None and _deadlines.release(entry):
        return None
    return raw


def _same(given: str | None, expected: str) -> bool:
    """Constant-time comparison as UTF-8 bytes: any header text, non-ASCII included, is just wrong."""
    return hmac.compare_digest((given or "").encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def _answer(status: int, reason: str, **extra):
    response = jsonify(status=status, reason=reason, correlation_id=logs.get_correlation_id(), **extra)
    response.status_code = status
    return response
