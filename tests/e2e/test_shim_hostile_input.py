"""The shim as deployed (gunicorn, `shim.gunicorn_conf`, a real Valkey broker and the test database) against
generated hostile and careless requests: it answers 2xx or 4xx to anything a client can send, and a refused
delivery neither publishes an order task nor stores a row. Then slow clients: connections that trickle
their bodies do not starve the deliveries that arrive meanwhile."""
from __future__ import annotations

import base64
import json
import socket
import sys
import time
from pathlib import Path

import pytest
import redis
import requests
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from connector.db import Database
from connector.models import WebhookDelivery
from connector.webhooks import signature
from tests.support.database import emptied
from tests.support.procs import Proc, child_env, free_port, wait_http

SECRET = "hostile-test-secret-0123456789"
BIN = Path(sys.executable).parent
TOPICS = ["order.created", "order.updated", "order.deleted", "product.updated", "", "order.created\u00e9"]

# closed ports: these shims have no shop or ERP, whatever else runs on this machine (a `make run` on 8081)
NO_SHOP, NO_ERP = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def shim(redis_url, database_url, logs_dir):
    emptied(database_url).engine.dispose()  # module-scoped: an earlier test's shop binding would refuse the shim
    port = free_port()
    env = child_env(REDIS_URL=redis_url, DATABASE_URL=database_url, WOO_WEBHOOK_SECRET=SECRET,
                    WEBHOOK_MAX_BODY_BYTES="65536", LOG_LEVEL="WARNING",
                    IDENTITY_WAIT_SECONDS="0",  # no shop or ERP here: the shim's identity check does not wait,
                    WOO_URL=NO_SHOP, ERP_URL=NO_ERP)  # and never finds the shop of a `make run` left on this machine
    proc = Proc("shim-hostile", [str(BIN / "gunicorn"), "--config", "python:shim.gunicorn_conf", "--workers", "2",
                                 "--bind", f"127.0.0.1:{port}", "shim.wsgi:app"],
                env, logs_dir / "shim-hostile.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", proc=proc, timeout=30)
        db = Database(database_url)
        yield url, db, redis.Redis.from_url(redis_url), proc
        db.engine.dispose()
    finally:
        proc.stop()


def _rows(db) -> int:
    with db.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(WebhookDelivery.__table__))


# header text as raw bytes on the wire: anything but CR, LF and NUL (which no HTTP client can send)
header_text = st.text(st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), max_size=80)\
    .map(lambda t: t.lstrip(" \t\x0b\x0c"))
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                        st.floats(allow_nan=False), st.text(max_size=40))
ids = st.one_of(st.integers(min_value=-5, max_value=2**64), st.just(2**63), st.just(2**63 - 1), st.booleans(),
                st.floats(allow_nan=False), st.text(max_size=5), st.none(), st.lists(st.integers(), max_size=2))
dates = st.one_of(st.none(), st.text(max_size=40), st.integers(), st.dictionaries(st.text(max_size=3), json_scalar,
                                                                                   max_size=2),
                  st.just("2026-11-20T10:00:00"), st.just("x" * 33))


@st.composite
def bodies(draw) -> bytes:
    kind = draw(st.sampled_from(["order", "order", "order", "deep", "bytes", "json", "ping"]))
    if kind == "order":
        payload = {"id": draw(ids)}
        if draw(st.booleans()):
            payload["date_modified_gmt"] = draw(dates)
        payload.update(draw(st.dictionaries(st.text(max_size=8), json_scalar, max_size=3)))
        return json.dumps(payload, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if kind == "deep":
        depth = draw(st.integers(min_value=500, max_value=30_000))
        opener = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (opener[0] * depth + "1" + opener[1] * depth).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(st.recursive(json_scalar, lambda c: st.lists(c, max_size=3) |
                                            st.dictionaries(st.text(max_size=5), c, max_size=3),
                                            max_leaves=10))).encode()
    return f"webhook_id={draw(st.integers(min_value=0))}".encode()


@st.composite
def deliveries(draw):
    body = draw(bodies())
    headers: dict[str, bytes] = {}
    if draw(st.booleans()):
        headers["X-WC-Webhook-Topic"] = draw(st.sampled_from(TOPICS)).encode("utf-8")
    sig = draw(st.sampled_from(["valid", "valid", "valid", "none", "random"]))
    if sig == "valid":
        headers["X-WC-Webhook-Signature"] = signature(body, SECRET).encode()
    elif sig == "random":
        headers["X-WC-Webhook-Signature"] = draw(header_text).encode("utf-8")
    for name in ("X-WC-Webhook-ID", "X-WC-Webhook-Delivery-ID", "Content-Type", "X-WC-Webhook-Source"):
        if draw(st.booleans()):
            headers[name] = draw(st.one_of(header_text, st.text("0123456789abcdef", min_size=30, max_size=70)))\
                .encode("utf-8")
    return body, headers


@settings(max_examples=1000, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(request=deliveries())
def test_anything_a_client_sends_gets_2xx_or_4xx_and_a_refusal_leaves_nothing_behind(shim, request):
    url, db, broker, _ = shim
    body, headers = request
    rows, queued = _rows(db), broker.llen("orders")
    r = requests.post(f"{url}/webhooks/woocommerce", data=body, headers=headers, timeout=30)
    assert r.status_code < 500, r.text
    if r.status_code != 200 or r.json().get("reason") != "accepted":
        assert _rows(db) == rows and broker.llen("orders") == queued, (r.status_code, r.text)
    else:
        assert _rows(db) == rows + 1


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(user=header_text, password=header_text)
def test_status_login_with_any_credentials_is_401_not_an_error(shim, user, password):
    url = shim[0]
    token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode()
    r = requests.get(f"{url}/status", headers={"Authorization": f"Basic {token}"}, timeout=30)
    assert r.status_code == 401


def _slow_connection(url: str) -> socket.socket:
    """A delivery whose body is announced as 4000 bytes and then trickles (the caller sends a byte now and then)."""
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(b"POST /webhooks/woocommerce HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"X-WC-Webhook-Topic: order.created\r\nContent-Length: 4000\r\n\r\n{")
    return s


def test_slow_clients_do_not_starve_valid_deliveries(shim):
    url, db, _, proc = shim
    slow = [_slow_connection(url) for _ in range(8)]
    try:
        for n in range(20):
            for s in slow:
                s.sendall(b" ")
            body = json.dumps({"id": 900_000 + n}).encode()
            r = requests.post(f"{url}/webhooks/woocommerce", data=body, timeout=5,
                              headers={"X-WC-Webhook-Topic": "order.created",
                                       "X-WC-Webhook-Signature": signature(body, SECRET)})
            assert r.status_code == 200 and r.json()["reason"] == "accepted"
            time.sleep(0.1)  # the trickle's pace: the slow bodies keep arriving, a byte each 0.1 s, for 2 s
        assert proc.alive()
    finally:
        for s in slow:
            s.close()


def test_a_body_that_does_not_arrive_in_time_gets_408_and_frees_its_thread(redis_url, database_url, db, logs_dir):
    """`db`: empty tables, so no earlier test's shop binding refuses this shim at start."""
    port = free_port()
    env = child_env(REDIS_URL=redis_url, DATABASE_URL=database_url, WOO_WEBHOOK_SECRET=SECRET,
                    WEBHOOK_BODY_TIMEOUT_SECONDS="1", LOG_LEVEL="WARNING", IDENTITY_WAIT_SECONDS="0",
                    WOO_URL=NO_SHOP, ERP_URL=NO_ERP)
    proc = Proc("shim-deadline", [str(BIN / "gunicorn"), "--config", "python:shim.gunicorn_conf", "--workers", "1",
                                  "--threads", "2", "--bind", f"127.0.0.1:{port}", "shim.wsgi:app"],
                env, logs_dir / "shim-deadline.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", proc=proc, timeout=30)
        slow = [_slow_connection(url) for _ in range(4)]  # twice as many as the shim has threads
        answers = []
        for s in slow:
            s.settimeout(15)
            data = b""
            while b"\r\n\r\n" not in data:
                for other in slow:  # keep trickling: the deadline, not silence, must end them
                    try:
                        other.sendall(b" ")
                    except OSError:
                        pass
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            answers.append(data.split(b"\r\n", 1)[0])
            s.close()
        assert all(b" 408 " in a for a in answers), answers
        body = b'{"id": 424242}'
        r = requests.post(f"{url}/webhooks/woocommerce", data=body, timeout=10,
                          headers={"X-WC-Webhook-Topic": "order.created",
                                   "X-WC-Webhook-Signature": signature(body, SECRET)})
        assert r.status_code == 200
    finally:
        proc.stop()
