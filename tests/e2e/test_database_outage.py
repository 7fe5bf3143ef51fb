"""Nothing accepted is lost to a database outage (issue 16).

The database stops taking writes for longer than the whole retry budget while order imports and a catalog
task run: their retries run out and their dead letters cannot be written either. Without beat (so no
order poll to find the orders later), every accepted order must still end in the ERP exactly once, and
the catalog task must still write its product, once the database takes writes again.

The outage is SQLite's write lock held by the test (`BEGIN IMMEDIATE`): every writer of the fleet waits
SQLITE_BUSY_TIMEOUT_SECONDS and then gets `database is locked`, the OperationalError a PostgreSQL that is
down also raises. (On the PostgreSQL run this test is skipped: a server cannot be stopped per test.)
"""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select

from connector.models import EntityMapping
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import woo_client
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver
from tests.support.messages import send
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e


def _log_count(fleet, name: str, text: str) -> int:
    return fleet.procs[name].log_path.read_text(errors="replace").count(text)


def test_orders_and_a_catalog_task_accepted_before_a_long_database_outage_all_arrive_once(fleet_factory, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("the outage is simulated with SQLite's write lock")
    fleet = fleet_factory(TASK_MAX_RETRIES="1", RETRY_BACKOFF_BASE_SECONDS="0.2", RETRY_BACKOFF_MAX_SECONDS="1",
                          SQLITE_BUSY_TIMEOUT_SECONDS="0.5", METRICS_PORT="0")
    stock_shop(fleet, "SKU-A")
    ErpSandboxAdmin(fleet.erp_url).add_product("OUTAGE-1", name="Made during the outage", list_price="12.50",
                                               stock={"MAIN": {"on_hand": 5, "reserved": 0, "safety_stock": 0}})
    orders = [checkout(fleet, email=f"outage{i}@example.com") for i in range(4)]
    for order in orders:  # accepted: stored by the shim and queued, while the database is up
        assert deliver(fleet.shim_url, order).status_code == 200
    send(fleet, "wooerp.catalog.apply_products", ["OUTAGE-1"], on="catalog")

    lock = sqlite3.connect(database_url.split("///", 1)[1], timeout=30, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # the outage: from now on no writer of the fleet gets through
    try:
        fleet.start_worker(concurrency=2)
        fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
        # every task has spent its whole retry budget and could not write its dead letter, more than once
        wait_until(lambda: _log_count(fleet, "worker", "dead letter could not be written") >= 2 * (len(orders) + 1),
                   120, 0.5, "the tasks' retry budgets to run out during the outage")
    finally:
        lock.rollback()
        lock.close()

    for order in orders:
        imported_once(fleet, order["id"], timeout=90)
    woo = woo_client(fleet)
    written = wait_until(lambda: woo.products_by_sku(["OUTAGE-1"]), 60, 0.5, "the catalog task's product")
    assert len(written) == 1 and written[0]["regular_price"] == "12.50"
    from connector.db import Database
    db = Database(database_url)
    try:
        with db.session() as s:
            assert s.scalar(select(EntityMapping).where(EntityMapping.woo_id == written[0]["id"])) is not None
    finally:
        db.engine.dispose()
