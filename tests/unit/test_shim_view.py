"""The shim's HTTP answers and what it stores (the broker is replaced by a recorder at this level)."""
import json

import pytest
from sqlalchemy import func, select

from connector.models import WebhookDelivery
from connector.settings import load
from connector.webhooks import signature
from shim.app import create_app

SECRET = "unit-secret-123"


@pytest.fixture
def shim(db):
    published = []
    settings = load({"DATABASE_URL": db.url, "WOO_WEBHOOK_SECRET": SECRET, "WEBHOOK_MAX_BODY_BYTES": "4096"})

    def publish(topic, order_id, cid):
        published.append(order_id)
        return f"task-{order_id}"
    app = create_app(settings, publish=publish)
    return app.test_client(), published, db


def post(client, body: bytes, sign=True, topic="order.created"):
    headers = {"X-WC-Webhook-Topic": topic, "Content-Type": "application/json"}
    if sign:
        headers["X-WC-Webhook-Signature"] = signature(body, SECRET)
    return client.post("/webhooks/woocommerce", data=body, headers=headers)


def stored(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(WebhookDelivery))


def test_accepted_delivery_is_stored_then_published_once(shim):
    client, published, db = shim
    body = json.dumps({"id": 7, "date_modified_gmt": "2026-11-20T10:00:00"}).encode()
    assert post(client, body).status_code == 200
    again = post(client, body)
    assert again.status_code == 200 and "duplicate" in again.json["reason"]
    assert published == [7] and stored(db) == 1


@pytest.mark.parametrize("body, sign, status", [
    (b'{"id": 1}', False, 401), (b"{not json", True, 400), (b'{"id": 1, "pad": "' + b"x" * 5000 + b'"}', True, 413)])
def test_bad_deliveries_get_a_reason_and_store_nothing(shim, body, sign, status):
    client, published, db = shim
    r = post(client, body, sign=sign)
    assert r.status_code == status and r.json["reason"]
    assert published == [] and stored(db) == 0


def test_wrong_signature_is_401(shim):
    client, published, db = shim
    r = client.post("/webhooks/woocommerce", data=b'{"id": 1}',
                    headers={"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Signature": signature(b"x", SECRET)})
    assert r.status_code == 401 and stored(db) == 0 and published == []


def test_broker_down_still_answers_200_and_keeps_the_delivery_for_the_relay(db):
    settings = load({"DATABASE_URL": db.url, "WOO_WEBHOOK_SECRET": SECRET})

    def broken(*_):
        raise ConnectionError("broker down")
    client = create_app(settings, publish=broken).test_client()
    body = b'{"id": 9}'
    r = post(client, body)
    assert r.status_code == 200 and r.json["queued"] is False
    with db.session() as s:
        row = s.scalar(select(WebhookDelivery))
        assert row.resource_id == 9 and row.published_at is None


def test_ping_is_200(shim):
    client, published, db = shim
    r = client.post("/webhooks/woocommerce", data=b"webhook_id=3",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and stored(db) == 0


@pytest.mark.parametrize("body, extra", [
    (b'{"id": true}', {}), (b'{"id": 9223372036854775808}', {}),
    (b'{"id": 3, "date_modified_gmt": "' + b"9" * 40 + b'"}', {}),
    (b'{"id": 3}', {"X-WC-Webhook-ID": "w" * 33}), (b'{"id": 3}', {"X-WC-Webhook-Delivery-ID": "d" * 65}),
    (b"[" * 2000 + b"]" * 2000, {}),
])
def test_signed_deliveries_the_database_would_refuse_are_400_and_publish_nothing(shim, body, extra):
    client, published, db = shim
    headers = {"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Signature": signature(body, SECRET), **extra}
    r = client.post("/webhooks/woocommerce", data=body, headers=headers)
    assert r.status_code == 400 and r.json["reason"]
    assert published == [] and stored(db) == 0


@pytest.mark.parametrize("password", ["wooerp-dev\u00e9", "\u2603", ""])
def test_status_with_a_non_ascii_password_is_401(shim, password):
    client, _, _ = shim
    import base64
    token = base64.b64encode(f"admin:{password}".encode("utf-8")).decode()
    r = client.get("/status", headers={"Authorization": f"Basic {token}"})
    assert r.status_code == 401


def test_a_database_that_cannot_store_the_delivery_is_a_503_for_the_shop_to_retry(tmp_path):
    from connector.db import Database
    broken = Database(f"sqlite:///{tmp_path / 'no-schema.db'}")  # no tables: every insert fails
    settings = load({"DATABASE_URL": broken.url, "WOO_WEBHOOK_SECRET": SECRET})
    client = create_app(settings, publish=lambda *_: "task").test_client()
    r = post(client, b'{"id": 5}')
    assert r.status_code == 503 and r.json["reason"]


def _holding_order(order_id: int) -> bytes:
    return json.dumps({"id": order_id, "status": "processing", "date_modified_gmt": "2026-11-20T10:00:00",
                       "line_items": [{"sku": "H-1", "quantity": 2}]}).encode()


def test_a_holding_order_is_stored_with_its_hold_in_one_commit_and_marked_published_after(shim):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from connector.models import StockHold
    from connector.webhooks import write_pending_marks
    client, published, db = shim
    commits = []

    def count(conn):
        commits.append(1)
    event.listen(Engine, "commit", count)
    try:
        r = post(client, _holding_order(31))
        assert r.status_code == 200 and r.json["queued"] is True and published == [31]
        assert len(commits) == 1  # the hold and the delivery; the mark rides with the next write
        assert post(client, _holding_order(32)).json["queued"] is True and len(commits) == 2
    finally:
        event.remove(Engine, "commit", count)
    write_pending_marks()
    with db.session() as s:
        rows = {d.resource_id: d for d in s.scalars(select(WebhookDelivery))}
        assert {h.woo_order_id for h in s.scalars(select(StockHold))} == {31, 32}
    assert {rid: (d.task_id, d.published_at is not None) for rid, d in rows.items()} == \
        {31: ("task-31", True), 32: ("task-32", True)}


def test_a_holding_order_the_broker_refused_stays_for_the_relay(db):
    from connector.webhooks import unpublished, write_pending_marks
    settings = load({"DATABASE_URL": db.url, "WOO_WEBHOOK_SECRET": SECRET})

    def broken(*_):
        raise ConnectionError("broker down")
    r = post(create_app(settings, publish=broken).test_client(), _holding_order(33))
    assert r.status_code == 200 and r.json["queued"] is False
    write_pending_marks()
    assert [d.resource_id for d in unpublished(db)] == [33]
