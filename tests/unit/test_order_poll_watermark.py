"""The order poll's watermark against an in-memory shop: it follows the newest order seen, stays behind
an order that is not through yet, never passes the run's start, and the next poll reads from it less
the overlap."""
from __future__ import annotations

from datetime import datetime, timedelta

from connector.db import utcnow
from connector.models import OrderSync, SyncCursor
from connector.sync import order_state as st
from connector.sync.order_poll import poll_orders


class Shop:
    """`list_orders` as WooCommerce pages it: `per_page` orders a page, the total page count alongside."""

    def __init__(self, orders: list[dict], per_page: int = 2):
        self.orders, self.per_page, self.asked = orders, per_page, []

    def list_orders(self, *, modified_after, statuses, page=1):
        self.asked.append((modified_after, page))
        rows = sorted((o for o in self.orders if not modified_after or o["date_modified_gmt"] > modified_after),
                      key=lambda o: o["date_modified_gmt"])
        pages = max(1, -(-len(rows) // self.per_page))
        return rows[(page - 1) * self.per_page:page * self.per_page], pages


def ago(seconds: float) -> str:
    return (utcnow() - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")


def order(oid: int, modified: str) -> dict:
    return {"id": oid, "status": "processing", "date_modified_gmt": modified}


def settle(db, shop, *ids: int) -> None:
    """Record the orders as imported and written back at their current version (a later change in the shop,
    a newer `date_modified_gmt`, is followed by the poll: order_life)."""
    modified = {o["id"]: o["date_modified_gmt"] for o in shop.orders}
    with db.session() as s:
        for oid in ids:
            s.add(OrderSync(woo_order_id=oid, state=st.WRITTEN_BACK, created_at=utcnow(), updated_at=utcnow(),
                            woo_modified_gmt=modified.get(oid)))


def watermark(db) -> str | None:
    with db.session() as s:
        return s.get(SyncCursor, "orders").watermark


def run(db, shop, queued: list, overlap=60) -> int:
    return poll_orders(db, shop, statuses=("processing",), overlap_seconds=overlap, enqueue=queued.append)


def test_settled_orders_are_not_queued_and_the_watermark_follows_the_newest(db):
    shop = Shop([order(1, ago(50)), order(2, ago(40)), order(3, ago(30))])
    settle(db, shop, 1, 2, 3)
    queued = []
    assert run(db, shop, queued) == 0 and queued == []
    assert watermark(db) == shop.orders[2]["date_modified_gmt"] + "Z"
    assert [page for after, page in shop.asked if after is None] == [1, 2]  # + the recent refunded/trash pages


def test_an_order_not_through_holds_the_watermark_at_its_own_timestamp(db):
    shop = Shop([order(1, ago(50)), order(2, ago(40)), order(3, ago(30))])
    settle(db, shop, 1, 3)
    queued = []
    assert run(db, shop, queued) == 1 and queued == [2]
    assert watermark(db) == shop.orders[1]["date_modified_gmt"] + "Z"


def test_the_next_poll_reads_from_the_watermark_less_the_overlap(db):
    shop = Shop([order(1, ago(50))])
    settle(db, shop, 1)
    run(db, shop, [])
    shop.asked.clear()
    run(db, shop, [], overlap=60)
    # exactly the order's own timestamp (the watermark) less the overlap, however long the runs took
    expected = datetime.fromisoformat(shop.orders[0]["date_modified_gmt"]) - timedelta(seconds=60)
    assert datetime.fromisoformat(shop.asked[0][0]) == expected


def test_the_watermark_never_passes_the_start_of_the_run(db):
    shop = Shop([order(1, (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"))])  # a shop clock ahead
    settle(db, shop, 1)
    before = utcnow()
    run(db, shop, [])
    assert watermark(db) <= (utcnow() + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert watermark(db) >= before.strftime("%Y-%m-%dT%H:%M:%S")


def test_a_written_back_order_changed_in_the_shop_since_is_queued_again(db):
    """An amendment or refund whose webhook was lost still reaches order_life through the poll."""
    shop = Shop([order(1, ago(50)), order(2, ago(40))])
    settle(db, shop, 1, 2)
    shop.orders[1] = order(2, ago(20))  # order 2 edited in the shop after it was written back
    queued = []
    assert run(db, shop, queued) == 1 and queued == [2]


class StatusShop(Shop):
    """A shop that also filters by status, as WooCommerce does."""

    def list_orders(self, *, modified_after, statuses, page=1):
        keep = self.orders
        self.orders = [o for o in keep if o["status"] in statuses]
        try:
            return super().list_orders(modified_after=modified_after, statuses=statuses, page=page)
        finally:
            self.orders = keep


def test_completed_orders_are_polled_but_a_fresh_install_does_not_import_the_shops_history(db):
    from connector.settings import load
    statuses = load({"DATABASE_URL": db.url}).import_statuses
    assert "completed" in statuses  # F3: an order completed before its import must still reach the ERP
    shop = StatusShop([dict(order(1, ago(86400 * 400)), status="completed"),  # last year's sale
                       dict(order(2, ago(86400 * 400)), status="processing"),  # never shipped: still ours
                       dict(order(3, ago(20)), status="completed"),  # a download, completed at checkout
                       dict(order(4, ago(10)), status="pending")])
    queued = []
    poll_orders(db, shop, statuses=statuses, overlap_seconds=300, enqueue=queued.append)
    assert sorted(queued) == [2, 3]
    shop.orders.append(dict(order(5, ago(1)), status="completed"))
    queued.clear()
    poll_orders(db, shop, statuses=statuses, overlap_seconds=300, enqueue=queued.append)
    assert 5 in queued and 1 not in queued
