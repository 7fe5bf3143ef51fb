"""`wooerp run` (what `make run` starts) brings up the whole embedded fleet, moves the demo data both ways,
shows the workers in Flower, stops cleanly on Ctrl-C, and a second start continues where the first
stopped: banner within a minute, demo order placed, a new order reaches the ERP exactly once.

Every port is moved by its variable to a free one, so the test also proves they are all configurable."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from connector.settings import SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET
from connector.woo.client import WooClient
from tests.support.procs import free_port, wait_until

pytestmark = pytest.mark.e2e
WOOERP = str(Path(sys.executable).parent / "wooerp")
TROUBLE = re.compile(r'"level": "(error|critical)"|Traceback|WorkerLostError|CRITICAL|ERROR')


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Run:
    """One `wooerp run` in `cwd`, its output in a file."""

    def __init__(self, cwd: Path, env: dict, name: str):
        self.log_path = cwd / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([WOOERP, "run"], cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def banner(self, timeout: float) -> float:
        wait_until(lambda: "wooerp is running" in self.output() or self.proc.poll() is not None, timeout, 0.5,
                   "the banner")
        assert self.proc.poll() is None and "wooerp is running." in self.output(), self.output()[-3000:]
        return time.monotonic() - self.started

    def ctrl_c(self) -> int:
        os.kill(self.proc.pid, signal.SIGINT)  # what the terminal sends to `make run` in the foreground
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        finally:
            self.log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def test_run_starts_stops_cleanly_and_continues_after_a_restart(tmp_path):
    ports = {name: free_port() for name in ("REDIS_PORT", "WOO_SANDBOX_PORT", "ERP_SANDBOX_PORT", "FLOWER_PORT",
                                            "METRICS_PORT", "SHIM")}
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "WOO_URL", "ERP_URL",
                                                            "FLOWER_PASSWORD")}
    env.update({k: str(v) for k, v in ports.items() if k != "SHIM"}, PYTHONUNBUFFERED="1",
               SHIM_URL=f"http://127.0.0.1:{ports['SHIM']}")
    woo_url, erp_url = f"http://127.0.0.1:{ports['WOO_SANDBOX_PORT']}", f"http://127.0.0.1:{ports['ERP_SANDBOX_PORT']}"
    flower = f"http://127.0.0.1:{ports['FLOWER_PORT']}"

    def erp_orders() -> dict[str, int]:
        refs = requests.get(f"{erp_url}/_sandbox/stats", timeout=5).json()["orders_by_external_ref"]
        return {ref: n for ref, n in refs.items() if ref.startswith("WC-ORDER-")}

    first = Run(tmp_path, env, "first")
    try:
        first.banner(120)
        out = first.output()
        assert "password 'wooerp-dev' (the default; set FLOWER_PASSWORD" in out
        assert f"{flower}/tasks?name=wooerp.dead_letter.keep&state=FAILURE" in out
        assert f"http://127.0.0.1:{ports['METRICS_PORT']}/metrics" in out
        assert f"redis://127.0.0.1:{ports['REDIS_PORT']}/0" in out and "var/wooerp.db" in out
        assert list(wait_until(erp_orders, 60, 1, "the demo order in the ERP sandbox").values()) == [1]
        # metrics: the shim's deliveries summed over its gunicorn workers, the fleet's tasks from the keeper
        assert 'wooerp_webhook_deliveries_total{result="accepted"' in \
            requests.get(f"{env['SHIM_URL']}/metrics", timeout=5).text
        imports = 'wooerp_tasks_total{outcome="success",task="wooerp.orders.import_order"}'
        wait_until(lambda: imports in requests.get(f"http://127.0.0.1:{ports['METRICS_PORT']}/metrics", timeout=5).text,
                   20, 0.5, "the demo order's import in the keeper's metrics")
        assert requests.get(f"{flower}/api/workers", timeout=5).status_code == 401
        workers = wait_until(lambda: requests.get(f"{flower}/api/workers?refresh=1", auth=("admin", "wooerp-dev"),
                                                  timeout=5).json(), 60, 1, "workers in Flower")
        assert any(name.startswith("worker@") for name in workers) and any(n.startswith("keeper@") for n in workers)
        assert (tmp_path / "var" / "valkey").is_dir() and (tmp_path / "var" / "wooerp.db").exists()

        # a second `wooerp run` while this one runs: one line naming a busy port and its variable
        again = subprocess.run([WOOERP, "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 2 and again.stdout == "", again.stdout[-2000:]
        assert re.fullmatch(r"wooerp run: port \d+ \(.+\) is already in use; stop what uses it, or move .+ with "
                            r"[A-Z_]+.*\n", again.stderr), again.stderr
    finally:
        status = first.ctrl_c()
    out = first.output()
    stop = out[out.index("stopping: workers"):]
    assert status == 0 and stop.rstrip().endswith("stopped"), out[-3000:]
    assert not TROUBLE.findall(out), [line for line in out.splitlines() if TROUBLE.search(line)][:5]
    assert not [p for p in ports.values() if port_open(p)], out[-2000:]
    assert (tmp_path / "var" / "woo-sandbox.state").exists() and (tmp_path / "var" / "erp-sandbox.state").exists()

    second = Run(tmp_path, env, "second")
    try:
        second.banner(60)  # the catalog is still in the shop: no waiting for the first poll
        assert "no demo order" not in second.output() and "demo gave up" not in second.output()
        refs = wait_until(lambda: len(erp_orders()) == 2 and erp_orders(), 60, 1, "the second demo order")
        assert list(refs.values()) == [1, 1]  # nothing was answered "already written back"

        woo = WooClient(woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)
        sku = next(p["sku"] for p in woo.get("products", type="simple", per_page=20) if p.get("sku"))
        placed = requests.post(f"{woo_url}/_sandbox/checkout", json={"lines": [{"sku": sku, "quantity": 1}]},
                               timeout=10).json()["id"]
        ref = f"WC-ORDER-{placed}"
        assert ref not in refs  # order ids keep counting after the restart
        wait_until(lambda: erp_orders().get(ref), 60, 0.5, "the order placed after the restart in the ERP")
        wait_until(lambda: any(m["key"] == "_erp_order_number" for m in woo.get_order(placed)["meta_data"]), 30, 0.5,
                   "its ERP number written back")
        assert erp_orders() == {**refs, ref: 1}
    finally:
        second.kill()
