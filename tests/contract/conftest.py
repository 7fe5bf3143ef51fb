"""Fixtures for the WooCommerce sandbox contract tests: the sandbox as a real subprocess and a
webhook receiver that records raw deliveries (the ERP sandbox tests keep their fixtures in their module)."""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from sandbox.woo import DEFAULT_KEY, DEFAULT_SECRET
from sandbox.woo.admin import WooSandboxAdmin
from tests.support.procs import PYTHON, Proc, child_env, free_port, wait_http

PING = re.compile(rb"^webhook_id=\d+$")


@dataclass
class WooSandbox:
    url: str
    key: str
    secret: str
    admin: WooSandboxAdmin
    proc: Proc

    @property
    def api(self) -> str:
        return self.url + "/wp-json/wc/v3/"


def start_woo_sandbox(log_path, *extra: str) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc("woo-sandbox", [PYTHON, "-m", "sandbox.woo", "--port", str(port), "--key", DEFAULT_KEY,
                                "--secret", DEFAULT_SECRET, *extra], child_env(), log_path).start()
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/_sandbox/stats", timeout=10, proc=proc)
    return proc, url


@pytest.fixture(scope="session")
def woo_sandbox(tmp_path_factory):
    proc, url = start_woo_sandbox(tmp_path_factory.mktemp("woo") / "woo-sandbox.log")
    try:
        yield WooSandbox(url, DEFAULT_KEY, DEFAULT_SECRET, WooSandboxAdmin(url), proc)
    finally:
        proc.stop()


@pytest.fixture
def woo(woo_sandbox):
    """The shared sandbox, emptied, with no faults, the `fast` profile and zeroed stats for each test."""
    woo_sandbox.admin.profile("fast")
    woo_sandbox.admin.clear_faults()
    woo_sandbox.admin.reset()
    woo_sandbox.admin.reset_stats()
    yield woo_sandbox
    woo_sandbox.admin.profile("fast")
    woo_sandbox.admin.clear_faults()


class Receiver:
    """Threaded HTTP receiver on 127.0.0.1 that records raw bodies; answers per path (default 200).
    Pings (unsigned `webhook_id=N`) are answered 200 unless the path is told to fail pings too."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records: list[dict] = []
        self.status: dict[str, int] = {}
        self.ping_status: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                path = urlsplit(self.path).path
                ping = "x-wc-webhook-signature" not in headers and bool(PING.match(raw))
                with receiver.lock:
                    code = receiver.ping_status.get(path, 200) if ping else receiver.status.get(path, 200)
                    receiver.records.append({"path": path, "headers": headers, "body": raw, "ping": ping,
                                             "t": time.time()})
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def got(self, path: str, ping: bool | None = False) -> list[dict]:
        with self.lock:
            return [r for r in self.records if r["path"] == path and (ping is None or r["ping"] == ping)]

    def wait(self, path: str, count: int, timeout: float = 10.0, ping: bool | None = False) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.got(path, ping)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.got(path, ping)


@pytest.fixture(scope="session")
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()
