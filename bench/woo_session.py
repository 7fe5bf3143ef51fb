"""The pooled keep-alive session of connector.woo.client against the `woocommerce` package as shipped
(a new connection per call), on the same calls to the Woo sandbox.

The sandbox runs under gunicorn's threaded worker, which keeps connections alive like a shop's web
server. Run twice: straight to the sandbox on loopback, and through a local relay that holds every new
connection for a set time before passing bytes on, standing in for the TCP and TLS handshakes a real
shop costs (2–3 round trips; 30 ms here, a shop ~10 ms away). Prints calls/s and the ratio pooled/plain.
Usage: python -m bench.woo_session [--calls 300] [--handshake-ms 30]
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from woocommerce import API

from connector.settings import SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET
from connector.woo.client import WooClient
from tests.support.procs import Proc, child_env, free_port, wait_http


class HandshakeRelay:
    """TCP relay on 127.0.0.1 that delays each new connection by `delay` seconds, then pipes bytes."""

    def __init__(self, target_port: int, delay: float):
        self.target_port, self.delay = target_port, delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.sock.accept()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        time.sleep(self.delay)
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def calls_per_second(call, n: int) -> float:
    call()  # warm up (and open the pooled connection)
    started = time.perf_counter()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - started)


def measure(url: str, calls: int) -> dict:
    plain = API(url=url, consumer_key=SANDBOX_WOO_KEY, consumer_secret=SANDBOX_WOO_SECRET, version="wc/v3",
                timeout=30)
    pooled = WooClient(url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=30)

    def plain_call():
        r = plain.get("products", params={"per_page": 10})
        r.raise_for_status()
    rates = {"plain": calls_per_second(plain_call, calls),
             "pooled": calls_per_second(lambda: pooled.get("products", per_page=10), calls)}
    rates["ratio"] = rates["pooled"] / rates["plain"]
    return rates


def run(calls: int = 300, handshake_ms: float = 30) -> dict:
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="wooerp-session-"))
    # gunicorn's threaded worker keeps connections alive as a shop's web server does (werkzeug,
    # which `python -m sandbox.woo` uses, closes every connection)
    woo = Proc("woo", [str(Path(sys.executable).parent / "gunicorn"), "--workers", "1", "--worker-class", "gthread",
                       "--threads", "8", "--keep-alive", "30", "--bind", f"127.0.0.1:{port}",
                       "sandbox.woo.app:create_app()"], child_env(), logs / "woo.log").start()
    try:
        wait_http(f"http://127.0.0.1:{port}/wp-json/", proc=woo, timeout=30)
        results = {"loopback": measure(f"http://127.0.0.1:{port}", calls)}
        relay = HandshakeRelay(port, handshake_ms / 1000)
        results[f"handshake {handshake_ms:g} ms"] = measure(f"http://127.0.0.1:{relay.port}", calls)
        return results
    finally:
        woo.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--handshake-ms", type=float, default=30)
    a = ap.parse_args()
    for name, r in run(a.calls, a.handshake_ms).items():
        print(f"{name}: woocommerce package {r['plain']:.0f} calls/s, pooled session {r['pooled']:.0f} calls/s, "
              f"ratio {r['ratio']:.2f}")


if __name__ == "__main__":
    main()
