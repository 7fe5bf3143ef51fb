"""Nothing accepted is lost to a database outage (issue 16).

The database stops taking writes for longer than the whole retry budget while order imports and a catalog
task run: their retries run out and their dead letters cannot be written either. Without beat (so no
order poll to find the orders later), every accepted order must still end in the ERP exactly once, and
the catalog task must still write its product, once the database takes writes again.

The outage is a lock the test holds, so that it ends exactly when the test says: on SQLite the write
lock (`BEGIN IMMEDIATE`; every writer waits SQLITE_BUSY_TIMEOUT_SECONDS, then gets `database is locked`),
on PostgreSQL an ACCESS EXCLUSIVE lock on every table (every statement, reads included, waits the
fleet's `lock_timeout`, then fails). Either way the fleet sees the OperationalError a database that is
down raises.
"""
from __future__ import annotations

import contextlib
import sqlite3

import pytest
from sqlalchemy import select

from connector import binding
from connector.models import Base, DeadLetter
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_orders, woo_client
from tests.e2e.test_dead_letters import wooerp
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver
from tests.support.messages import send
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e


def _log_count(fleet, name: str, text: str) -> int:
    return fleet.procs[name].log_path.read_text(errors="replace").count(text)


@contextlib.contextmanager
def outage(database_url: str):
    """The database refuses the fleet's statements until the block ends."""
    if database_url.startswith("sqlite"):
        lock = sqlite3.connect(database_url.split("///", 1)[1], timeout=30, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lock.rollback()
            lock.close()
        return
    import psycopg2
    from connector.db import normalise_url
    lock = psycopg2.connect(normalise_url(database_url).replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with lock.cursor() as cur:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            cur.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        lock.rollback()
        lock.close()


def test_orders_and_a_catalog_task_accepted_before_a_long_database_outage_all_arrive_once(fleet_factory, database_url):
    fleet = fleet_factory(TASK_MAX_RETRIES="1", RETRY_BACKOFF_BASE_SECONDS="0.2", RETRY_BACKOFF_MAX_SECONDS="1",
                          SQLITE_BUSY_TIMEOUT_SECONDS="0.5", PGOPTIONS="-c lock_timeout=500", METRICS_PORT="0")
    stock_shop(fleet, "SKU-A")
    ErpSandboxAdmin(fleet.erp_url).add_product("OUTAGE-1", name="Made during the outage", list_price="12.50",
                                               stock={"MAIN": {"on_hand": 5, "reserved": 0, "safety_stock": 0}})
    orders = [checkout(fleet, email=f"outage{i}@example.com") for i in range(4)]
    for order in orders:  # accepted: stored by the shim and queued, while the database is up
        assert deliver(fleet.shim_url, order).status_code == 200
    send(fleet, "wooerp.catalog.apply_products", ["OUTAGE-1"], on="catalog")

    with outage(database_url):
        fleet.start_worker(concurrency=2)
        fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
        # every task has spent its whole retry budget and could not write its dead letter, more than once
        wait_until(lambda: _log_count(fleet, "worker", "dead letter could not be written") >= 2 * (len(orders) + 1),
                   120, 0.5, "the tasks' retry budgets to run out during the outage")

    # A task that was failing at the very moment the database came back may find it up for its letter:
    # then it is dead-lettered, which is the other acceptable end. Lost is not.
    from connector.db import Database
    db = Database(database_url)
    woo = woo_client(fleet)

    def letter(task: str, arg) -> bool:
        with db.session() as s:
            return any(row.args == [arg] for row in s.scalars(select(DeadLetter).where(DeadLetter.task_name == task)))

    def order_settled(order) -> bool:
        found = erp_orders(fleet, f"WC-ORDER-{order['id']}")
        assert len(found) <= 1, found
        return bool(found) or letter("wooerp.orders.import_order", order["id"])

    def product_settled() -> bool:
        written = woo.products_by_sku(["OUTAGE-1"])
        assert len(written) <= 1, written
        if written and written[0]["regular_price"] == "12.50":
            bound = binding.by_sku(db, ["OUTAGE-1"]).get("OUTAGE-1")
            if bound is not None and bound.woo_id == written[0]["id"]:
                return True
        # written but its link not stored (the database went away between the two) is the letter's to finish:
        # its replay finds the product by SKU and links it, creating nothing twice
        return letter("wooerp.catalog.apply_products", ["OUTAGE-1"])
    try:
        for order in orders:
            wait_until(lambda: order_settled(order), 90, 0.5, f"order {order['id']} in the ERP or dead-lettered")
        wait_until(product_settled, 60, 0.5, "the catalog task's product in the shop, or its dead letter")
        with db.session() as s:
            product_letter = s.scalar(select(DeadLetter.id).where(
                DeadLetter.task_name == "wooerp.catalog.apply_products", DeadLetter.status == "open"))
        if product_letter is not None:  # its replay writes the product once and links it (it may be in the shop)
            replay = wooerp(fleet, "dead-letters", "replay", "--id", str(product_letter), "--reason", "database back")
            assert replay.returncode == 0, replay.stderr

            def linked_once() -> bool:
                written = woo.products_by_sku(["OUTAGE-1"])
                assert len(written) <= 1, written
                bound = binding.by_sku(db, ["OUTAGE-1"]).get("OUTAGE-1")
                return bool(written) and bound is not None and bound.woo_id == written[0]["id"]
            wait_until(linked_once, 60, 0.5, "the replayed catalog task's product in the shop and linked")
        imported = [o for o in orders if erp_orders(fleet, f"WC-ORDER-{o['id']}")]
        assert imported, "no order reached the ERP after the outage"
        for order in imported:
            imported_once(fleet, order["id"], timeout=60)
    finally:
        db.engine.dispose()
