"""The ERP's 422 quarantines the order with the ERP's field messages; an order the shop no longer has is
gone; an open dead letter keeps the order from running again (the importer on a real database)."""
import json

from connector import dead_letters
from connector.errors import InvalidDataError, NotFound, PermanentError
from connector.models import OrderSync
from connector.sync import order_state as st
from connector.sync.orders import OrderImporter, not_done, reset_for_retry
from tests.unit.test_mapping import ORDER


class Woo:
    def __init__(self, order=None):
        self.order = order

    def get_order(self, order_id):
        if self.order is None:
            raise NotFound("woo GET orders -> 404 woocommerce_rest_shop_order_invalid_id", status=404)
        return self.order


class RefusingErp:
    created = 0

    def products_by_sku(self, skus):
        return [{"sku": s} for s in skus]

    def find_customers(self, **key):
        return [{"id": "C-1"}]

    def update_customer(self, customer_id, changes):
        return {"id": customer_id, **changes}

    def find_sales_orders(self, ref):
        return []

    def create_sales_order(self, body):
        self.created += 1
        answer = {"error": {"code": "validation_failed", "message": "invalid",
                            "fields": {"shipping_address.postcode": "not a valid postcode for DE"}}}
        raise InvalidDataError("erp POST -> 422", status=422, excerpt=json.dumps(answer))


def importer(db, woo, erp=None):
    return OrderImporter(db, woo, erp or RefusingErp(), import_statuses=("processing",), currencies=("EUR",))


def test_an_erp_validation_failure_quarantines_with_the_erps_field_messages(db):
    report = importer(db, Woo(ORDER)).run(ORDER["id"])
    assert report.state == st.QUARANTINED
    assert "the ERP refused it: shipping_address.postcode: not a valid postcode for DE" in report.detail
    assert [(r[0], r[1]) for r in not_done(db)] == [(ORDER["id"], st.QUARANTINED)]


def test_an_order_the_shop_no_longer_has_is_gone_for_good(db):
    assert importer(db, Woo(None)).run(99).state == st.GONE
    [(oid, state, _, reason)] = not_done(db)
    assert (oid, state) == (99, st.GONE) and reason.startswith("gone in WooCommerce") and "never imported" in reason
    assert importer(db, Woo(ORDER)).run(99).state == st.GONE  # final, even if a stale delivery comes


def test_an_open_dead_letter_holds_the_order_until_it_is_retried(db):
    letter = dead_letters.Letter(task_id="t1", attempt_key="0", task_name="wooerp.orders.import_order",
                                 args=[ORDER["id"]], kwargs={}, queue="orders", correlation_id=None, retries=0,
                                 exc_type="PermanentError", exc_message="409", traceback=None,
                                 resource=dead_letters.order_resource(ORDER["id"]))
    letter_id, new = dead_letters.record(db, letter)
    again = dict(letter.__dict__, task_id="t2")
    assert new and dead_letters.record(db, dead_letters.Letter(**again)) == (letter_id, False)
    erp = RefusingErp()
    report = importer(db, Woo(ORDER), erp).run(ORDER["id"])
    assert f"dead letter {letter_id} is open" in report.detail and erp.created == 0
    assert [r[1] for r in not_done(db)] == ["dead_letter"]
    assert reset_for_retry(db, ORDER["id"], by="test")
    assert dead_letters.get(db, letter_id).status == dead_letters.DISCARDED
    importer(db, Woo(ORDER), erp).run(ORDER["id"])
    assert erp.created == 1
    with db.session() as s:
        assert s.get(OrderSync, ORDER["id"]).state == st.QUARANTINED
