"""The hold ledger's arithmetic: web stock = max(0, Σ web warehouses (on_hand − reserved − safety) − held),
with variations and several warehouses, and the hand-over that counts an imported order exactly once
whatever order the stock poll's reads and the import's commit come in."""
from __future__ import annotations

from itertools import permutations

import pytest

from connector import binding, holds
from connector.db import utcnow
from connector.erp.protocol import Reservation
from connector.models import InventoryLevel
from connector.sync.inventory import InventorySync

WEB = ("MAIN", "STORE2")


class Shop:
    """Records the batch writes a push makes."""

    def __init__(self):
        self.calls = []

    def batch_products(self, update=()):
        self.calls.append(("products", None, list(update)))
        return {"update": [{"id": u["id"]} for u in update]}

    def batch_variations(self, parent, update=()):
        self.calls.append(("variations", parent, list(update)))
        return {"update": [{"id": u["id"]} for u in update]}


def stock_row(sku, warehouse, on_hand, reserved=0, safety=0, at="2026-11-30T10:00:00.000Z"):
    return {"sku": sku, "warehouse": warehouse, "on_hand": on_hand, "reserved": reserved, "safety_stock": safety,
            "modified_at": at}


def order(*lines):
    return {"line_items": [{"sku": sku, "quantity": qty} for sku, qty in lines]}


def hold(db, order_id, *lines):
    with db.session() as s:
        holds.hold(s, order_id, order(*lines))


def test_web_stock_less_held_over_variations_and_warehouses(db):
    inv = InventorySync(db, Shop(), WEB)
    inv.record([stock_row("A", "MAIN", 20, 3, 2), stock_row("A", "STORE2", 5, 1), stock_row("A", "RETURNS", 100),
                stock_row("V-S", "MAIN", 4), stock_row("V-S", "STORE2", 3),
                stock_row("V-M", "MAIN", 2, 0, 1), stock_row("LOW", "MAIN", 3)])
    hold(db, 1, ("A", 2), ("V-S", 1), ("V-S", 2), ("", 9))        # two lines of one variation, a line without SKU
    hold(db, 2, ("A", 1), ("V-M", 5), ("LOW", 2), ("UNKNOWN", 4))
    # A: (20−3−2) + (5−1) = 19 on the web (RETURNS is no web warehouse) − 3 held; V-S: 7 − 3; V-M: 1 − 5 → 0
    assert inv.expected(["A", "V-S", "V-M", "LOW", "NONE"]) == {"A": 16, "V-S": 4, "V-M": 0, "LOW": 1}
    with db.session() as s:
        assert holds.held(s, ["A", "V-S", "V-M"]) == {"A": 3, "V-S": 3, "V-M": 5}
    assert holds.totals(db) == {"orders": 2, "units": 17}
    assert holds.held_with_orders(db) == {"A": (3, 2), "V-S": (3, 1), "V-M": (5, 1), "LOW": (2, 1),
                                          "UNKNOWN": (4, 1)}


def test_pushes_write_the_held_figure_and_amendments_and_releases_follow(db):
    shop = Shop()
    inv = InventorySync(db, shop, WEB)
    inv.record([stock_row("A", "MAIN", 10), stock_row("V-S", "STORE2", 6), stock_row("V-M", "MAIN", 6)])
    binding.upsert(db, binding.PRODUCT, {"P-A": {"sku": "A", "woo_id": 11}})
    binding.upsert(db, binding.VARIATION, {"P-VS": {"sku": "V-S", "woo_id": 21, "woo_parent_id": 20},
                                           "P-VM": {"sku": "V-M", "woo_id": 22, "woo_parent_id": 20}})
    hold(db, 7, ("A", 5), ("V-S", 1))
    assert inv.push(["A", "V-S", "V-M"]) == 2  # one products batch, one batch for the parent's variations
    written = {u["id"]: u["stock_quantity"] for _, _, updates in shop.calls for u in updates}
    assert written == {11: 5, 21: 5, 22: 6}
    assert ("variations", 20, [{"id": 22, "manage_stock": True, "stock_quantity": 6},
                               {"id": 21, "manage_stock": True, "stock_quantity": 5}]) in shop.calls
    hold(db, 7, ("A", 2))                       # amended before import: holds its new lines only
    assert inv.to_write({"A": 11, "V-S": 21, "V-M": 22}) == {"A": 8, "V-S": 6}
    with db.session() as s:
        assert holds.release(s, 7) == 1         # cancelled before import
    assert inv.expected(["A"]) == {"A": 10}


def _levels(db, sku):
    with db.session() as s:
        return {lv.warehouse: (lv.on_hand, lv.reserved, lv.modified_at)
                for lv in s.query(InventoryLevel).filter_by(sku=sku)}


def test_hand_over_moves_the_hold_into_the_reserving_row_once(db):
    inv = InventorySync(db, Shop(), WEB)
    inv.record([stock_row("A", "MAIN", 10, 1, at="2026-11-30T10:00:00.000Z"),
                stock_row("A", "STORE2", 4, at="2026-11-30T10:00:00.000Z")])
    hold(db, 3, ("A", 5))
    assert inv.expected(["A"]) == {"A": 8}
    with db.session() as s:  # the ERP reserved in STORE2 at 10:05
        assert holds.hand_over(s, 3, Reservation("STORE2", "2026-11-30T10:05:00.000Z"))
    assert inv.expected(["A"]) == {"A": 8} and holds.totals(db)["units"] == 0
    assert _levels(db, "A")["STORE2"] == (4, 5, "2026-11-30T10:05:00.000Z")
    inv.record([stock_row("A", "STORE2", 4, 0, at="2026-11-30T10:04:59.999Z")])  # read before the reservation
    assert inv.expected(["A"]) == {"A": 8}
    inv.record([stock_row("A", "STORE2", 4, 5, at="2026-11-30T10:05:00.000Z")])  # the reserving version
    inv.record([stock_row("A", "STORE2", 6, 5, at="2026-11-30T10:06:00.000Z")])  # a later change
    assert inv.expected(["A"]) == {"A": 10}
    hold(db, 4, ("A", 1))
    with db.session() as s:  # the poll stored the reserving version before the import was recorded
        holds.hand_over(s, 4, Reservation("STORE2", "2026-11-30T10:06:00.000Z"))
    assert _levels(db, "A")["STORE2"] == (6, 5, "2026-11-30T10:06:00.000Z")  # nothing added twice
    hold(db, 5, ("A", 1))
    with db.session() as s:  # not counted by the ERP yet (a Tryton quotation): the hold stays
        assert not holds.hand_over(s, 5, None)
    assert inv.expected(["A"]) == {"A": 9}


@pytest.mark.parametrize("steps", list(permutations(["old", "hand_over", "new"])))
@pytest.mark.parametrize("on_hand, reserved, qty", [(10, 2, 3), (4, 1, 5), (0, 0, 1)])
def test_any_interleaving_counts_the_order_exactly_once_after_hand_over(db, on_hand, reserved, qty, steps):
    """The poll may store the version read before the reservation ("old") or the reserving one ("new")
    before or after the import's commit ("hand_over"), in any order (a page read before the import may
    be stored after it). Once handed over, the figure is always the ERP's truth; before, never above it
    (the reserving version stored before the import is recorded counts the order twice, the safe side)."""
    inv = InventorySync(db, Shop(), ("MAIN",))
    inv.record([stock_row("A", "MAIN", on_hand, reserved, at="2026-11-30T09:00:00.000Z")])
    hold(db, 1, ("A", qty))
    truth = max(0, on_hand - reserved - qty)
    versions = {"old": stock_row("A", "MAIN", on_hand, reserved, at="2026-11-30T09:59:00.000Z"),
                "new": stock_row("A", "MAIN", on_hand, reserved + qty, at="2026-11-30T10:00:00.000Z")}
    handed = False
    for step in steps:
        if step == "hand_over":
            with db.session() as s:
                holds.hand_over(s, 1, Reservation("MAIN", "2026-11-30T10:00:00.000Z"))
            handed = True
        else:
            inv.record([versions[step]])
        figure = inv.expected(["A"])["A"]
        assert figure == truth if handed else figure <= truth, (step, figure, truth)


class Erp:
    """An ERP that counts an order only once it is confirmed (like a Tryton quotation)."""

    def __init__(self):
        self.orders = {"WC-ORDER-9": [{"id": "S9", "status": "open"}]}

    def find_sales_orders(self, ref):
        return self.orders.get(ref, [])

    def reservation(self, order):
        return Reservation("MAIN", "2026-11-30T11:00:00.000Z") if order["status"] == "confirmed" else None


def test_an_imported_order_the_erp_counts_later_is_handed_over_by_the_recheck(db):
    from connector.db import utcnow
    from connector.models import OrderSync
    inv, erp = InventorySync(db, Shop(), WEB), Erp()
    inv.record([stock_row("A", "MAIN", 10)])
    hold(db, 9, ("A", 4))
    with db.session() as s:
        s.add(OrderSync(woo_order_id=9, state="written_back", erp_order_id="S9", attempts=1, created_at=utcnow(),
                        updated_at=utcnow()))
    assert holds.recheck(db, erp) == 0 and inv.expected(["A"]) == {"A": 6}  # a quotation: still held
    erp.orders["WC-ORDER-9"][0]["status"] = "confirmed"
    assert holds.recheck(db, erp) == 1
    assert inv.expected(["A"]) == {"A": 6} and holds.totals(db)["units"] == 0
    assert _levels(db, "A")["MAIN"] == (10, 4, "2026-11-30T11:00:00.000Z")


def test_discarding_the_dead_letter_of_an_order_import_releases_its_holds(db):
    from connector import dead_letters
    from connector.db import utcnow
    from connector.models import DeadLetter
    hold(db, 21, ("A", 2))
    hold(db, 22, ("A", 3))
    with db.session() as s:
        for n, (task, order_id) in enumerate((("wooerp.orders.import_order", 21), ("wooerp.catalog.apply", 22))):
            s.add(DeadLetter(id=n + 1, task_id=f"t{n}", attempt_key="1", task_name=task, args=[order_id], kwargs={},
                             exc_type="PermanentError", exc_message="erp -> 400", status="open", created_at=utcnow()))
    assert dead_letters.discard(db, 1, "order deleted in the shop")
    assert dead_letters.discard(db, 2, "not an order")
    assert holds.held_with_orders(db) == {"A": (3, 1)}  # only the discarded order import let go


class OneOrderShop:
    def __init__(self, order):
        self.order = order

    def get_order(self, order_id):
        return dict(self.order, id=order_id)


class NoSkuErp:
    def products_by_sku(self, skus):
        return []  # every SKU unknown: the order is quarantined

    def find_sales_orders(self, external_ref):
        return []  # nothing was ever created for it (asked before a cancel is recorded)


def test_the_importer_holds_quarantined_orders_and_releases_on_status_change_and_cancel(db):
    from connector.sync.orders import OrderImporter
    shop = OneOrderShop({"status": "processing", "line_items": [{"sku": "A", "quantity": 2, "name": "a"},
                                                                {"sku": "B", "quantity": 1, "name": "b"}]})
    importer = OrderImporter(db, shop, NoSkuErp(), import_statuses=("processing", "on-hold"), currencies=("EUR",))
    assert importer.run(31).state == "quarantined"
    assert holds.held_with_orders(db) == {"A": (2, 1), "B": (1, 1)}
    shop.order = dict(shop.order, line_items=[{"sku": "A", "quantity": 4, "name": "a"}])  # amended in the shop
    importer.run(31)
    assert holds.held_with_orders(db) == {"A": (4, 1)}
    pending = OrderImporter(db, OneOrderShop(dict(shop.order, status="pending")), NoSkuErp(),
                            import_statuses=("processing", "on-hold"), currencies=("EUR",))
    assert pending.run(32).state == "skipped"  # payment pending: not an accepted order, holds nothing
    assert holds.totals(db) == {"orders": 1, "units": 4}
    shop.order = dict(shop.order, status="cancelled")
    assert importer.run(31).state == "cancelled"
    assert holds.totals(db) == {"orders": 0, "units": 0}


def test_an_order_holds_what_its_lines_ask_read_as_the_order_mapping_reads_quantities():
    from connector.holds import demand
    order = {"line_items": [
        {"sku": "ROPE", "quantity": 1.5},      # quarantined for it, but 2 units left the shelf
        {"sku": "CUP", "quantity": 2.0},       # a whole number sent as a float
        {"sku": "CUP", "quantity": "3"},
        {"sku": "PEN", "quantity": 0}, {"sku": "INK", "quantity": -1}, {"sku": "TAG", "quantity": "two"},
        {"sku": "BOOL", "quantity": True}, {"sku": "", "quantity": 4}]}
    assert demand(order) == {"ROPE": 2, "CUP": 5}


def test_units_a_refund_put_back_on_sale_are_no_longer_held():
    """Finding 6 (session 5): WooCommerce counts restocked units in the line's `_restock_refunded_items` meta."""
    from connector.holds import demand

    def line(sku, qty, restocked=None):
        meta = [] if restocked is None else [{"key": "_restock_refunded_items", "value": restocked}]
        return {"sku": sku, "quantity": qty, "meta_data": [{"key": "_reduced_stock", "value": "9"}, *meta]}
    order = {"line_items": [line("CUP", 3, "1"), line("PEN", 2, "2"), line("INK", 2, "x"), line("TAG", 2, "5"),
                            line("CUP", 1)]}
    assert demand(order) == {"CUP": 3, "INK": 2}


@pytest.mark.parametrize("state", ["received", "skipped", "quarantined", "validated", "submitted"])
def test_an_order_not_in_the_erp_whose_shop_status_is_not_imported_is_skipped_and_holds_nothing(db, state):
    """F4: a quarantined (or any not-yet-imported) order moved by the shop to a status that is not imported
    was dead-lettered with IllegalTransition and kept no hold; it is skipped, and released."""
    from connector.models import OrderSync
    from connector.sync.orders import OrderImporter
    shop = OneOrderShop({"status": "processing", "line_items": [{"sku": "A", "quantity": 3, "name": "a"}]})
    importer = OrderImporter(db, shop, NoSkuErp(), import_statuses=("processing", "on-hold"), currencies=("EUR",))
    assert importer.run(41).state == "quarantined"
    with db.session() as s:
        s.get(OrderSync, 41).state = state
    shop.order = dict(shop.order, status="failed")
    report = importer.run(41)
    assert (report.state, report.detail) == ("skipped", "status not imported")
    assert holds.totals(db) == {"orders": 0, "units": 0}


def test_a_quarantined_order_waiting_for_a_fix_keeps_holding_and_imports_after_a_skip(db):
    from connector.sync.orders import OrderImporter
    shop = OneOrderShop({"status": "processing", "line_items": [{"sku": "A", "quantity": 2, "name": "a"}]})
    importer = OrderImporter(db, shop, NoSkuErp(), import_statuses=("processing", "on-hold"), currencies=("EUR",))
    assert importer.run(42).state == "quarantined"
    assert importer.run(42).state == "quarantined"  # only waiting (for a data fix): it keeps its hold
    assert holds.held_with_orders(db) == {"A": (2, 1)}
    shop.order = dict(shop.order, status="pending")
    assert importer.run(42).state == "skipped"
    shop.order = dict(shop.order, status="on-hold")  # back in an imported status: held and judged again
    assert importer.run(42).state == "quarantined" and holds.held_with_orders(db) == {"A": (2, 1)}


def test_an_accepted_order_holds_before_its_task_is_queued_and_the_importer_takes_over(db):
    """Issue 18: every line of every accepted order holds from the moment the shim stores it, so a sale
    waiting in the queue (or for a retry) is never offered again; the importer's rule applies from its
    first run on, and a second arrival changes nothing."""
    import json
    from connector.models import OrderSync
    from connector.sync import order_state as st
    from connector.webhooks import judge, record, signature
    inv = InventorySync(db, Shop(), WEB)
    inv.record([stock_row("A", "MAIN", 10), stock_row("B", "MAIN", 4)])
    body = json.dumps({"id": 77, "status": "processing", "date_modified_gmt": "2026-11-30T10:00:00",
                       "line_items": [{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 1.0},
                                      {"sku": "A", "quantity": "2"}]}).encode()
    topics = ("order.created", "order.updated")
    verdict = judge(body, {"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Signature": signature(body, "k")},
                    secret="k", topics=topics, max_bytes=10_000)
    seen = []

    def publish(topic, order_id, cid):  # the task is queued after the hold is committed
        with db.session() as s:
            seen.append(holds.held(s, ["A", "B"]))
        return "task-1"
    record(db, verdict, {}, "cid", publish, hold_statuses=("processing",))
    assert seen == [{"A": 5, "B": 1}]
    assert inv.expected(["A", "B"]) == {"A": 5, "B": 3}
    # a pending (unpaid) order holds nothing; an order the importer has seen is its business
    pending = json.dumps({"id": 78, "status": "pending", "line_items": [{"sku": "A", "quantity": 9}]}).encode()
    record(db, judge(pending, {"X-WC-Webhook-Topic": "order.created",
                               "X-WC-Webhook-Signature": signature(pending, "k")},
                     secret="k", topics=topics, max_bytes=10_000), {}, "cid", lambda *a: "t", ("processing",))
    with db.session() as s:
        s.add(OrderSync(woo_order_id=79, state=st.WRITTEN_BACK, attempts=1, created_at=utcnow(),
                        updated_at=utcnow()))
    assert not holds.hold_on_arrival(db, 79, {"A": 4})
    assert not holds.hold_on_arrival(db, 77, {"A": 1})  # holds already: nothing changes
    assert holds.totals(db) == {"orders": 1, "units": 6}


def test_the_order_poll_holds_a_sale_it_finds_before_queueing_it(db):
    from connector.sync.order_poll import poll_orders

    class Poll:
        def list_orders(self, *, modified_after, statuses, page=1):
            return [{"id": 90, "status": "processing", "date_modified_gmt": "2026-11-30T10:00:00",
                     "line_items": [{"sku": "A", "quantity": 2}]}], 1
    queued = []
    poll_orders(db, Poll(), statuses=("processing",), overlap_seconds=60, enqueue=queued.append)
    with db.session() as s:
        assert queued == [90] and holds.held(s, ["A"]) == {"A": 2}


def test_the_order_poll_holds_nothing_for_a_cancelled_order_it_finds(db):
    """A cancelled order never seen is not ours: nothing held, nothing queued. One that holds stock from a
    delivery whose task never ran is queued, so the import task releases its hold."""
    from connector.sync.order_poll import poll_orders

    class Poll:
        def list_orders(self, *, modified_after, statuses, page=1):
            return [{"id": i, "status": "cancelled", "date_modified_gmt": "2026-11-30T10:00:00",
                     "line_items": [{"sku": "A", "quantity": 2}]} for i in (91, 92)], 1
    assert holds.hold_on_arrival(db, 92, {"A": 2})
    queued = []
    poll_orders(db, Poll(), statuses=("processing", "cancelled"), overlap_seconds=60, enqueue=queued.append)
    with db.session() as s:
        assert queued == [92] and holds.held(s, ["A"]) == {"A": 2}
