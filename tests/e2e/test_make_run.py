"""`wooerp run` (what `make run` starts) brings up the whole embedded fleet, moves the demo data
both ways, shows the workers in Flower, and stops every process on Ctrl-C."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e
PORTS = (6390, 8081, 8070, 8000, 5555)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_run_starts_the_fleet_and_ctrl_c_stops_it(tmp_path):
    if any(port_open(p) for p in PORTS):
        pytest.fail(f"a port `make run` needs is taken: {[p for p in PORTS if port_open(p)]}")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "WOO_URL", "ERP_URL")}
    env["PYTHONUNBUFFERED"] = "1"
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "wooerp"), "run"], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    output = lambda: (tmp_path / "run.log").read_text(errors="replace")  # noqa: E731
    try:
        wait_until(lambda: "wooerp is running" in output() or proc.poll() is not None, 120, 1, "the banner")
        assert proc.poll() is None, output()[-3000:]

        def demo_orders():
            refs = requests.get("http://127.0.0.1:8070/_sandbox/stats", timeout=5).json()["orders_by_external_ref"]
            return {ref: n for ref, n in refs.items() if ref.startswith("WC-ORDER-")}
        assert list(wait_until(demo_orders, 60, 1, "the demo order in the ERP sandbox").values()) == [1]
        # metrics: the shim's deliveries summed over its gunicorn workers, the fleet's tasks from the keeper
        assert 'wooerp_webhook_deliveries_total{result="accepted"' in \
            requests.get("http://127.0.0.1:8000/metrics", timeout=5).text
        imports = 'wooerp_tasks_total{outcome="success",task="wooerp.orders.import_order"}'
        wait_until(lambda: imports in requests.get("http://127.0.0.1:9540/metrics", timeout=5).text, 20, 0.5,
                   "the demo order's import in the keeper's metrics")
        assert requests.get("http://127.0.0.1:5555/api/workers", timeout=5).status_code == 401
        workers = wait_until(lambda: requests.get("http://127.0.0.1:5555/api/workers?refresh=1", auth=("admin", "wooerp-dev"),
                                                  timeout=5).json(), 60, 1, "workers in Flower")
        assert any(name.startswith("worker@") for name in workers) and any(n.startswith("keeper@") for n in workers)
        assert (tmp_path / "var" / "valkey").is_dir() and (tmp_path / "var" / "wooerp.db").exists()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.close()
    time.sleep(1)
    assert not [p for p in PORTS if port_open(p)], output()[-2000:]
