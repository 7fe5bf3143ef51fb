"""`wooerp reconcile` against the real sandboxes over HTTP: a synced catalog is clean (exit 0); drift of
every kind injected by hand is reported (exit 1) in the summary, the CSV, Redis and the metrics."""
from __future__ import annotations

import csv
import subprocess
import time

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select

from connector.mapping.orders import map_order, order_ref
from connector.models import OrderSync
from connector.reconcile_output import LAST_KEY
from connector.services import Services
from connector.settings import load
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin
from tests.support.fleet import BIN
from workers.reconcile_metrics import ReconcileCollector

pytestmark = pytest.mark.e2e


def all_items(lister) -> list[dict]:
    items, cursor = [], None
    while True:
        page = lister(None, cursor, 500)
        items += page.items
        cursor = page.next_cursor
        if not cursor:
            return items


def sync_catalog(s: Services) -> list[dict]:
    """What the catalog and inventory tasks do, in-process: store the stock rows, write every product."""
    s.inventory.record(all_items(s.erp.list_inventory))
    products = all_items(s.erp.list_products)
    skus = sorted(p["sku"] for p in products)
    for i in range(0, len(skus), 100):
        s.products.apply(skus[i:i + 100])
        s.inventory.push(skus[i:i + 100])
    return products


def reconcile(fleet, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "wooerp"), "reconcile", *args], env=fleet.env, capture_output=True, text=True,
                          timeout=120)


def test_a_synced_catalog_is_clean_and_every_kind_of_drift_is_reported(fleet_factory, tmp_path):
    fleet = fleet_factory(RECONCILE_ORDER_GRACE_MINUTES="0", RECONCILE_DIR=str(tmp_path / "reports"))
    erp_admin, woo_admin = ErpSandboxAdmin(fleet.erp_url), WooSandboxAdmin(fleet.woo_url)
    erp_admin.seed(products=24, variants_per_parent=3, seed=7)
    s = Services(load(fleet.env))
    products = sync_catalog(s)

    clean = reconcile(fleet)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "clean, no discrepancies" in clean.stdout
    assert len(list((tmp_path / "reports").glob("reconcile-*.csv"))) == 1

    simple = sorted(p["sku"] for p in products if not p.get("is_parent") and not p.get("parent_id"))
    in_stock = sorted(p["sku"] for p in s.woo.products_by_sku(simple)
                      if p["status"] == "publish" and (p["stock_quantity"] or 0) >= 2)
    sold, restocked, repriced = in_stock[0], *[sku for sku in simple if sku != in_stock[0]][:2]
    variant = next(p["sku"] for p in products if p.get("parent_id"))
    waiting = woo_admin.checkout([{"sku": sold, "quantity": 1}])  # never imported: no ERP number
    imported = woo_admin.checkout([{"sku": sold, "quantity": 1}])
    s.orders.run(imported["id"])
    with s.db.session() as db:
        row = db.scalar(select(OrderSync).where(OrderSync.woo_order_id == imported["id"]))
    s.erp.create_sales_order(map_order(s.woo.get_order(imported["id"]), row.erp_customer_id))  # a duplicate
    erp_admin.add_product("RECON-NEW", name="Never synced", list_price="12.00",
                          stock={"MAIN": {"on_hand": 3, "reserved": 0, "safety_stock": 0}})
    s.woo.batch_products(create=[{"name": "Shop only", "sku": "SHOP-ONLY", "regular_price": "5.00"}])
    [woo_repriced] = s.woo.products_by_sku([repriced])
    s.woo.batch_products(update=[{"id": woo_repriced["id"], "regular_price": "1.11"}])
    [woo_variant] = s.woo.products_by_sku([variant])
    s.woo.batch_variations(woo_variant["parent_id"], create=[{"sku": "SHOP-VAR", "regular_price": "2.00",
                                                             "attributes": woo_variant.get("attributes", [])}])
    erp_admin.set_stock(restocked, "MAIN", on_hand=500)
    # The grace period is 0 minutes, but the shop's dates are whole seconds and the order check reads orders
    # created strictly before the current second: the orders made above count once the clock has entered the
    # next second (at most one second of waiting, and a real one: the shop and the CLI read the same clock).
    next_second = int(time.time()) + 1
    time.sleep(max(0.0, next_second - time.time()))

    out = tmp_path / "drift.csv"
    found = reconcile(fleet, "--csv", str(out))
    assert found.returncode == 1, found.stdout + found.stderr
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["kind", "key", "erp_value", "woo_value", "detail"]
    keys = {(r["kind"], r["key"]) for r in rows}
    assert keys == {("missing_in_woo", "RECON-NEW"), ("missing_in_erp", "SHOP-ONLY"),
                    ("missing_in_erp", "SHOP-VAR"), ("price_mismatch", repriced),
                    ("stock_mismatch", restocked),
                    ("order_without_erp_number", str(waiting["id"])),
                    ("duplicate_erp_orders", order_ref(imported["id"]))}, found.stdout
    by_key = {(r["kind"], r["key"]): r for r in rows}
    assert by_key[("price_mismatch", repriced)]["woo_value"] == "1.11"
    # two sales of `sold`: the ERP reserved the imported one and its duplicate, so the shop agrees with it
    assert "wooerp last wrote" in by_key[("stock_mismatch", restocked)]["detail"]
    assert "has not seen it" in by_key[("order_without_erp_number", str(waiting["id"]))]["detail"]
    assert row.erp_order_id in by_key[("duplicate_erp_orders", order_ref(imported["id"]))]["woo_value"]
    assert "@" not in out.read_text()  # no customer e-mail in the report

    for line in ("missing_in_woo                  1", "stock_mismatch                  1",
                 "duplicate_erp_orders            1", f"CSV: {out}"):
        assert line in found.stdout, found.stdout
    stored = redis.Redis.from_url(fleet.env["REDIS_URL"]).get(LAST_KEY)
    assert b'"missing_in_erp": 2' in stored
    registry = CollectorRegistry()
    registry.register(ReconcileCollector(fleet.env["REDIS_URL"], str(tmp_path / "reports")))
    metrics = generate_latest(registry).decode()
    assert 'wooerp_reconcile_discrepancies{kind="stock_mismatch"} 1.0' in metrics
    assert "wooerp_reconcile_last_run_timestamp_seconds" in metrics
    s.db.engine.dispose()
