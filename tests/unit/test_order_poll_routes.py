"""What the order poll sends to the import task, against an in-memory shop that filters by status and
modification time as WooCommerce does (trashed orders only when `trash` is asked for): an order bound to an
ERP order is followed through its whole life (refunded, refunded in part, amended, trashed, restored) when
the shop changed it since we last read it; an order never imported that the shop ended is left alone."""
from __future__ import annotations

from datetime import timedelta

import pytest

from connector import dead_letters
from connector.db import utcnow
from connector.models import OrderSync
from connector.sync import order_state as st
from connector.sync.order_poll import FOLLOW, IMPORT, poll_orders, route

IMPORT_STATUSES = ("processing", "on-hold", "completed")


def ago(seconds: float) -> str:
    return (utcnow() - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")


class Shop:
    def __init__(self, orders: list[dict]):
        self.orders, self.asked = orders, []

    def list_orders(self, *, modified_after, statuses, page=1):
        statuses = tuple(statuses)
        self.asked.append((statuses, modified_after))
        wanted = set(statuses) if "any" not in statuses else {o["status"] for o in self.orders} - {"trash"}
        rows = sorted((o for o in self.orders if o["status"] in wanted
                       and (not modified_after or o["date_modified_gmt"] > modified_after)),
                      key=lambda o: o["date_modified_gmt"])
        return rows, 1


def order(oid: int, status: str, modified: str) -> dict:
    return {"id": oid, "status": status, "date_modified_gmt": modified, "line_items": []}


def record(db, oid: int, state: str, modified: str | None, erp_order_id: str | None = "SO-1") -> None:
    with db.session() as s:
        s.add(OrderSync(woo_order_id=oid, state=state, created_at=utcnow(), updated_at=utcnow(),
                        woo_modified_gmt=modified, erp_order_id=erp_order_id))


def poll(db, shop) -> list[int]:
    queued = []
    poll_orders(db, shop, statuses=IMPORT_STATUSES + ("cancelled",), overlap_seconds=60, enqueue=queued.append)
    return sorted(queued)


def test_orders_bound_to_the_erp_are_followed_into_every_end_of_their_life_whose_webhook_was_lost(db):
    before, after = ago(600), ago(30)
    shop = Shop([order(1, "refunded", after),     # fully refunded since written back
                 order(2, "processing", after),   # refunded in part, or amended: same status, newer change
                 order(3, "trash", after),        # moved to the trash
                 order(4, "processing", after),   # restored from the trash after its ERP order was cancelled
                 order(5, "completed", before),   # nothing new since we read it
                 order(6, "refunded", before)])   # followed already (in attention, say)
    record(db, 1, st.WRITTEN_BACK, before)
    record(db, 2, st.WRITTEN_BACK, before)
    record(db, 3, st.WRITTEN_BACK, before)
    record(db, 4, st.CANCELLED, before)
    record(db, 5, st.WRITTEN_BACK, before)
    record(db, 6, st.ATTENTION, before)
    assert poll(db, shop) == [1, 2, 3, 4]
    trash_asked = [statuses for statuses, _ in shop.asked if "trash" in statuses]
    assert trash_asked and all("refunded" in s for s in trash_asked)  # no extra listing per status


def test_orders_the_shop_ended_before_import_are_ignored_unless_on_their_way_in(db):
    now = ago(30)
    shop = Shop([order(10, "refunded", now), order(11, "trash", now), order(12, "cancelled", now),  # never seen
                 order(13, "trash", now),       # on its way into the ERP: the import task stops and releases it
                 order(14, "trash", now),       # skipped (pending) and trashed: nothing to do
                 order(15, "refunded", now),    # cancelled before import: no ERP order to follow
                 order(16, "processing", now),  # a sale never seen: imported
                 order(17, "processing", now)])  # quarantined: waits for a person
    record(db, 13, st.VALIDATED, None, erp_order_id=None)
    record(db, 14, st.SKIPPED, None, erp_order_id=None)
    record(db, 15, st.CANCELLED, None, erp_order_id=None)
    record(db, 17, st.QUARANTINED, None, erp_order_id=None)
    assert poll(db, shop) == [13, 16]


def test_a_bound_order_with_an_open_dead_letter_waits_for_its_replay(db):
    shop = Shop([order(20, "refunded", ago(30))])
    record(db, 20, st.WRITTEN_BACK, ago(600))
    dead_letters.record(db, dead_letters.Letter(
        task_id="t-20", attempt_key="t-20:0", task_name="wooerp.orders.import_order", args=[20], kwargs={},
        queue="orders", correlation_id=None, retries=3, exc_type="PermanentError", exc_message="ERP refused",
        traceback=None, resource=dead_letters.order_resource(20)))
    assert poll(db, shop) == []


def test_the_first_poll_reads_refunded_and_trashed_orders_of_the_overlap_only(db):
    shop = Shop([order(30, "trash", ago(86400 * 30)), order(31, "trash", ago(20)),
                 order(32, "refunded", ago(86400 * 30)), order(33, "refunded", ago(20))])
    for oid in (30, 31, 32, 33):
        record(db, oid, st.WRITTEN_BACK, ago(86400 * 60))
    assert poll(db, shop) == [31, 33]
    assert all(after is not None for statuses, after in shop.asked if "trash" in statuses)


@pytest.mark.parametrize("state, erp_order_id, status, changed, expected", [
    (None, None, "processing", True, IMPORT),
    (None, None, "refunded", True, None),
    (st.WRITTEN_BACK, "SO-1", "refunded", True, FOLLOW),
    (st.WRITTEN_BACK, "SO-1", "refunded", False, None),
    (st.WRITTEN_BACK, "SO-1", "trash", True, FOLLOW),
    (st.ATTENTION, "SO-1", "processing", True, FOLLOW),
    (st.CANCELLED, "SO-1", "processing", True, FOLLOW),
    (st.CANCELLED, None, "processing", True, IMPORT),  # cancelled before import, then re-opened: a sale
    (st.CANCELLED, None, "processing", False, IMPORT),
    (st.CANCELLED, None, "cancelled", True, None),
    (st.CANCELLED, None, "refunded", True, None),
    (st.IN_ERP, "SO-1", "trash", False, IMPORT),
    (st.SUBMITTED, None, "cancelled", False, IMPORT),
    (st.SKIPPED, None, "processing", True, IMPORT),
    (st.SKIPPED, None, "trash", True, None),
    (st.CONFLICT, None, "trash", True, None),
    (st.GONE, "SO-1", "processing", True, None),
])
def test_route(state, erp_order_id, status, changed, expected):
    row = None if state is None else OrderSync(woo_order_id=1, state=state, erp_order_id=erp_order_id,
                                               woo_modified_gmt="2026-01-01T00:00:00")
    listed = order(1, status, "2026-01-02T00:00:00" if changed else "2026-01-01T00:00:00")
    assert route(row, listed, import_statuses=IMPORT_STATUSES, dead_letter=False) == expected


def test_a_never_seen_order_ended_in_the_shop_is_queued_only_when_it_holds_stock():
    listed = order(1, "trash", "2026-01-02T00:00:00")
    assert route(None, listed, import_statuses=IMPORT_STATUSES, dead_letter=False, held=True) == IMPORT
    assert route(None, listed, import_statuses=IMPORT_STATUSES, dead_letter=True, held=True) is None


def test_an_order_cancelled_before_import_that_the_shop_reopened_is_imported_by_the_poll(db):
    # its webhook was lost: the poll is the only way in; its unbound cancelled row must not hide it
    now = ago(30)
    shop = Shop([order(40, "processing", now),   # cancelled before import, re-opened and paid
                 order(41, "cancelled", now),    # cancelled before import, still cancelled
                 order(42, "processing", now)])  # cancelled with its ERP order: not revived by the import
    record(db, 40, st.CANCELLED, ago(600), erp_order_id=None)
    record(db, 41, st.CANCELLED, ago(600), erp_order_id=None)
    record(db, 42, st.CANCELLED, ago(600), erp_order_id="SO-42")
    assert poll(db, shop) == [40, 42]  # 42 is followed (order_life flags the restore), 40 imported
    assert route(OrderSync(woo_order_id=40, state=st.CANCELLED, erp_order_id=None, woo_modified_gmt=ago(600)),
                 order(40, "processing", now), import_statuses=IMPORT_STATUSES, dead_letter=False) == IMPORT
