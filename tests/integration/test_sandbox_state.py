"""`make run` starts the sandboxes with `--state FILE`: stopped and started again, the shop and the ERP come
back with their catalog, orders and identity, so the fleet continues where it stopped."""
from __future__ import annotations

import sys

import requests

from connector.settings import SANDBOX_ERP_TOKEN, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET
from connector.woo.client import WooClient
from sandbox.woo.admin import WooSandboxAdmin
from tests.support.procs import Proc, child_env, free_port, wait_http


def _start(kind: str, port: int, state, log, *extra: str) -> Proc:
    proc = Proc(kind, [sys.executable, "-m", f"sandbox.{kind}", "--port", str(port), "--state", str(state), *extra],
                child_env(), log).start()
    wait_http(f"http://127.0.0.1:{port}" + ("/wp-json/" if kind == "woo" else "/_sandbox/stats"), proc=proc)
    return proc


def test_both_sandboxes_continue_from_their_state_file_after_a_restart(tmp_path):
    woo_port, erp_port = free_port(), free_port()
    woo_url, erp_url = f"http://127.0.0.1:{woo_port}", f"http://127.0.0.1:{erp_port}"
    auth = {"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"}
    woo_state, erp_state = tmp_path / "woo.state", tmp_path / "erp.state"

    def run_both():
        return (_start("woo", woo_port, woo_state, tmp_path / "woo.log"),
                _start("erp", erp_port, erp_state, tmp_path / "erp.log", "--seed-demo"))

    def snapshot():
        woo = WooClient(woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)
        products = requests.get(f"{erp_url}/api/v1/products", params={"limit": 500}, headers=auth, timeout=10).json()
        return {"store_id": woo.system_status()["environment"]["store_id"],
                "orders": [(o["id"], o["total"]) for o in woo.get("orders")],
                "woo_skus": sorted(p["sku"] for p in woo.get("products")),
                "tenant": requests.get(f"{erp_url}/api/v1/system", headers=auth, timeout=10).json()["tenant_id"],
                "erp_products": sorted(p["sku"] for p in products["items"])}

    procs = run_both()
    try:
        woo = WooClient(woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)
        woo.call("POST", "products", {"name": "Kept", "sku": "KEPT-1", "regular_price": "3.50",
                                      "manage_stock": True, "stock_quantity": 9})
        WooSandboxAdmin(woo_url).checkout([{"sku": "KEPT-1", "quantity": 2}])
        before = snapshot()
    finally:
        for p in procs:
            p.stop()
    assert woo_state.exists() and erp_state.exists()
    assert before["orders"] and before["erp_products"]

    procs = run_both()  # the ERP is not seeded a second time: it continues from its file
    try:
        assert snapshot() == before
        next_order = WooSandboxAdmin(woo_url).checkout([{"sku": "KEPT-1", "quantity": 1}])["id"]
        assert next_order > max(oid for oid, _ in before["orders"])  # ids are not handed out again
    finally:
        for p in procs:
            p.stop()
