"""A credit note whose shop refund was deleted, through the real fleet and the operator's commands (breaker finding
s5#3): the worker stops the order for a person with a reason that names only what works, `wooerp reconcile`
reports the orphan credit note with both totals, and `wooerp orders accept-credit-note` (after the person settled
it in the ERP) records who and why and lets the worker take the order out of attention."""
from __future__ import annotations

import subprocess
from pathlib import Path
import sys

import pytest

from connector.db import Database
from connector.models import OrderSync
from tests.e2e.conftest import erp_get, woo_client
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def wooerp(fleet, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "wooerp"), *args], env=fleet.env, capture_output=True, text=True, timeout=120)


def test_a_deleted_credited_refund_is_reported_and_accepted_by_a_person_through_the_cli(fleet_factory, tmp_path):
    fleet = fleet_factory(RECONCILE_ORDER_GRACE_MINUTES="0", RECONCILE_CHANGE_GRACE_MINUTES="0",
                          RECONCILE_DIR=str(tmp_path / "reports"))
    stock_shop(fleet, "SKU-T")
    fleet.start_worker()
    order = checkout(fleet, skus=("SKU-T",), email="truth@example.com")
    assert deliver(fleet.shim_url, order, "order.created").status_code == 200
    erp_order = imported_once(fleet, order["id"])
    oid, woo = order["id"], woo_client(fleet)
    db = Database(fleet.env["DATABASE_URL"])

    def state() -> tuple[str, str]:
        with db.session() as s:
            row = s.get(OrderSync, oid)
            return row.state, row.reason or ""

    refund = woo.call("POST", f"orders/{oid}/refunds", {"amount": "5.00", "reason": "late", "api_refund": False})[0]
    assert deliver(fleet.shim_url, woo.get_order(oid), "order.updated").status_code == 200
    wait_until(lambda: {m["key"] for m in woo.get_order(oid)["meta_data"]} >= {f"_erp_credit_note_{refund['id']}"},
               60, 0.5, "the credit note's number in the shop")
    woo.call("DELETE", f"orders/{oid}/refunds/{refund['id']}", params={"force": "true"})
    assert deliver(fleet.shim_url, woo.get_order(oid), "order.updated").status_code == 200
    _, reason = wait_until(lambda: state()[0] == "attention" and state(), 60, 0.5, "the order in attention")
    assert "cancel the credit note" not in reason and f"accept-credit-note {oid}" in reason

    found = wooerp(fleet, "reconcile")
    assert found.returncode == 1 and "credit_note_without_refund      1" in found.stdout, found.stdout + found.stderr
    retried = wooerp(fleet, "orders", "retry", str(oid))  # a retry alone cannot clear it: the note is in the ERP
    assert retried.returncode == 0
    wait_until(lambda: state()[0] == "attention" and "accept-credit-note" in state()[1], 60, 0.5, "the same reason")

    accepted = wooerp(fleet, "orders", "accept-credit-note", str(oid), "--reason", "re-invoiced 5.00 in the ERP")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    wait_until(lambda: state()[0] == "written_back", 60, 0.5, "the order out of attention")
    meta = {m["key"]: m["value"] for m in woo.get_order(oid)["meta_data"]}
    assert meta[f"_erp_credit_note_accepted_{refund['id']}"]["reason"] == "re-invoiced 5.00 in the ERP"
    assert len(erp_get(fleet, "/credit-notes", sales_order_id=erp_order["id"])["items"]) == 1  # nothing undone
    after = wooerp(fleet, "reconcile")
    assert "credit_note_without_refund      0" in after.stdout, after.stdout + after.stderr
    db.engine.dispose()
