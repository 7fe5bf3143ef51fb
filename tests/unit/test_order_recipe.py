"""The order recipe step by step (connector/sync/orders.py) against an in-memory shop and ERP and a real
database: the state recorded before each outside call, and a failure injected at every step (before the
call takes effect, or after it took effect and its answer was lost) followed by a re-run, which must
leave exactly one ERP order and one write-back of its number."""
from __future__ import annotations

import copy

import pytest

from connector.erp.protocol import Reservation
from connector.errors import TransientError
from connector.mapping.orders import order_ref
from connector.models import OrderSync
from connector.sync import order_state as st
from connector.sync.orders import ERP_ID_META, ERP_NUMBER_META, OrderImporter

ORDER_ID = 501
SKU = "MUG-1"


def woo_order() -> dict:
    """A guest's paid order: 2 × 10.00 net at 19 % plus 5.00 shipping, all in EUR."""
    return {
        "id": ORDER_ID, "status": "processing", "currency": "EUR", "customer_id": 0,
        "date_created_gmt": "2026-03-01T10:00:00", "date_modified_gmt": "2026-03-01T10:00:00",
        "date_paid_gmt": "2026-03-01T10:00:05", "payment_method": "bacs", "transaction_id": "",
        "billing": {"first_name": "Kim", "last_name": "Lee", "company": "", "address_1": "Main 1", "city": "Berlin",
                    "postcode": "10115", "country": "DE", "email": "kim@example.com", "phone": ""},
        "shipping": {},
        "line_items": [{"id": 1, "name": "Mug", "sku": SKU, "quantity": 2, "subtotal": "20.00",
                        "subtotal_tax": "3.80", "total": "20.00", "total_tax": "3.80"}],
        "shipping_lines": [{"method_id": "flat_rate"}], "shipping_total": "5.00", "shipping_tax": "0.95",
        "discount_total": "0.00", "coupon_lines": [], "fee_lines": [], "total_tax": "4.75", "total": "29.75",
        "meta_data": [], "customer_note": "",
    }


class Faults:
    """Which port call fails, and how: "before" (nothing happens) or "after" (it happened; the answer is lost)."""

    def __init__(self, db):
        self.db, self.armed, self.states = db, None, []

    def arm(self, call: str, when: str) -> None:
        self.armed = (call, when)

    def around(self, call: str, do):
        """Run `do` as the port call `call`: note the order's recorded state first, fail as armed."""
        with self.db.session() as s:
            row = s.get(OrderSync, ORDER_ID)
            self.states.append((call, row.state if row else None))
        if self.armed == (call, "before"):
            self.armed = None
            raise TransientError(f"{call}: connection reset before it reached the server")
        result = do()
        if self.armed == (call, "after"):
            self.armed = None
            raise TransientError(f"{call}: timed out after the server committed it")
        return result


class Shop:
    """The ShopPort calls the importer makes for a guest order; meta_data is upserted by key, as Woo does."""

    def __init__(self, faults: Faults):
        self.faults, self.order, self.notes, self.meta_writes = faults, woo_order(), [], []

    def get_order(self, order_id):
        return self.faults.around("get_order", lambda: copy.deepcopy(self.order))

    def update_order(self, order_id, data):
        def do():
            meta = {m["key"]: m for m in self.order["meta_data"]}
            for m in data.get("meta_data", []):
                meta[m["key"]] = dict(m)
            self.order["meta_data"] = list(meta.values())
            self.meta_writes.append(data)
            return copy.deepcopy(self.order)
        return self.faults.around("update_order", do)

    def order_notes(self, order_id):
        return self.faults.around("order_notes", lambda: [{"note": n} for n in self.notes])

    def add_order_note(self, order_id, note):
        return self.faults.around("add_order_note", lambda: self.notes.append(note) or {"note": note})


class Erp:
    """The ErpAdapter calls of an import: products by SKU, customers, sales orders looked up by reference.
    `create_sales_order` with `stop_at_draft` leaves the order as a draft (interrupted between its steps)."""

    def __init__(self, faults: Faults):
        self.faults, self.orders, self.customers, self.stop_at_draft = faults, [], [], False

    def products_by_sku(self, skus):
        return self.faults.around("products_by_sku", lambda: [{"id": "P-1", "sku": s} for s in skus if s == SKU])

    def find_customers(self, *, external_ref=None, email=None):
        return self.faults.around("find_customers", lambda: [dict(c) for c in self.customers
                                                              if email and c["email"] == email])

    def create_customer(self, customer):
        def do():
            made = dict(customer, id=f"C-{len(self.customers) + 1}", number=f"CUST-{len(self.customers) + 1}")
            self.customers.append(made)
            return dict(made)
        return self.faults.around("create_customer", do)

    def get_customer(self, customer_id):
        return self.faults.around("get_customer", lambda: dict(next(c for c in self.customers
                                                                    if c["id"] == customer_id)))

    def find_sales_orders(self, external_ref):
        return self.faults.around("find_sales_orders", lambda: [dict(o) for o in self.orders
                                                                 if o["external_ref"] == external_ref])

    def create_sales_order(self, order):
        def do():
            n = len(self.orders) + 1
            made = dict(order, id=f"SO-{n}", number=f"SO{n:05d}", status="draft" if self.stop_at_draft else "open")
            self.orders.append(made)
            return dict(made)
        return self.faults.around("create_sales_order", do)

    def finish_sales_order(self, order_id):
        def do():
            found = next(o for o in self.orders if o["id"] == order_id)
            found["status"] = "open"
            return dict(found)
        return self.faults.around("finish_sales_order", do)

    def reservation(self, order):
        return self.faults.around("reservation", lambda: Reservation("MAIN", None))

    def cancel_sales_order(self, order_id):
        def do():
            found = next(o for o in self.orders if o["id"] == order_id)
            found["status"] = "cancelled"
            return dict(found)
        return self.faults.around("cancel_sales_order", do)


@pytest.fixture
def parts(db):
    faults = Faults(db)
    return faults, Shop(faults), Erp(faults)


def importer(db, shop, erp) -> OrderImporter:
    """A fresh importer, as a new worker process would build it."""
    return OrderImporter(db, shop, erp, import_statuses=("processing",), currencies=("EUR",))


def recorded(db) -> OrderSync:
    with db.session() as s:
        row = s.get(OrderSync, ORDER_ID)
        s.expunge(row)
        return row


def assert_one_order_and_one_write_back(db, shop, erp) -> None:
    assert [o["external_ref"] for o in erp.orders] == [order_ref(ORDER_ID)]
    assert erp.orders[0]["status"] == "open" and len(erp.customers) == 1
    row = recorded(db)
    assert (row.state, row.erp_order_id, row.erp_order_number) == (st.WRITTEN_BACK, "SO-1", "SO00001")
    meta = {m["key"]: m["value"] for m in shop.order["meta_data"]}
    assert (meta[ERP_ID_META], meta[ERP_NUMBER_META]) == ("SO-1", "SO00001")
    assert [w for w in shop.meta_writes if any(m["key"] == ERP_NUMBER_META for m in w["meta_data"])] == \
        shop.meta_writes[:1]  # the number was written once
    assert shop.notes == ["Imported into the ERP as SO00001 (SO-1)."]


def test_each_outside_call_is_made_with_the_step_before_it_recorded(db, parts):
    faults, shop, erp = parts
    report = importer(db, shop, erp).run(ORDER_ID)
    assert (report.state, report.erp_order_id) == (st.WRITTEN_BACK, "SO-1")
    assert faults.states == [
        ("get_order", st.RECEIVED),
        ("products_by_sku", st.RECEIVED),       # validation
        ("find_customers", st.VALIDATED),       # the guest is looked up by e-mail, then created
        ("create_customer", st.VALIDATED),
        ("find_sales_orders", st.VALIDATED),    # the external reference is looked up before any create
        ("create_sales_order", st.SUBMITTED),   # recorded as submitted before the ERP is asked to create
        ("reservation", st.SUBMITTED),
        ("update_order", st.IN_ERP),            # the ERP order id is recorded before anything is written back
        ("add_order_note", st.IN_ERP),
    ]
    assert erp.orders[0]["customer_id"] == recorded(db).erp_customer_id == "C-1"
    assert_one_order_and_one_write_back(db, shop, erp)


def test_a_rerun_of_a_written_back_order_writes_nothing_more(db, parts):
    faults, shop, erp = parts
    importer(db, shop, erp).run(ORDER_ID)
    writes = (len(shop.meta_writes), list(shop.notes))
    report = importer(db, shop, erp).run(ORDER_ID)
    assert report.state == st.WRITTEN_BACK and (len(shop.meta_writes), shop.notes) == writes
    assert_one_order_and_one_write_back(db, shop, erp)


STEPS = ["get_order", "products_by_sku", "find_customers", "create_customer", "find_sales_orders",
         "create_sales_order", "reservation", "update_order", "add_order_note"]


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("step", STEPS)
def test_a_failure_at_any_step_then_a_rerun_leaves_one_erp_order_and_one_write_back(db, parts, step, when):
    faults, shop, erp = parts
    faults.arm(step, when)
    with pytest.raises(TransientError):
        importer(db, shop, erp).run(ORDER_ID)
    failed_in = recorded(db).state
    expected = {"get_order": st.RECEIVED, "products_by_sku": st.RECEIVED, "find_customers": st.VALIDATED,
                "create_customer": st.VALIDATED, "find_sales_orders": st.VALIDATED,
                "create_sales_order": st.SUBMITTED, "reservation": st.SUBMITTED}.get(step, st.IN_ERP)
    assert failed_in == expected
    if failed_in == st.IN_ERP:  # the ERP order's id is kept, so the re-run only writes back
        assert recorded(db).erp_order_id == "SO-1"
    faults.states.clear()
    report = importer(db, shop, erp).run(ORDER_ID)
    assert report.state == st.WRITTEN_BACK
    assert_one_order_and_one_write_back(db, shop, erp)
    if step == "create_sales_order" and when == "after":  # committed, answer lost: adopted, not created again
        assert ("create_sales_order", st.SUBMITTED) not in faults.states
        assert ("find_sales_orders", st.SUBMITTED) in faults.states


def test_an_erp_order_left_as_a_draft_is_finished_by_the_rerun_not_created_again(db, parts):
    faults, shop, erp = parts
    erp.stop_at_draft = True
    faults.arm("create_sales_order", "after")
    with pytest.raises(TransientError):
        importer(db, shop, erp).run(ORDER_ID)
    assert recorded(db).state == st.SUBMITTED and erp.orders[0]["status"] == "draft"
    erp.stop_at_draft = False
    faults.states.clear()
    importer(db, shop, erp).run(ORDER_ID)
    assert [call for call, _ in faults.states if "sales_order" in call] == ["find_sales_orders", "finish_sales_order"]
    assert_one_order_and_one_write_back(db, shop, erp)


def test_several_erp_orders_with_our_reference_stop_the_import_without_a_write_back(db, parts):
    faults, shop, erp = parts
    erp.orders = [{"id": "SO-7", "external_ref": order_ref(ORDER_ID), "status": "open"},
                  {"id": "SO-8", "external_ref": order_ref(ORDER_ID), "status": "open"}]
    report = importer(db, shop, erp).run(ORDER_ID)
    assert report.state == st.CONFLICT and "SO-7, SO-8" in recorded(db).reason
    assert len(erp.orders) == 2 and shop.meta_writes == [] and shop.notes == []
    assert importer(db, shop, erp).run(ORDER_ID).state == st.CONFLICT and len(erp.orders) == 2


@pytest.mark.parametrize("then", ["cancelled", "pending, then cancelled"])
def test_an_order_the_shop_ends_after_its_create_answer_was_lost_gets_its_erp_order_cancelled(db, parts, then):
    # the ERP created the order but the worker never heard back; before the retry, the shop cancelled it
    # (directly, or after a detour through a status that is not imported): that ERP order must not ship
    faults, shop, erp = parts
    faults.arm("create_sales_order", "after")
    with pytest.raises(TransientError):
        importer(db, shop, erp).run(ORDER_ID)
    assert recorded(db).state == st.SUBMITTED and len(erp.orders) == 1
    if then.startswith("pending"):
        shop.order["status"] = "pending"
        assert importer(db, shop, erp).run(ORDER_ID).state == st.SKIPPED
    shop.order["status"] = "cancelled"
    report = importer(db, shop, erp).run(ORDER_ID)
    assert [o["status"] for o in erp.orders] == ["cancelled"]
    assert (report.state, report.erp_order_id) == (st.CANCELLED, "SO-1")
    meta = {m["key"]: m["value"] for m in shop.order["meta_data"]}
    assert meta[ERP_NUMBER_META] == "SO00001"  # the shop order names the ERP order that was cancelled
    assert importer(db, shop, erp).run(ORDER_ID).state == st.CANCELLED and len(erp.orders) == 1


def test_an_order_the_shop_ends_before_its_create_reached_the_erp_is_cancelled_without_erp_writes(db, parts):
    faults, shop, erp = parts
    faults.arm("create_sales_order", "before")
    with pytest.raises(TransientError):
        importer(db, shop, erp).run(ORDER_ID)
    shop.order["status"] = "trash"
    report = importer(db, shop, erp).run(ORDER_ID)
    assert (report.state, erp.orders) == (st.CANCELLED, [])
    assert not shop.meta_writes and not shop.notes


def held_stock(db) -> dict[str, int]:
    from sqlalchemy import select
    from connector.models import StockHold
    with db.session() as s:
        return {h.sku: h.quantity for h in s.scalars(select(StockHold).where(StockHold.woo_order_id == ORDER_ID))}


@pytest.mark.parametrize("reopened", ["processing", "pending, then processing"])
def test_an_order_cancelled_before_import_and_reopened_is_imported_once_and_holds_its_stock_meanwhile(
        db, parts, reopened):
    # the shop cancelled the order before we imported it, then re-opened it (paid after all, restored from the
    # trash): nothing of it is in the ERP, so it is a sale to import, not a cancelled order to leave alone
    faults, shop, erp = parts
    shop.order["status"] = "cancelled"
    report = importer(db, shop, erp).run(ORDER_ID)
    assert (report.state, report.erp_order_id, erp.orders, held_stock(db)) == (st.CANCELLED, None, [], {})
    if reopened.startswith("pending"):
        shop.order["status"] = "pending"
        assert importer(db, shop, erp).run(ORDER_ID).state == st.SKIPPED
        assert held_stock(db) == {} and erp.orders == []
    shop.order["status"] = "processing"
    faults.arm("find_customers", "before")  # stopped on its way in: the sold units stay held meanwhile
    with pytest.raises(TransientError):
        importer(db, shop, erp).run(ORDER_ID)
    assert recorded(db).state == st.VALIDATED and held_stock(db) == {SKU: 2} and erp.orders == []
    report = importer(db, shop, erp).run(ORDER_ID)
    assert (report.state, report.erp_order_id) == (st.WRITTEN_BACK, "SO-1")
    assert_one_order_and_one_write_back(db, shop, erp)
    assert importer(db, shop, erp).run(ORDER_ID).state == st.WRITTEN_BACK and len(erp.orders) == 1


def test_an_order_cancelled_before_import_that_the_shop_reopens_invalid_is_quarantined_not_left_cancelled(db, parts):
    faults, shop, erp = parts
    shop.order["status"] = "cancelled"
    importer(db, shop, erp).run(ORDER_ID)
    shop.order["status"] = "processing"
    shop.order["line_items"][0]["sku"] = "NOT-IN-ERP"
    report = importer(db, shop, erp).run(ORDER_ID)
    assert report.state == st.QUARANTINED and "NOT-IN-ERP" in recorded(db).reason and erp.orders == []
