"""WooCommerce webhook intake: signature check, classification, and the durable outbox.

A delivery is a hint, not a fact: WooCommerce sends duplicates, out of order, and builds payloads at
send time, and its Delivery-ID is only a hash of (webhook id, current second). So a delivery is keyed on
what identifies the change (topic, resource id, body hash), stored before the shop gets its 200, and
the order task re-reads the order instead of trusting the body.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from connector.db import Database, utcnow
from connector.models import WebhookDelivery

PING_BODY = re.compile(rb"^webhook_id=\d+$")


@dataclass(frozen=True)
class Verdict:
    status: int
    reason: str
    topic: str | None = None
    resource_id: int | None = None
    modified_gmt: str | None = None
    body_sha256: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 200 and self.topic is not None

    @property
    def change_key(self) -> str:
        return hashlib.sha256(f"{self.topic}|{self.resource_id}|{self.body_sha256}".encode()).hexdigest()


def signature(raw_body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).digest()).decode("ascii")


def signature_valid(raw_body: bytes, header: str | None, secret: str) -> bool:
    return header is not None and hmac.compare_digest(signature(raw_body, secret), header.strip())


def judge(raw_body: bytes, headers, *, secret: str, topics: tuple[str, ...], max_bytes: int) -> Verdict:
    """Decide what to do with one delivery, from its raw bytes and headers alone (no I/O)."""
    if len(raw_body) > max_bytes:
        return Verdict(413, f"body of {len(raw_body)} bytes exceeds the limit of {max_bytes}")
    sig = headers.get("X-WC-Webhook-Signature")
    if sig is None and PING_BODY.match(raw_body.strip()):
        return Verdict(200, "ping acknowledged")
    if sig is None:
        return Verdict(401, "missing X-WC-Webhook-Signature")
    if not signature_valid(raw_body, sig, secret):
        return Verdict(401, "signature does not match the body")
    topic = headers.get("X-WC-Webhook-Topic", "")
    if topic not in topics:
        return Verdict(202, f"topic {topic or '(none)'} is not handled; ignored")
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        return Verdict(400, "body is not valid JSON")
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), int) or payload["id"] <= 0:
        return Verdict(400, "body has no positive integer 'id'")
    return Verdict(200, "accepted", topic=topic, resource_id=payload["id"],
                   modified_gmt=payload.get("date_modified_gmt"), body_sha256=hashlib.sha256(raw_body).hexdigest())


def record(db: Database, verdict: Verdict, headers, correlation_id: str) -> tuple[int, bool]:
    """Store an accepted delivery; returns (delivery id, True if it is a new change)."""
    row = WebhookDelivery(change_key=verdict.change_key, topic=verdict.topic, resource_id=verdict.resource_id,
                          delivery_header=headers.get("X-WC-Webhook-Delivery-ID"),
                          webhook_id=headers.get("X-WC-Webhook-ID"), body_sha256=verdict.body_sha256,
                          modified_gmt=verdict.modified_gmt, correlation_id=correlation_id, received_at=utcnow())
    try:
        with db.session() as s:
            s.add(row)
            s.flush()
            return row.id, True
    except IntegrityError:
        with db.session() as s:
            existing = s.scalar(select(WebhookDelivery.id).where(WebhookDelivery.change_key == verdict.change_key))
        return existing, False


def mark_published(db: Database, delivery_id: int, task_id: str | None) -> None:
    with db.session() as s:
        s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                  .values(published_at=utcnow(), task_id=task_id))


def unpublished(db: Database, limit: int = 500) -> list[WebhookDelivery]:
    with db.session() as s:
        return list(s.scalars(select(WebhookDelivery).where(WebhookDelivery.published_at.is_(None))
                              .order_by(WebhookDelivery.id).limit(limit)))
