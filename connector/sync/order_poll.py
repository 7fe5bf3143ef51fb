"""The safety net for lost webhooks: list WooCommerce orders modified since the last poll (minus the
overlap) in the given statuses, and hand every one not yet settled to `enqueue` (an imported order
that was cancelled in the shop since is not settled: its ERP order must be cancelled too; quarantined
and conflicting orders, orders with an open dead letter and orders gone from the shop wait for a person). The watermark never passes an order that is not through.

The first poll (no watermark yet) reads every order in the imported statuses except `completed` ones, which
it reads from the last `overlap_seconds` only: a shop's history of completed orders is not ours to import,
while an order completed before its import right now (a virtual good, a fast shop) is.

`run` is the scheduled round: this poll, then the shop's webhooks re-activated where WooCommerce disabled
them, then the stock holds of imported orders handed over once the ERP counts them.
"""
from __future__ import annotations

from datetime import timedelta, timezone
from typing import Callable

from sqlalchemy import select

from connector import dead_letters, holds
from connector.db import Database, utcnow
from connector.models import OrderSync, SyncCursor
from connector.paging import woo_pages
from connector.sync import order_state as st
from connector.sync.delta import format_ts, parse_ts
from connector.sync.webhook_setup import check_webhooks

STREAM = "orders"
HISTORY = ("completed",)  # statuses a fresh install does not read from the beginning of time


def _windows(statuses: tuple[str, ...], since: str | None, recent: str) -> list[tuple[tuple[str, ...], str | None]]:
    """(statuses, modified after) of each listing this poll makes."""
    if since is not None or not any(s in HISTORY for s in statuses):
        return [(statuses, since)]
    current = tuple(s for s in statuses if s not in HISTORY)
    history = tuple(s for s in statuses if s in HISTORY)
    return [(w, after) for w, after in ((current, None), (history, recent)) if w]


def run(s, enqueue: Callable[[int], object]) -> dict:
    """One scheduled round for services `s`: poll the shop for orders in the imported statuses (and
    cancelled ones) and hand each one not settled to `enqueue(order_id)`; re-activate our webhooks that
    WooCommerce disabled; hand over the stock holds of imported orders the ERP now counts as reserved.
    Returns {"queued": n, "webhooks": check_webhooks' summary, "holds_handed_over": n}. Raises the
    ShopPort's and ErpAdapter's error families (the watermark then stays where it was)."""
    settings = s.settings
    queued = poll_orders(s.db, s.woo, statuses=settings.import_statuses + ("cancelled",),
                         overlap_seconds=settings.poll_overlap_seconds, enqueue=enqueue)
    hooks = check_webhooks(s.woo, settings.shim_url + "/webhooks/woocommerce", settings.woo_webhook_secret)
    handed_over = holds.recheck(s.db, s.erp)  # imported orders the ERP had not counted as reserved yet
    return {"queued": queued, "webhooks": hooks, "holds_handed_over": handed_over}


def poll_orders(db: Database, woo, *, statuses: tuple[str, ...], overlap_seconds: float,
                enqueue: Callable[[int], object]) -> int:
    """List the shop's orders (ShopPort.list_orders) in `statuses` modified since the watermark less
    `overlap_seconds`, hand each one not settled to `enqueue(order_id)` (a sale never seen is held first,
    connector/holds.py) and move the watermark (SyncCursor "orders", ISO UTC) to the newest order seen,
    held back by the oldest one still open and never past this run's start. Returns how many were
    handed over. Raises the ShopPort's error families before the watermark moves."""
    with db.session() as s:
        cursor = s.get(SyncCursor, STREAM) or SyncCursor(stream=STREAM)
        s.merge(cursor)
    since = None
    if cursor.watermark:
        since = format_ts(parse_ts(cursor.watermark) - timedelta(seconds=overlap_seconds))[:19]
    signpost = utcnow()
    # an order not yet through holds the watermark back, but not for ever: one that keeps failing is a
    # dead letter by then, and must not drag every later poll back with it
    hold_limit = format_ts((signpost - timedelta(seconds=12 * overlap_seconds)).replace(tzinfo=timezone.utc))[:19]
    newest, oldest_open, queued = cursor.watermark, None, 0
    recent = format_ts((signpost - timedelta(seconds=overlap_seconds)).replace(tzinfo=timezone.utc))[:19]
    listings = (orders for wanted, after in _windows(statuses, since, recent)
                for orders in woo_pages(lambda page, wanted=wanted, after=after: woo.list_orders(
                    modified_after=after, statuses=wanted, page=page), name="order poll"))
    for orders in listings:
        ids = [o["id"] for o in orders]
        with db.session() as s:
            known = {r.woo_order_id: r for r in s.scalars(select(OrderSync).where(OrderSync.woo_order_id.in_(ids)))}
        failed = dead_letters.open_for(db, [dead_letters.order_resource(i) for i in ids])
        for o in orders:
            row = known.get(o["id"])
            settled = dead_letters.order_resource(o["id"]) in failed or row is not None and (
                row.state in (st.CANCELLED, st.QUARANTINED, st.CONFLICT, st.GONE) or (
                    row.state in (st.WRITTEN_BACK, st.ATTENTION) and o.get("status") != "cancelled"
                    and row.woo_modified_gmt == o.get("date_modified_gmt")))  # changed since: follow it (order_life)
            modified = o.get("date_modified_gmt")
            if not settled:
                # a sale never seen holds from now on (the poll also lists cancelled orders: they hold nothing)
                if row is None and o.get("status") in statuses and o.get("status") != "cancelled":
                    holds.hold_on_arrival(db, o["id"], holds.demand(o))
                enqueue(o["id"])
                queued += 1
                if modified and modified > hold_limit and (oldest_open is None or modified < oldest_open):
                    oldest_open = modified
            if modified and (newest is None or modified > newest[:19]):
                newest = modified + "Z"
    with db.session() as s:
        row = s.get(SyncCursor, STREAM)
        if newest and parse_ts(newest) > parse_ts(format_ts(signpost)):
            newest = format_ts(signpost)  # never store a watermark past the run's start
        if oldest_open and newest and oldest_open + "Z" < newest:
            newest = oldest_open + "Z"  # an order not yet through stays inside the next poll's window
        row.watermark = newest
        row.last_success_at = utcnow()
    return queued
