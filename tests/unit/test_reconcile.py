"""The reconciler's comparisons against an in-memory shop and ERP, and what a run leaves behind."""
from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.utils import floatToGoString

from connector import binding
from connector.db import utcnow
from connector.erp.protocol import Page
from connector.errors import ConfigError, TransientError
from connector.models import OrderSync
from connector.reconcile import KINDS, Reconciler, Report
from connector.reconcile_output import read_last, record_last, summary, write_csv
from connector.settings import load_checked
from workers.reconcile_metrics import ReconcileCollector

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class Erp:
    def __init__(self, products=(), stock=(), orders=()):
        self.products, self.stock, self.orders = list(products), list(stock), list(orders)
        self.calls: list[str] = []
        self.fail_once: set[str] = set()

    def _page(self, name, items, cursor, limit):
        self.calls.append(name)
        if name in self.fail_once:
            self.fail_once.discard(name)
            raise TransientError("erp -> 503", retry_after=0.5)
        start = int(cursor or 0)
        more = start + limit < len(items)
        return Page(items[start:start + limit], str(start + limit) if more else None)

    def list_products(self, since, cursor, limit=100):
        return self._page("products", self.products, cursor, limit)

    def list_inventory(self, since, cursor, limit=100):
        return self._page("inventory", self.stock, cursor, limit)

    def list_sales_orders(self, since, cursor, limit=100):
        return self._page("orders", self.orders, cursor, limit)

    def find_sales_orders(self, ref):
        self.calls.append(f"find {ref}")
        return list({o["id"]: o for o in self.orders if o["external_ref"] == ref}.values())


class Shop:
    def __init__(self, products=(), variations=None, orders=(), per_page=2):
        self.products, self.variations = list(products), dict(variations or {})
        self.orders, self.per_page = list(orders), per_page
        self.calls: list[str] = []

    def _page(self, items, page):
        pages = max(1, -(-len(items) // self.per_page))
        return items[(page - 1) * self.per_page:page * self.per_page], pages

    def list_products(self, page=1, fields=()):
        self.calls.append("products")
        return self._page(self.products, page)

    def list_variations(self, parent_id, page=1, fields=()):
        self.calls.append(f"variations {parent_id}")
        return self._page(self.variations[parent_id], page)

    def products_by_sku(self, skus):
        self.calls.append("by sku")
        everything = self.products + [v for vs in self.variations.values() for v in vs]
        return [p for p in everything if p["sku"] in skus]

    def list_orders_created_before(self, *, before, statuses, page=1, fields=()):
        return self._page([o for o in self.orders if o["status"] in statuses and o["date_created_gmt"] < before],
                          page)


def erp_product(sku, price="10.00", pid=None, **extra):
    return {"id": pid or f"P-{sku}", "sku": sku, "name": sku, "description": "", "list_price": price,
            "weight_kg": "1.0", "is_active": True, "category_code": "X", "ean": "", **extra}


def woo_product(wid, sku, price="10.00", stock=5, **extra):
    return {"id": wid, "sku": sku, "type": "simple", "status": "publish", "regular_price": price,
            "manage_stock": stock is not None, "stock_quantity": stock, **extra}


def row(sku, warehouse="MAIN", on_hand=5, reserved=0, safety_stock=0):
    return {"sku": sku, "warehouse": warehouse, "on_hand": on_hand, "reserved": reserved,
            "safety_stock": safety_stock, "modified_at": "2026-01-01T00:00:00.000Z"}


def woo_order(oid, minutes_old, status="processing", number=None):
    created = (NOW - timedelta(minutes=minutes_old)).strftime("%Y-%m-%dT%H:%M:%S")
    meta = [{"key": "_erp_order_number", "value": number}] if number else []
    return {"id": oid, "status": status, "date_created_gmt": created, "meta_data": meta}


def reconcile(db, erp, shop, import_statuses=("processing", "on-hold"), **kw) -> Report:
    naps = []
    r = Reconciler(db, shop, erp, warehouses=("MAIN", "STORE2"), import_statuses=import_statuses,
                   order_grace_minutes=60, erp_page_size=2, clock=lambda: NOW, sleep=naps.append, **kw)
    report = r.run()
    report.naps = naps
    return report


def found(report: Report) -> set[tuple[str, str]]:
    return {(d.kind, d.key) for d in report.discrepancies}


def test_a_catalog_in_step_with_variations_found_by_sku_is_clean_without_listing_variations(db):
    erp = Erp([erp_product("A", "19.9"), erp_product("PARENT", None, is_parent=True),
               erp_product("V1", parent_id="P-PARENT", attributes={"size": "S"}),
               erp_product("V2", "11.00", parent_id="P-PARENT", attributes={"size": "M"})],
              [row("A", on_hand=9, reserved=2), row("A", "STORE2", on_hand=1), row("A", "RETURNS", on_hand=50),
               row("V1", on_hand=1, reserved=3), row("V2", on_hand=4)])
    shop = Shop([woo_product(1, "A", "19.90", 8), woo_product(2, "PARENT", "", None, type="variable",
                                                              variations=[3, 4])],
                {2: [woo_product(3, "V1", "10.00", 0, type="variation", parent_id=2),
                     woo_product(4, "V2", "11.00", 4, type="variation", parent_id=2)]})
    report = reconcile(db, erp, shop)
    assert report.clean, report.discrepancies
    assert report.counts() == {kind: 0 for kind in KINDS}
    assert not any(c.startswith("variations") for c in shop.calls)
    assert report.checked["erp_products"] == 4 and report.checked["woo_products"] == 4


def test_sales_held_for_orders_not_in_the_erp_are_no_stock_mismatch(db):
    from connector import holds
    erp = Erp([erp_product("SOLD"), erp_product("DRIFT")], [row("SOLD", on_hand=9), row("DRIFT", on_hand=9)])
    shop = Shop([woo_product(1, "SOLD", stock=4), woo_product(2, "DRIFT", stock=9)])
    with db.session() as s:
        holds.hold(s, 101, {"line_items": [{"sku": "SOLD", "quantity": 3}, {"sku": "DRIFT", "quantity": 1}]})
        holds.hold(s, 102, {"line_items": [{"sku": "SOLD", "quantity": 2}]})
    report = reconcile(db, erp, shop)
    assert found(report) == {("stock_mismatch", "DRIFT")}  # SOLD: 9 − 5 held = 4, as the shop shows
    [drift] = report.discrepancies
    assert (drift.erp_value, drift.woo_value) == ("8", "9")
    assert "ERP web stock 9, 1 held for 1 orders not yet in the ERP" in drift.detail


def test_every_catalog_kind_is_reported_with_both_values(db):
    erp = Erp([erp_product("ERP-ONLY", "3.00"), erp_product("PRICE", "20.00"), erp_product("STOCK"),
               erp_product("UNMANAGED"), erp_product("PARENT", None, is_parent=True),
               erp_product("V1", parent_id="P-PARENT", attributes={"size": "S"}),
               erp_product("BROKEN", "not a price")],
              [row("STOCK", on_hand=7), row("UNMANAGED"), row("V1")])
    shop = Shop([woo_product(1, "PRICE", "18.00"), woo_product(2, "STOCK", stock=4), woo_product(3, "UNMANAGED",
                                                                                                  stock=None),
                 woo_product(4, "SHOP-ONLY", "1.00"), woo_product(5, "BROKEN", "9.00"),
                 woo_product(6, "", "1.00"),
                 woo_product(7, "PARENT", "", None, type="variable", variations=[8, 9])],
                {7: [woo_product(8, "V1", stock=5, type="variation", parent_id=7),
                     woo_product(9, "SHOP-VAR", "2.00", type="variation", parent_id=7)]})
    binding.upsert(db, binding.STOCK, {"STOCK": {"sku": "STOCK", "woo_id": 2, "sync_hash": "7", "last_synced_at": utcnow()}})
    report = reconcile(db, erp, shop)
    assert found(report) == {("missing_in_woo", "ERP-ONLY"), ("price_mismatch", "PRICE"),
                             ("stock_mismatch", "STOCK"), ("stock_mismatch", "UNMANAGED"),
                             ("missing_in_erp", "SHOP-ONLY"), ("missing_in_erp", "SHOP-VAR")}
    by = {(d.kind, d.key): d for d in report.discrepancies}
    assert (by["price_mismatch", "PRICE"].erp_value, by["price_mismatch", "PRICE"].woo_value) == ("20.00", "18.00")
    assert (by["stock_mismatch", "STOCK"].erp_value, by["stock_mismatch", "STOCK"].woo_value) == ("7", "4")
    assert "wooerp last wrote 7" in by["stock_mismatch", "STOCK"].detail
    assert by["stock_mismatch", "UNMANAGED"].woo_value == "not managed"
    assert "never written" in by["stock_mismatch", "UNMANAGED"].detail
    assert by["missing_in_erp", "SHOP-VAR"].detail == "Woo variation 9 of product 7"
    assert shop.calls.count("variations 7") == 1  # SHOP-VAR is only found by listing its parent's variations
    assert report.checked["erp_products_invalid"] == 1 and report.checked["woo_products_without_sku"] == 1


def test_orders_past_the_grace_period_without_an_erp_number_are_reported_with_their_sync_state(db):
    shop = Shop(orders=[woo_order(1, 90), woo_order(2, 30), woo_order(3, 90, number="SO-3"),
                        woo_order(4, 90, status="completed"), woo_order(5, 61, status="on-hold")])
    with db.session() as s:
        s.add(OrderSync(woo_order_id=5, state="quarantined", reason="Order 5: SKU X is unknown in the ERP",
                        attempts=1, created_at=utcnow(), updated_at=utcnow()))
    report = reconcile(db, Erp(), shop)
    assert found(report) == {("order_without_erp_number", "1"), ("order_without_erp_number", "5")}
    held = report.of("order_without_erp_number")[1]
    assert held.woo_value == "on-hold" and "wooerp state quarantined: Order 5: SKU X is unknown" in held.detail
    assert "has not seen it" in report.of("order_without_erp_number")[0].detail


def test_a_reference_held_by_two_live_erp_orders_is_reported_once_confirmed(db):
    orders = [{"id": "SO-1", "external_ref": "WC-ORDER-7", "status": "open"},
              {"id": "SO-2", "external_ref": "WC-ORDER-8", "status": "open"},
              {"id": "SO-3", "external_ref": "WC-ORDER-7", "status": "confirmed"},
              {"id": "SO-4", "external_ref": "WC-ORDER-9", "status": "open"},
              {"id": "SO-5", "external_ref": "WC-ORDER-9", "status": "cancelled"},
              {"id": "SO-2", "external_ref": "WC-ORDER-8", "status": "open"},  # modified while paging: served again
              {"id": "SO-6", "external_ref": None, "status": "open"}, {"id": "SO-7", "external_ref": None,
                                                                       "status": "open"}]
    with db.session() as s:
        s.add(OrderSync(woo_order_id=7, state="written_back", erp_order_id="SO-1", attempts=1, created_at=utcnow(),
                        updated_at=utcnow()))
    report = reconcile(db, Erp(orders=orders), Shop())
    [dup] = report.discrepancies
    assert (dup.kind, dup.key, dup.erp_value, dup.woo_value) == ("duplicate_erp_orders", "WC-ORDER-7",
                                                                 "SO-1 open, SO-3 confirmed", "SO-1")
    assert report.checked["erp_orders"] == 8


def test_an_order_gone_from_the_shop_with_a_live_erp_order_is_reported(db):
    orders = [{"id": "SO-1", "external_ref": "WC-ORDER-11", "status": "open"},
              {"id": "SO-2", "external_ref": "WC-ORDER-12", "status": "cancelled"}]
    with db.session() as s:
        for oid in (11, 12, 13):
            s.add(OrderSync(woo_order_id=oid, state="gone", reason="gone in WooCommerce (404)", attempts=1,
                            created_at=utcnow(), updated_at=utcnow()))
    report = reconcile(db, Erp(orders=orders), Shop())
    [gone] = report.discrepancies
    assert (gone.kind, gone.key, gone.erp_value) == ("gone_order_in_erp", "11", "SO-1 open")


def test_a_transient_error_is_retried_in_place(db):
    erp = Erp([erp_product("A")], [row("A")])
    erp.fail_once = {"products", "inventory"}
    report = reconcile(db, erp, Shop([woo_product(1, "A")]))
    assert report.clean and report.naps == [0.5, 0.5]


def sample_report() -> Report:
    report = Report(started_at=NOW, finished_at=NOW + timedelta(seconds=3))
    for i in range(7):
        report.add("missing_in_woo", f"SKU-{i}", "1.00", None, f"ERP product P-{i}")
    report.add("order_without_erp_number", 42, "", "processing", "wooerp state quarantined: ana@example.org")
    report.add("missing_in_erp", "=HYPERLINK(1)", woo_value="2.00")
    return report


def test_csv_holds_every_row_masked_and_formula_safe(tmp_path):
    path = write_csv(sample_report(), tmp_path / "r" / "out.csv")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9 and rows[0] == {"kind": "missing_in_woo", "key": "SKU-0", "erp_value": "1.00",
                                          "woo_value": "", "detail": "ERP product P-0"}
    assert "ana@example.org" not in path.read_text() and rows[7]["detail"].endswith("a***@example.org")
    assert rows[8]["key"] == "'=HYPERLINK(1)"


def test_summary_counts_every_kind_and_shows_the_first_examples(tmp_path):
    text = summary(sample_report(), tmp_path / "x.csv", examples=5)
    assert "9 discrepancies" in text and "  duplicate_erp_orders            0" in text
    assert "  missing_in_woo                  7" in text and "SKU-4" in text and "SKU-5" not in text
    assert "… and 2 more in the CSV" in text and f"CSV: {tmp_path / 'x.csv'}" in text
    assert "ana@example.org" not in text


def test_the_last_counts_reach_the_metrics_from_the_file_when_redis_is_unreachable(tmp_path):
    registry = CollectorRegistry()
    registry.register(ReconcileCollector("redis://127.0.0.1:1/0", str(tmp_path)))
    assert "wooerp_reconcile_last_run_timestamp_seconds 0.0" in generate_latest(registry).decode()
    record_last(sample_report(), tmp_path / "x.csv", str(tmp_path), "redis://127.0.0.1:1/0")
    assert read_last(None, str(tmp_path))["counts"]["missing_in_woo"] == 7
    text = generate_latest(registry).decode()
    assert 'wooerp_reconcile_discrepancies{kind="missing_in_woo"} 7.0' in text
    assert 'wooerp_reconcile_discrepancies{kind="stock_mismatch"} 0.0' in text
    finished = floatToGoString((NOW + timedelta(seconds=3)).timestamp())
    assert f"wooerp_reconcile_last_run_timestamp_seconds {finished}" in text


def test_settings_and_the_daily_beat_entry():
    import beat_schedule
    s = load_checked({"RECONCILE_HOUR_UTC": "5", "RECONCILE_ORDER_GRACE_MINUTES": "15",
                      "RECONCILE_CHANGE_GRACE_MINUTES": "2"})
    assert (s.reconcile_hour, s.reconcile_order_grace_minutes, s.reconcile_change_grace_minutes) == (5, 15, 2)
    assert load_checked({}).reconcile_dir.endswith("var/reconcile")
    entry = beat_schedule.build(s)["reconcile-daily"]
    assert entry["task"] == "wooerp.catalog.reconcile" and entry["schedule"].hour == {5}
    with pytest.raises(ConfigError) as e:
        load_checked({"RECONCILE_HOUR_UTC": "24"})
    assert e.value.variable == "RECONCILE_HOUR_UTC"


def test_the_daily_task_runs_on_the_catalog_queue_writes_the_csv_and_logs_the_counts(db, tmp_path, caplog):
    import dataclasses
    from types import SimpleNamespace

    from workers.base import use_services
    from workers.tasks.reconcile import reconcile as task
    settings = dataclasses.replace(task.app.wooerp_settings, reconcile_dir=str(tmp_path), broker_url="")
    reconciler = Reconciler(db, Shop([woo_product(1, "A", "9.00")]), Erp([erp_product("A")]), warehouses=("MAIN",),
                            import_statuses=("processing",), order_grace_minutes=60)
    use_services(SimpleNamespace(settings=settings, reconciler=reconciler))
    try:
        assert task.app.amqp.router.route({}, task.name)["queue"].name == "catalog"
        with caplog.at_level("INFO", logger="wooerp.reconcile"):
            result = task.apply().get()
    finally:
        use_services(None)
    assert result["discrepancies"]["price_mismatch"] == 1 and not result["clean"]
    assert len(list(tmp_path.glob("reconcile-*.csv"))) == 1 and (tmp_path / "last.json").exists()
    [logged] = [r for r in caplog.records if r.getMessage() == "reconciliation finished"]
    assert logged.levelname == "WARNING" and logged.fields["examples"] == {"price_mismatch": ["A"]}


def test_with_the_default_statuses_a_completed_order_without_an_erp_number_is_reported(db):
    """F3: an order completed before its import used to be skipped for good, and reconcile said nothing."""
    from connector.settings import load
    shop = Shop(orders=[woo_order(8, 90, status="completed"), woo_order(9, 90, status="completed", number="SO-9"),
                        woo_order(7, 60 * 24 * 400, status="completed")])  # last year's sale, before wooerp
    statuses = load({"DATABASE_URL": db.url}).import_statuses
    assert found(reconcile(db, Erp(), shop, import_statuses=statuses)) == set()  # wooerp has seen no order yet
    with db.session() as s:  # the first order wooerp saw, two hours ago
        s.add(OrderSync(woo_order_id=9, state="written_back", erp_order_id="SO-9", attempts=1,
                        created_at=NOW.replace(tzinfo=None) - timedelta(hours=2), updated_at=utcnow()))
    report = reconcile(db, Erp(), shop, import_statuses=statuses)
    assert found(report) == {("order_without_erp_number", "8")}


def test_every_kind_reconcile_reports_has_a_meaning_for_the_summary():
    from connector.reconcile import KINDS
    from connector.reconcile_output import MEANING
    assert set(KINDS) == set(MEANING)


def test_an_erp_crediting_net_has_its_credit_notes_compared_with_the_refunds_net(db):
    """Tryton books the sale net and credits a refund net: 12.50 for a refund of 14.88 with 2.38 tax is right,
    12.50 + 2.38 credited would be the tax Tryton never charged."""
    class NetErp(Erp):
        CREDIT_BASIS = "net"

        def __init__(self, amount):
            super().__init__()
            self.notes = [{"id": "R1", "external_ref": "WC-REFUND-5", "sales_order_id": "S1", "amount": amount,
                           "lines": [{"sku": "MUG", "quantity": 1, "amount": amount}], "restock": False}]

        def list_credit_notes(self, since, cursor, limit=100):
            return self._page("credit notes", self.notes, cursor, limit)

    class RefundingShop(Shop):
        def order_refunds(self, order_id):
            return [{"id": 5, "amount": "14.88", "date_created_gmt": "2026-01-01T00:00:00", "line_items": [
                {"sku": "MUG", "quantity": -1, "total": "-12.50", "total_tax": "-2.38"}]}]

    order = dict(woo_order(7, 600, number="S1"), refunds=[{"id": 5, "total": "-14.88"}])
    assert "credit_note_mismatch" not in {d.kind for d in reconcile(db, NetErp("12.50"), RefundingShop(
        orders=[order])).discrepancies}
    assert ("credit_note_mismatch", "WC-REFUND-5") in found(reconcile(db, NetErp("14.88"), RefundingShop(
        orders=[order])))
