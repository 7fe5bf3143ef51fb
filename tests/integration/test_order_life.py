"""An imported order's life, importer against both sandboxes over HTTP and a real database: amendments reach
the ERP once (and quarantine after shipment), cancellation / full refund / trash before shipment cancel the ERP
order, every refund becomes exactly one credit note (restocked when the shop restocked) whose number is written
back once, restore after cancel is flagged, and a lost answer on the PATCH or the credit-note POST changes
nothing on the retry."""
from __future__ import annotations

import pytest
import requests

from connector.erp.rest import RestErp
from connector.errors import TransientError
from connector.settings import SANDBOX_ERP_TOKEN, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET
from connector.sync import order_state as st
from connector.sync.orders import OrderImporter, not_done, reset_for_retry
from connector.woo.client import WooClient
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin

SKUS = ("LIFE-A", "LIFE-B")


class Env:
    def __init__(self, db, woo_url: str, erp_url: str):
        self.woo = WooClient(woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)
        self.woo_admin, self.erp_admin, self.erp_url = WooSandboxAdmin(woo_url), ErpSandboxAdmin(erp_url), erp_url
        self.woo_admin.reset()
        self.erp_admin.reset()
        for sku in SKUS:
            self.woo.call("POST", "products", {"name": sku, "sku": sku, "regular_price": "10.00",
                                               "manage_stock": True, "stock_quantity": 50})
            self.erp_admin.add_product(sku, name=sku, list_price="10.00", stock={"MAIN": {"on_hand": 50}})
        self.importer = OrderImporter(db, self.woo, RestErp(erp_url, SANDBOX_ERP_TOKEN, timeout=10),
                                      import_statuses=("processing", "on-hold"), currencies=("EUR",))

    def imported_order(self) -> int:
        oid = self.woo_admin.checkout([{"sku": "LIFE-A", "quantity": 2}, {"sku": "LIFE-B", "quantity": 1}])["id"]
        assert self.importer.run(oid).state == st.WRITTEN_BACK
        return oid

    def erp(self, path: str, **params):
        r = requests.get(f"{self.erp_url}/api/v1{path}", params=params,
                         headers={"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"}, timeout=10)
        r.raise_for_status()
        return r.json()

    def erp_order(self, oid: int) -> dict:
        (order,) = self.erp("/sales-orders", external_ref=f"WC-ORDER-{oid}")["items"]
        return order

    def credit_notes(self, oid: int) -> list[dict]:
        return self.erp("/credit-notes", sales_order_id=self.erp_order(oid)["id"])["items"]

    def writes(self, method: str, route: str) -> int:
        return sum(1 for r in self.erp_admin.requests() if r["method"] == method and r["route"] == route)

    def refund(self, oid: int, **body) -> dict:
        return self.woo.call("POST", f"orders/{oid}/refunds", dict({"api_refund": False}, **body))[0]

    def on_hand(self, sku: str) -> int:
        return next(r["on_hand"] for r in self.erp("/inventory", limit=500)["items"]
                    if r["sku"] == sku and r["warehouse"] == "MAIN")


@pytest.fixture
def env(db, sandboxes):
    return Env(db, *sandboxes)


def test_an_amendment_before_shipment_reaches_the_erp_once_and_after_shipment_needs_a_person(env):
    oid = env.imported_order()
    env.woo.update_order(oid, {"shipping": {"address_1": "Neue Str. 9", "city": "Bonn"}})
    report = env.importer.run(oid)
    assert report.state == st.WRITTEN_BACK and report.detail == "ERP order amended: shipping_address"
    amended = env.erp_order(oid)
    assert (amended["shipping_address"]["line1"], amended["shipping_address"]["city"]) == ("Neue Str. 9", "Bonn")
    assert amended["revision"] == 2
    for _ in range(2):  # duplicate deliveries of the same modification
        env.importer.run(oid)
    assert env.writes("PATCH", "/api/v1/sales-orders/{id}") == 1 and env.erp_order(oid)["revision"] == 2
    line = env.woo.get_order(oid)["line_items"][0]
    env.woo.update_order(oid, {"line_items": [{"id": line["id"], "quantity": 3}]})  # one more unit
    env.importer.run(oid)
    erp = env.erp_order(oid)
    assert erp["revision"] == 3 and {ln["sku"]: ln["quantity"] for ln in erp["lines"]} == {"LIFE-A": 3, "LIFE-B": 1}
    assert erp["totals"]["gross"] == env.woo.get_order(oid)["total"]
    env.erp_admin.ship_order(erp["id"], [{"sku": "LIFE-A", "quantity": 1}])
    env.woo.update_order(oid, {"shipping": {"address_1": "Dritte Str. 3"}})
    report = env.importer.run(oid)
    assert report.state == st.ATTENTION and "amended after shipment (partially_shipped): shipping_address" in report.detail
    assert env.erp_order(oid)["revision"] == 3
    assert [(o, s) for o, s, *_ in not_done(env.importer.db)] == [(oid, st.ATTENTION)]


def test_every_refund_is_one_credit_note_restocked_as_the_shop_did_and_written_back_once(env):
    oid = env.imported_order()
    erp_id = env.erp_order(oid)["id"]
    env.erp_admin.ship_order(erp_id)
    order = env.woo.get_order(oid)
    line = next(li for li in order["line_items"] if li["sku"] == "LIFE-A")
    before = env.on_hand("LIFE-A")
    goods = env.refund(oid, amount="11.90", reason="broken", line_items=[
        {"id": line["id"], "quantity": 1, "refund_total": "10.00",
         "refund_tax": [{"id": order["tax_lines"][0]["rate_id"], "refund_total": "1.90"}]}])
    shipping = env.refund(oid, amount="2.00", reason="late delivery", api_restock=False)
    for _ in range(2):
        report = env.importer.run(oid)
        assert report.state == st.WRITTEN_BACK, report.detail
    notes = {n["external_ref"]: n for n in env.credit_notes(oid)}
    assert set(notes) == {f"WC-REFUND-{goods['id']}", f"WC-REFUND-{shipping['id']}"}
    first = notes[f"WC-REFUND-{goods['id']}"]
    assert (first["amount"], first["restock"], first["lines"]) == (
        "11.90", True, [{"sku": "LIFE-A", "quantity": 1, "amount": "11.90"}])
    second = notes[f"WC-REFUND-{shipping['id']}"]
    assert (second["amount"], second["lines"], second["restock"]) == ("2.00", [], False)
    assert env.on_hand("LIFE-A") == before + 1  # the returned unit is back in the ERP's stock
    shop = env.woo.get_order(oid)
    meta = {m["key"]: m["value"] for m in shop["meta_data"]}
    assert meta[f"_erp_credit_note_{goods['id']}"] == first["number"]
    texts = [n["note"] for n in env.woo.order_notes(oid)]
    assert sum(first["number"] in t for t in texts) == 1 and sum(second["number"] in t for t in texts) == 1
    assert env.writes("POST", "/api/v1/credit-notes") == 2


def test_a_full_refund_before_shipment_cancels_the_erp_order_and_credits_the_money(env):
    oid = env.imported_order()
    total = env.woo.get_order(oid)["total"]
    env.refund(oid, amount=total, reason="customer changed their mind")
    assert env.woo.get_order(oid)["status"] == "refunded"
    report = env.importer.run(oid)
    assert report.state == st.CANCELLED and "refunded in WooCommerce" in report.detail
    assert env.erp_order(oid)["status"] == "cancelled"
    assert [n["amount"] for n in env.credit_notes(oid)] == [total]
    assert env.importer.run(oid).state == st.CANCELLED and len(env.credit_notes(oid)) == 1


def test_trash_before_shipment_cancels_restore_is_flagged_and_trash_after_shipment_needs_a_person(env):
    oid = env.imported_order()
    env.woo.call("DELETE", f"orders/{oid}")
    assert env.importer.run(oid).state == st.CANCELLED and env.erp_order(oid)["status"] == "cancelled"
    env.woo_admin.restore(oid)
    report = env.importer.run(oid)
    assert report.state == st.ATTENTION and "is not revived" in report.detail
    assert env.erp_order(oid)["status"] == "cancelled"
    shipped = env.imported_order()
    env.erp_admin.ship_order(env.erp_order(shipped)["id"])
    env.woo.call("DELETE", f"orders/{shipped}")
    report = env.importer.run(shipped)
    assert report.state == st.ATTENTION and "trashed in WooCommerce after the ERP shipped it" in report.detail
    assert reset_for_retry(env.importer.db, shipped)  # a person looked; the rule still holds
    assert env.importer.run(shipped).state == st.ATTENTION


def test_a_lost_answer_on_the_patch_or_the_credit_note_post_changes_nothing_on_the_retry(env):
    oid = env.imported_order()
    env.erp_admin.set_faults([{"method": "PATCH", "path": "/api/v1/sales-orders/*", "kind": "commit_then_fail",
                               "count": 1},
                              {"method": "POST", "path": "/api/v1/credit-notes", "kind": "commit_then_fail",
                               "count": 1}])
    env.woo.update_order(oid, {"billing": {"phone": "+49 221 1"}, "customer_note": "ring twice"})
    env.refund(oid, amount="1.00", reason="goodwill")
    with pytest.raises(TransientError):
        env.importer.run(oid)  # the credit note is committed, its answer lost
    with pytest.raises(TransientError):
        env.importer.run(oid)  # found by its reference; then the PATCH is committed, its answer lost
    assert env.importer.run(oid).state == st.WRITTEN_BACK
    assert env.erp_order(oid)["note"] == "ring twice" and env.erp_order(oid)["revision"] == 2
    assert len(env.credit_notes(oid)) == 1
    assert env.writes("PATCH", "/api/v1/sales-orders/{id}") == 1 and env.writes("POST", "/api/v1/credit-notes") == 1


def test_reconcile_reports_differing_orders_refunds_without_credit_notes_and_mismatched_notes(env):
    from datetime import datetime, timedelta, timezone

    from connector.reconcile import (CREDIT_NOTE_MISMATCH, ORDER_DIFFERS, REFUND_WITHOUT_CREDIT_NOTE,
                                     Reconciler)

    def reconcile():
        return Reconciler(env.importer.db, env.woo, env.importer.erp, warehouses=("MAIN",),
                          import_statuses=("processing", "on-hold"), order_grace_minutes=0, change_grace_minutes=0,
                          clock=lambda: datetime.now(timezone.utc) + timedelta(minutes=1)).run()

    oid = env.imported_order()
    env.woo.update_order(oid, {"shipping": {"city": "Bonn"}})  # its webhook never arrives
    refund = env.refund(oid, amount="3.00", reason="goodwill")
    report = reconcile()
    (differs,) = report.of(ORDER_DIFFERS)
    assert differs.key == str(oid) and "shipping_address" in differs.detail
    assert [d.key for d in report.of(REFUND_WITHOUT_CREDIT_NOTE)] == [f"WC-REFUND-{refund['id']}"]
    env.importer.run(oid)
    report = reconcile()
    assert not report.of(ORDER_DIFFERS) and not report.of(REFUND_WITHOUT_CREDIT_NOTE)
    assert not report.of(CREDIT_NOTE_MISMATCH)
    requests.post(f"{env.erp_url}/api/v1/credit-notes", headers={"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"},
                  json={"external_ref": f"WC-REFUND-{refund['id']}", "sales_order_id": env.erp_order(oid)["id"],
                        "amount": "3.00"}, timeout=10).raise_for_status()  # a second note, made by hand
    (mismatch,) = reconcile().of(CREDIT_NOTE_MISMATCH)
    assert "2 credit notes for one refund" in mismatch.detail


def test_only_woocommerces_own_not_found_answer_makes_an_order_gone(env, db):
    """F2: a proxy's HTML 404 is retried, never final; an imported order is never flipped to gone by a read."""
    fresh = env.woo_admin.checkout([{"sku": "LIFE-A", "quantity": 1}])["id"]
    env.woo_admin.set_faults([{"method": "GET", "path": f"/wp-json/wc/v3/orders/{fresh}", "kind": "html",
                               "status": 404, "times": 1}])
    with pytest.raises(TransientError):
        env.importer.run(fresh)
    assert env.importer.run(fresh).state == st.WRITTEN_BACK  # the retry imports it

    oid = env.imported_order()
    env.woo_admin.set_faults([{"method": "GET", "path": f"/wp-json/wc/v3/orders/{oid}", "kind": "html",
                               "status": 404, "times": 1}])
    with pytest.raises(TransientError):
        env.importer.run(oid)
    assert env.importer.run(oid).state == st.WRITTEN_BACK
    assert env.erp_order(oid)["status"] != "cancelled"

    # WooCommerce itself says the imported order does not exist: a person looks; the ERP order stays
    env.woo.call("DELETE", f"orders/{oid}", params={"force": "true"})
    report = env.importer.run(oid)
    assert report.state == st.ATTENTION and "does not exist" in report.detail
    assert env.erp_order(oid)["status"] != "cancelled"

    never = env.woo_admin.checkout([{"sku": "LIFE-B", "quantity": 1}], status="pending")["id"]
    env.woo.call("DELETE", f"orders/{never}", params={"force": "true"})
    assert env.importer.run(never).state == st.GONE


def test_a_full_refund_after_part_was_shipped_stops_for_a_person_before_the_rest_ships(env):
    # refunded in full while the ERP had shipped only part: the rest must not leave the warehouse unseen
    oid = env.imported_order()
    erp_id = env.erp_order(oid)["id"]
    env.erp_admin.ship_order(erp_id, [{"sku": "LIFE-A", "quantity": 1}])
    env.refund(oid, amount=env.woo.get_order(oid)["total"], reason="late")
    report = env.importer.run(oid)
    assert report.state == st.ATTENTION and "still has units to ship" in report.detail
    assert len(env.credit_notes(oid)) == 1  # the money is credited all the same
    env.erp_admin.ship_order(erp_id)  # a person decided to ship the rest after all: nothing left to look at
    assert env.importer.run(oid).state == st.WRITTEN_BACK


def test_an_amendment_below_what_is_already_credited_is_not_applied(env):
    oid = env.imported_order()
    env.refund(oid, amount="25.00", reason="goodwill")  # of 2 × LIFE-A and 1 × LIFE-B at 10.00
    assert env.importer.run(oid).state == st.WRITTEN_BACK and len(env.credit_notes(oid)) == 1
    line = next(li for li in env.woo.get_order(oid)["line_items"] if li["sku"] == "LIFE-A")
    env.woo.update_order(oid, {"line_items": [{"id": line["id"], "quantity": 0}]})  # 2 × LIFE-A removed
    report = env.importer.run(oid)
    assert report.state == st.ATTENTION and "below the 25.00 the ERP has already credited" in report.detail
    assert env.erp_order(oid)["revision"] == 1 and env.writes("PATCH", "/api/v1/sales-orders/{id}") == 0


def test_a_credited_refund_deleted_in_the_shop_is_flagged(env):
    oid = env.imported_order()
    refund = env.refund(oid, amount="5.00", reason="goodwill")
    assert env.importer.run(oid).state == st.WRITTEN_BACK and len(env.credit_notes(oid)) == 1
    env.woo.call("DELETE", f"orders/{oid}/refunds/{refund['id']}", params={"force": "true"})
    report = env.importer.run(oid)
    assert report.state == st.ATTENTION and f"(refund {refund['id']})" in report.detail
    assert "no longer lists" in report.detail


@pytest.mark.parametrize("unpaid", ["failed", "pending"])
def test_an_imported_order_whose_payment_fails_afterwards_stops_for_a_person(env, unpaid):
    oid = env.imported_order()
    env.woo.update_order(oid, {"status": unpaid})
    report = env.importer.run(oid)
    assert report.state == st.ATTENTION and "its payment is not there" in report.detail
    assert env.erp_order(oid)["status"] != "cancelled"  # a person decides: the money may still come
    env.woo.update_order(oid, {"status": "processing"})  # paid after all: nothing left to look at
    assert env.importer.run(oid).state == st.WRITTEN_BACK


def _goods_refund(env, oid: int, lines: dict[str, int], *, restock: bool) -> dict:
    order = env.woo.get_order(oid)
    items = {li["sku"]: li for li in order["line_items"]}
    amount = sum(10 * qty for qty in lines.values())
    return env.refund(oid, amount=f"{amount}.00", api_restock=restock, line_items=[
        {"id": items[sku]["id"], "quantity": qty, "refund_total": f"{10 * qty}.00"} for sku, qty in lines.items()])


def _restocked(notes: list[dict]) -> dict[str, int]:
    total: dict[str, int] = {}
    for n in notes:
        for ln in n["lines"] if n["restock"] else ():
            total[ln["sku"]] = total.get(ln["sku"], 0) + ln["quantity"]
    return total


def _reconcile(env):
    from datetime import datetime, timedelta, timezone

    from connector.reconcile import Reconciler
    return Reconciler(env.importer.db, env.woo, env.importer.erp, warehouses=("MAIN",),
                      import_statuses=("processing", "on-hold"), order_grace_minutes=0, change_grace_minutes=0,
                      clock=lambda: datetime.now(timezone.utc) + timedelta(minutes=1)).run()


def test_two_refunds_credited_in_one_run_restock_as_the_shop_did_when_only_one_choice_fits(env):
    """Finding F13: one refund of LIFE-A not restocked, then one of LIFE-A and LIFE-B restocked, both seen by
    the same run. WooCommerce's per-item counts (A 1, B 1) fit only the second refund restocking."""
    from connector.reconcile import CREDIT_NOTE_MISMATCH
    oid = env.imported_order()
    env.erp_admin.ship_order(env.erp_order(oid)["id"])
    kept = _goods_refund(env, oid, {"LIFE-A": 1}, restock=False)
    back = _goods_refund(env, oid, {"LIFE-A": 1, "LIFE-B": 1}, restock=True)
    assert env.importer.run(oid).state == st.WRITTEN_BACK
    notes = {n["external_ref"]: n for n in env.credit_notes(oid)}
    assert notes[f"WC-REFUND-{kept['id']}"]["restock"] is False
    assert notes[f"WC-REFUND-{back['id']}"]["restock"] is True
    assert _restocked(list(notes.values())) == {"LIFE-A": 1, "LIFE-B": 1}
    assert all("by rule" not in n["reason"] for n in notes.values())
    assert not _reconcile(env).of(CREDIT_NOTE_MISMATCH)


def test_two_like_refunds_in_one_run_follow_the_creation_order_rule_and_say_so(env):
    """Two refunds of one unit of LIFE-A, the second restocked: WooCommerce's count (A 1) fits either. The
    rule gives the restock to the earlier refund, both notes say the attribution was by rule, the ERP's
    total is the shop's, and reconcile (which compares per order) finds nothing."""
    from connector.reconcile import CREDIT_NOTE_MISMATCH
    oid = env.imported_order()
    env.erp_admin.ship_order(env.erp_order(oid)["id"])
    before = env.on_hand("LIFE-A")
    first = _goods_refund(env, oid, {"LIFE-A": 1}, restock=False)
    second = _goods_refund(env, oid, {"LIFE-A": 1}, restock=True)
    assert env.importer.run(oid).state == st.WRITTEN_BACK
    notes = {n["external_ref"]: n for n in env.credit_notes(oid)}
    one, two = notes[f"WC-REFUND-{first['id']}"], notes[f"WC-REFUND-{second['id']}"]
    assert (one["restock"], two["restock"]) == (True, False)
    for note, other in ((one, second), (two, first)):
        assert "by rule" in note["reason"] and str(other["id"]) in note["reason"]
    assert env.on_hand("LIFE-A") == before + 1  # one unit back, as in the shop
    assert not _reconcile(env).of(CREDIT_NOTE_MISMATCH)


def test_reconcile_flags_a_restock_the_erp_credit_notes_do_not_carry(env):
    from connector.reconcile import CREDIT_NOTE_MISMATCH
    oid = env.imported_order()
    refund = _goods_refund(env, oid, {"LIFE-A": 1}, restock=True)
    requests.post(f"{env.erp_url}/api/v1/credit-notes", headers={"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"},
                  json={"external_ref": f"WC-REFUND-{refund['id']}", "sales_order_id": env.erp_order(oid)["id"],
                        "amount": "10.00", "lines": [{"sku": "LIFE-A", "quantity": 1, "amount": "10.00"}],
                        "restock": False}, timeout=10).raise_for_status()  # credited by hand, without the restock
    (mismatch,) = _reconcile(env).of(CREDIT_NOTE_MISMATCH)
    assert mismatch.key == f"WC-ORDER-{oid}" and (mismatch.erp_value, mismatch.woo_value) == ("none", "LIFE-A 1")
