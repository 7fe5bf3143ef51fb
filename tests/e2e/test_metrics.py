"""Prometheus metrics as an operator scrapes them from real processes: the shim's webhook deliveries summed
exactly over its two gunicorn workers; task runs, errors and durations of `celery worker` processes
(concurrency 2) with queue lengths, sync lag, last success and dead letters from the keeper; and Flower's
own metrics, open without a login."""
from __future__ import annotations

import shlex
import socket
import time
from datetime import timedelta, timezone
from urllib.parse import urlsplit

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from connector.db import Database, utcnow
from connector.models import SyncCursor
from connector.settings import load
from connector.sync.delta import format_ts
from connector.webhooks import signature
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import DEFAULT_SECRET, deliver, php_json
from tests.support.messages import send, start_worker
from tests.support.procs import free_port, wait_http, wait_until
from workers import task_metrics
from ops.fleet import flower_command

pytestmark = pytest.mark.e2e
IMPORT, REFUSED, KEEP = "wooerp.orders.import_order", "wooerp.test.refused_for_good", "wooerp.dead_letter.keep"


def scrape(url: str) -> dict[tuple, float]:
    """{(sample name, ((label, value), …)): value} of one scrape."""
    r = requests.get(url, timeout=5)
    r.raise_for_status()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(r.text) for s in f.samples}


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def clear(client: redis.Redis, *patterns: str) -> None:
    for pattern in patterns:
        for key in client.scan_iter(pattern):
            client.delete(key)


# --------------------------------------------------------------------------------------------- the shim

def signed(payload, topic="order.created", secret=DEFAULT_SECRET) -> tuple[bytes, dict]:
    body = payload if isinstance(payload, bytes) else php_json(payload)
    return body, {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic,
                  "X-WC-Webhook-Signature": signature(body, secret)}


def post(shim_url: str, body: bytes, headers: dict) -> int:
    return requests.post(f"{shim_url}/webhooks/woocommerce", data=body, headers=headers, timeout=15).status_code


def hold(shim_url: str, body: bytes, headers: dict) -> socket.socket:
    """Send a delivery's headers but not its body: the gunicorn worker that took it waits, busy, for the body."""
    u = urlsplit(shim_url)
    sock = socket.create_connection((u.hostname, u.port), timeout=20)
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST /webhooks/woocommerce HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Length: {len(body)}\r\n"
                 f"{lines}\r\n".encode())
    return sock


def release(sock: socket.socket, body: bytes) -> int:
    sock.sendall(body)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    return int(answer.split(b" ", 2)[1])


@pytest.fixture
def broker(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    clear(client, "orders", "wooerp:queued:order:97????")  # the imports the accepted deliveries queued


def test_the_shims_delivery_counts_are_exact_sums_over_its_gunicorn_workers(fleet_factory, broker):
    fleet = fleet_factory(WEBHOOK_MAX_BODY_BYTES="4096")
    url, ids = fleet.shim_url, iter(range(970_001, 970_100))
    order = lambda: signed({"id": next(ids), "status": "processing"})  # noqa: E731

    # Worker X waits for the body of `first`, so every delivery of round one goes to worker Y; then Y
    # waits for `second` while X takes round two. Each worker counts only part of the deliveries.
    first, second = order(), order()
    held = hold(url, *first)
    # A real pause, not a wait for "nothing more": which gunicorn worker accepts a connection is not visible from
    # outside, and the held one must be taken before round one is sent. The counts asserted below are exact
    # sums whichever way the deliveries were shared out; the pause only makes both workers count some.
    time.sleep(0.3)
    dup = order()
    round_one = [post(url, *order()), post(url, *dup), post(url, *dup),
                 post(url, dup[0], {**dup[1], "X-WC-Webhook-Signature": "forged"}),
                 post(url, *signed({"id": 1}, secret="not-the-secret")),
                 post(url, *signed(b"{not json")), post(url, *signed({"id": 2, "pad": "x" * 5000})),
                 post(url, *signed({"id": 3}, topic="product.created")),
                 post(url, b"webhook_id=7", {"Content-Type": "application/x-www-form-urlencoded"})]
    assert round_one == [200, 200, 200, 401, 401, 400, 413, 202, 200]
    other = hold(url, *second)
    assert release(held, first[0]) == 200
    round_two = [post(url, *order()), post(url, *signed({"id": 4}, secret="not-the-secret")),
                 post(url, *signed(b"[]"))]
    assert round_two == [200, 401, 400]
    assert release(other, second[0]) == 200

    expected = {("order.created", "accepted"): 5, ("order.created", "duplicate"): 1,
                ("order.created", "bad_signature"): 3, ("order.created", "bad_request"): 2,
                ("order.created", "too_large"): 1, ("other", "ignored_topic"): 1, ("other", "ping"): 1}
    for _ in range(4):  # whichever worker answers the scrape, it reports both workers' counts
        samples = scrape(f"{url}/metrics")
        got = {(dict(labels)["topic"], dict(labels)["result"]): v for (name, labels), v in samples.items()
               if name == "wooerp_webhook_deliveries_total"}
        assert got == expected


# ------------------------------------------------------------------------------- workers, keeper, Flower

def test_workers_keeper_and_flower_metrics_show_what_the_fleet_did(fleet_factory, tmp_path):
    fleet = fleet_factory(METRICS_PORT=str(free_port()))
    client = redis.Redis.from_url(fleet.env["REDIS_URL"])
    clear(client, task_metrics.TASKS, task_metrics.ERRORS, task_metrics.DURATION, "orders", "catalog", "inventory",
          "dead_letter", "wooerp:queued:order:*")  # counts and markers other tests left in this Redis
    keeper_url = f"http://127.0.0.1:{fleet.env['METRICS_PORT']}/metrics"
    settings, flower_port = load(fleet.env), free_port()
    flower = fleet.start("flower", shlex.split(flower_command(settings, port=flower_port, state_dir=tmp_path)))
    fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
    db = Database(fleet.env["DATABASE_URL"])
    now = utcnow()
    with db.session() as s:
        s.add(SyncCursor(stream="products", watermark=format_ts(now - timedelta(seconds=600)),
                         last_success_at=now - timedelta(seconds=30)))
    stock_shop(fleet, "SKU-A")
    # two customers: one e-mail would make the second import wait for the first one's customer lease (a retry)
    orders = [checkout(fleet, email="ada@example.com"), checkout(fleet, email="bob@example.com")]
    assert [deliver(fleet.shim_url, o).status_code for o in orders] == [200, 200]

    def keeper():
        try:
            return scrape(keeper_url)
        except requests.RequestException:
            return None
    before = wait_until(keeper, 30, 0.3, "the keeper's metrics endpoint")
    assert value(before, "wooerp_queue_length", queue="orders") == 2  # no order worker yet
    assert 600 <= value(before, "wooerp_sync_lag_seconds", stream="products") < 660
    assert value(before, "wooerp_stream_last_success_timestamp_seconds", stream="products") == \
        pytest.approx(_as_utc(now) - 30, abs=0.01)

    ErpSandboxAdmin(fleet.erp_url).set_faults([{"method": "POST", "path": "/api/v1/sales-orders", "kind": "error",
                                                "status": 503, "count": 1}])
    wait_http(f"http://127.0.0.1:{flower_port}/healthcheck", proc=flower, timeout=30)
    start_worker(fleet, concurrency=2)
    send(fleet, REFUSED, 4711)
    for o in orders:
        imported_once(fleet, o["id"])

    def settled():
        s = scrape(keeper_url)
        return s if value(s, "wooerp_tasks_total", task=KEEP, outcome="expected_failure") == 1 \
            and value(s, "wooerp_tasks_total", task=IMPORT, outcome="success") == 2 else None
    after = wait_until(settled, 30, 0.3, "the runs counted")
    assert value(after, "wooerp_tasks_total", task=IMPORT, outcome="retry") == 1
    assert value(after, "wooerp_task_errors_total", task=IMPORT, reason="TransientError:503") == 1
    assert value(after, "wooerp_tasks_total", task=REFUSED, outcome="failure") == 1
    assert value(after, "wooerp_task_errors_total", task=REFUSED, reason="PermanentError") == 1
    assert value(after, "wooerp_task_duration_seconds_count", task=IMPORT) == 3
    assert value(after, "wooerp_task_duration_seconds_bucket", task=IMPORT, le="+Inf") == 3
    assert 0 < value(after, "wooerp_task_duration_seconds_sum", task=IMPORT) < 60
    assert value(after, "wooerp_dead_letters", status="open") == 1
    assert value(after, "wooerp_queue_length", queue="orders") == 0
    up = {dict(k[1])["source"]: v for k, v in after.items() if k[0] == "wooerp_metrics_source_up"}
    assert set(up) >= {"tasks", "queues", "streams", "failures", "reconcile"} and set(up.values()) == {1}
    assert value(after, "wooerp_reconcile_last_run_timestamp_seconds") is not None

    def flower_saw_them():
        s = scrape(f"http://127.0.0.1:{flower_port}/metrics")  # no login: /metrics stays open
        seen = {(dict(k[1])["task"], dict(k[1])["type"]): v for k, v in s.items() if k[0] == "flower_events_total"}
        return s if seen.get((IMPORT, "task-succeeded")) == 2 and seen.get((REFUSED, "task-failed")) == 1 else None
    from_flower = wait_until(flower_saw_them, 20, 0.5, "the task events in Flower's metrics")
    online = {dict(k[1])["worker"] for k, v in from_flower.items() if k[0] == "flower_worker_online" and v == 1}
    assert {n.split("@")[0] for n in online} >= {"worker", "keeper"}
    assert any(k[0] == "flower_task_runtime_seconds_count" and dict(k[1])["task"] == IMPORT for k in from_flower)


def _as_utc(naive_utc) -> float:
    return naive_utc.replace(tzinfo=timezone.utc).timestamp()
