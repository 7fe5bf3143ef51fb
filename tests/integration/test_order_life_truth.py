"""What an imported order's life must not hide (breaker findings, session 5), importer and reconciler against both
sandboxes over HTTP: a currency changed after import, credit notes the shop no longer backs, a refund whose credit
note failed on a fresh order, and a partial shipment whose rest a restocking refund withdrew."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector.reconcile import ORDER_DIFFERS, Reconciler
from connector.sync import order_state as st
from tests.integration.test_order_life import Env


@pytest.fixture
def env(db, sandboxes):
    e = Env(db, *sandboxes)
    e.importer.currencies = ("EUR", "GBP")
    return e


def reconcile(env, grace_minutes: float = 0, later_minutes: float = 1):
    return Reconciler(env.importer.db, env.woo, env.importer.erp, warehouses=("MAIN",),
                      import_statuses=("processing", "on-hold"), order_grace_minutes=grace_minutes,
                      clock=lambda: datetime.now(timezone.utc) + timedelta(minutes=later_minutes)).run()


def test_a_currency_changed_after_import_needs_a_person_and_reconcile_reports_it(env):
    """Finding 7: PUT {"currency": "GBP"} on an imported EUR order left it "in step" and reconcile clean."""
    oid = env.imported_order()
    env.woo.update_order(oid, {"currency": "GBP"})
    (differs,) = reconcile(env).of(ORDER_DIFFERS)
    assert differs.key == str(oid) and "currency" in differs.detail and "GBP" in differs.detail
    report = env.importer.run(oid)
    assert report.state == st.ATTENTION and "currency changed in WooCommerce from EUR to GBP" in report.detail
    assert env.erp_order(oid)["currency"] == "EUR" and env.writes("PATCH", "/api/v1/sales-orders/{id}") == 0
    env.woo.update_order(oid, {"currency": "EUR"})  # set back, as the reason says: nothing left to look at
    assert env.importer.run(oid).state == st.WRITTEN_BACK
    assert not reconcile(env).of(ORDER_DIFFERS)
