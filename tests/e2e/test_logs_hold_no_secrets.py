"""Logs of a whole run carry one correlation id per order, from the webhook to the ERP call, and never a
secret or a buyer's e-mail address."""
from __future__ import annotations

import hashlib
import json

import pytest

from connector.settings import SANDBOX_ERP_TOKEN, SANDBOX_WOO_SECRET
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver, php_json

pytestmark = pytest.mark.e2e

SECRETS = {"WOO_WEBHOOK_SECRET": "hook-secret-9b2c7a", "FLOWER_PASSWORD": "flower-pw-5f1e0c"}
# the sandboxes' API credentials stay the defaults the test helpers use; they must not be logged either
CHECKED = dict(SECRETS, WOO_CONSUMER_SECRET=SANDBOX_WOO_SECRET, ERP_TOKEN=SANDBOX_ERP_TOKEN)


def test_a_full_order_and_catalog_run_logs_no_secret_and_no_email(fleet_factory):
    fleet = fleet_factory(LOG_LEVEL="DEBUG", **SECRETS)
    ErpSandboxAdmin(fleet.erp_url).add_product("LOG-1", name="Logged", list_price="3.00",
                                               stock={"MAIN": {"on_hand": 4, "reserved": 0, "safety_stock": 0}})
    stock_shop(fleet, "SKU-A")
    fleet.start_worker()
    fleet.start_beat()
    order = checkout(fleet, email="private.person@example.com")
    assert deliver(fleet.shim_url, order, secret=SECRETS["WOO_WEBHOOK_SECRET"]).status_code == 200
    imported_once(fleet, order["id"])
    ours = {name: (fleet.logs / f"{name}.log").read_text(errors="replace") for name in ("shim", "worker", "beat")}
    for name, text in ours.items():
        for variable, value in CHECKED.items():
            assert value not in text, f"{variable} appears in the {name} log"
        assert "private.person@example.com" not in text, f"a buyer's e-mail appears in the {name} log"
    # one correlation id follows the order: shim delivery → worker log lines → the ERP's request log
    shim = [json.loads(line) for line in ours["shim"].splitlines() if line.startswith("{")]
    accepted = [e for e in shim if e.get("msg") == "webhook accepted" and e.get("resource_id") == order["id"]]
    assert len(accepted) == 1
    assert accepted[0]["payload_sha256"] == hashlib.sha256(php_json(order)).hexdigest()  # which body it was
    cid = accepted[0]["correlation_id"]
    worker = [json.loads(line) for line in ours["worker"].splitlines() if line.startswith("{")]
    order_lines = [e for e in worker if e.get("order_id") == order["id"]]
    assert order_lines and {e.get("correlation_id") for e in order_lines} == {cid}
    erp_calls = ErpSandboxAdmin(fleet.erp_url).requests(correlation_id=cid)
    assert any(c["method"] == "POST" and c["route"] == "/api/v1/sales-orders" for c in erp_calls), erp_calls
