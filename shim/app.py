"""`POST /webhooks/woocommerce`, `GET /healthz`, `GET /status` and `GET /metrics`, served by gunicorn.

The view only translates HTTP: the verdict comes from connector.webhooks.judge, the delivery is
committed to the outbox before the 200, and the publish to the broker is best effort — when it fails
the relay task publishes the delivery once the broker is back. Nothing accepted is ever lost.
"""
from __future__ import annotations

import hmac
import logging
import time

from flask import Flask, jsonify, request
from sqlalchemy import text

from connector import logs, webhooks
from connector.services import Services
from connector.logs import event, new_correlation_id, set_correlation_id
from connector.settings import Settings
from shim import metrics

log = logging.getLogger("wooerp.shim")


def create_app(settings: Settings, publish=None, publish_customer=None) -> Flask:
    """`publish(order_id, correlation_id) -> task id` hands an order delivery to the workers,
    `publish_customer(customer_id, correlation_id)` a `customer.*` one."""
    if publish is None:
        from workers.tasks.orders import publish_import as publish
    if publish_customer is None:
        from workers.tasks.orders import publish_customer
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
        finally:
            metrics.count(request.headers.get("X-WC-Webhook-Topic"), result, settings.webhook_topics)
            logs._correlation_id.reset(token)

    def receive(cid: str):
        """The answer to one delivery, and its result for wooerp_webhook_deliveries_total."""
        started = time.perf_counter()
        length = request.content_length or 0
        if length > settings.webhook_max_body_bytes:
            return _answer(413, f"body of {length} bytes exceeds the limit of {settings.webhook_max_body_bytes}"), \
                "too_large"
        raw = request.get_data(cache=False)
        verdict = webhooks.judge(raw, request.headers, secret=settings.woo_webhook_secret,
                                 topics=settings.webhook_topics, max_bytes=settings.webhook_max_body_bytes)
        if not verdict.accepted:
            event(log, "webhook not accepted", logging.INFO if verdict.status < 400 else logging.WARNING,
                  status=verdict.status, reason=verdict.reason, topic=request.headers.get("X-WC-Webhook-Topic"))
            return _answer(verdict.status, verdict.reason), metrics.refused(verdict.status)
        publisher = publish_customer if verdict.topic.startswith("customer.") else publish
        delivery_id, new, queued = webhooks.record(db, verdict, request.headers, cid, publisher)
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
        if not (auth and hmac.compare_digest(auth.username or "", settings.flower_user)
                and hmac.compare_digest(auth.password or "", settings.flower_password)):
            response = _answer(401, "operator credentials required")
            response.headers["WWW-Authenticate"] = 'Basic realm="wooerp status"'
            return response
        from workers.status import report
        return jsonify(report(services))

    @app.get("/healthz")
    def healthz():
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return jsonify(status="ok")

    return app


def _answer(status: int, reason: str, **extra):
    response = jsonify(status=status, reason=reason, correlation_id=logs.get_correlation_id(), **extra)
    response.status_code = status
    return response
