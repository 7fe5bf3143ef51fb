"""Failures end as exactly one durable dead letter that an operator lists and replays from the CLI."""
from __future__ import annotations

import subprocess
import sys

import pytest

from connector import dead_letters
from connector.db import Database
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_orders
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver
from tests.support.procs import ROOT, wait_until

pytestmark = pytest.mark.e2e


def wooerp(fleet, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workers.cli", *args], cwd=ROOT, env=fleet.env,
                          capture_output=True, text=True, timeout=60)


def test_an_order_failing_every_retry_is_dead_lettered_once_and_replayed_once(fleet_factory):
    fleet = fleet_factory(TASK_MAX_RETRIES="2", RETRY_BACKOFF_BASE_SECONDS="0.2", RETRY_BACKOFF_MAX_SECONDS="1")
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

    erp.clear_faults()
    replay = wooerp(fleet, "dead-letters", "replay", "--id", str(letter.id))
    assert replay.returncode == 0 and "replayed as task" in replay.stdout, replay.stderr
    imported_once(fleet, order["id"])
    again = wooerp(fleet, "dead-letters", "replay", "--id", str(letter.id))
    assert again.returncode == 0 and "replayed as task" not in again.stdout
    assert dead_letters.get(db, letter.id).status == "replayed"
    assert len(dead_letters.listing(db, status=None)) == 1
    imported_once(fleet, order["id"])
