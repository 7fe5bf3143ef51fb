"""The safety net for lost webhooks: list WooCommerce orders modified since the last poll (minus the
overlap) in the import statuses and in the statuses an order's life ends in (`cancelled`, `refunded`,
`trash`: WooCommerce lists trashed orders only when asked for `status=trash`), all in one listing, and
hand to `enqueue` each order `route` picks: a sale not yet through (imported as from `order.created`),
and an order bound to an ERP order that changed in the shop since we last read it (amended, refunded in
part or in full, cancelled, trashed or restored: the same import task follows it, connector/sync/order_life.py,
exactly as from `order.updated` / `order.deleted` / `order.restored`). An order never imported that the shop
ended (until the shop re-opens it into an import status: then it is a sale to import), quarantined and conflicting orders, orders with an open dead letter and orders gone from the shop
are left alone (a person decides). The watermark never passes an order that is not through.

The first poll (no watermark yet) reads every order in the imported statuses except `completed` ones, which
it reads from the last `overlap_seconds` only: a shop's history of completed orders is not ours to import,
while an order completed before its import right now (a virtual good, a fast shop) is. Likewise refunded
and trashed orders: only an order already bound to an ERP order is followed into them, and a fresh
install has none older than that.

`run` is the scheduled round: this poll, then the shop's webhooks re-activated where WooCommerce disabled
them, then the stock holds of imported orders handed over once the ERP counts them.
"""
from __future__ import annotations

from datetime import timedelta, timezone
from typing import Callable

from sqlalchemy import select

from connector import dead_letters, holds
from connector.db import Database, utcnow
from connector.models import OrderSync, StockHold, SyncCursor
from connector.paging import woo_pages
from connector.sync import order_state as st
from connector.sync.delta import format_ts, parse_ts
from connector.sync.order_life import ENDED
from connector.sync.webhook_setup import check_webhooks

STREAM = "orders"
HISTORY = ("completed", "refunded", "trash")  # statuses a fresh install does not read from the beginning of time
IMPORT, FOLLOW = "import", "follow"  # what `route` sends to the import task (None: nothing to do)
NOT_THROUGH = st.NOT_IN_ERP - {st.SKIPPED, st.QUARANTINED} | {st.IN_ERP}  # on its way into the ERP
WAITING = (st.QUARANTINED, st.CONFLICT, st.GONE)  # for a person, whatever the shop does


def route(row: OrderSync | None, order: dict, *, import_statuses: tuple[str, ...], dead_letter: bool,
          held: bool = False) -> str | None:
    """What the poll does with one listed order (`row`: our record of it, if any; `held`: it holds stock):
    - IMPORT: a sale in an import status not yet through (never seen, skipped before, cancelled in the shop
      before its import and re-opened since, or on its way), or one
      on its way (or holding stock from its arrival) that the shop ended since (the import task cancels it
      and releases its holds);
    - FOLLOW: an order bound to an ERP order (written back, cancelled or in attention) whose
      `date_modified_gmt` moved since the last run read it: amendment, refund, cancel, trash or restore;
    - None: nothing new, not ours (never imported and ended in the shop), or waiting for a person."""
    status, modified = order.get("status"), order.get("date_modified_gmt")
    if dead_letter or row is not None and row.state in WAITING:
        return None
    if row is None:
        return IMPORT if status in import_statuses or held and status in ENDED else None
    if row.state in st.FOLLOWED and (row.erp_order_id or row.state != st.CANCELLED):
        return FOLLOW if row.woo_modified_gmt != modified else None
    if row.state in NOT_THROUGH:
        return IMPORT if status in import_statuses or status in ENDED else None
    if row.state == st.SKIPPED:
        return IMPORT if status in import_statuses else None
    if row.state == st.CANCELLED:  # ended before import (no ERP order): imported if the shop re-opened it
        return IMPORT if status in import_statuses else None
    return None


def _holding(db: Database, ids: list[int]) -> set[int]:
    """Which of these orders hold stock (held on arrival by a webhook whose task never ran)."""
    if not ids:
        return set()
    with db.session() as s:
        return set(s.scalars(select(StockHold.woo_order_id).where(StockHold.woo_order_id.in_(ids)).distinct()))


def _windows(statuses: tuple[str, ...], since: str | None, recent: str) -> list[tuple[tuple[str, ...], str | None]]:
    """(statuses, modified after) of each listing this poll makes."""
    if since is not None or not any(s in HISTORY for s in statuses):
        return [(statuses, since)]
    current = tuple(s for s in statuses if s not in HISTORY)
    history = tuple(s for s in statuses if s in HISTORY)
    return [(w, after) for w, after in ((current, None), (history, recent)) if w]


def run(s, enqueue: Callable[[int], object]) -> dict:
    """One scheduled round for services `s`: poll the shop for orders in the imported statuses (and the
    ends of an order's life: cancelled, refunded, trash) and hand each one `route` picks to
    `enqueue(order_id)`; re-activate our webhooks that WooCommerce disabled; hand over the stock holds of
    imported orders the ERP now counts as reserved.
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
    """List the shop's orders (ShopPort.list_orders) in the import `statuses` and in cancelled, refunded
    and trash (one listing) modified since the watermark less `overlap_seconds`, hand each one `route`
    picks to `enqueue(order_id)` (a sale never seen is held first, connector/holds.py) and move the
    watermark (SyncCursor "orders", ISO UTC) to the newest order seen, held back by the oldest one still
    open and never past this run's start. Returns how many were handed over. Raises the ShopPort's error
    families before the watermark moves."""
    import_statuses = tuple(s for s in statuses if s not in ENDED)
    statuses = import_statuses + ENDED
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
    newest, oldest_open, queued, seen = cursor.watermark, None, 0, set()
    recent = format_ts((signpost - timedelta(seconds=overlap_seconds)).replace(tzinfo=timezone.utc))[:19]
    listings = (orders for wanted, after in _windows(statuses, since, recent)
                for orders in woo_pages(lambda page, wanted=wanted, after=after: woo.list_orders(
                    modified_after=after, statuses=wanted, page=page), name="order poll"))
    for orders in listings:
        ids = [o["id"] for o in orders]
        with db.session() as s:
            known = {r.woo_order_id: r for r in s.scalars(select(OrderSync).where(OrderSync.woo_order_id.in_(ids)))}
        failed = dead_letters.open_for(db, [dead_letters.order_resource(i) for i in ids])
        held = _holding(db, [o["id"] for o in orders if o["id"] not in known and o.get("status") in ENDED])
        for o in orders:
            row = known.get(o["id"])
            way = route(row, o, import_statuses=import_statuses,
                        dead_letter=dead_letters.order_resource(o["id"]) in failed, held=o["id"] in held)
            modified = o.get("date_modified_gmt")
            if way is not None and o["id"] not in seen:  # seen: listed twice when its status moved meanwhile
                seen.add(o["id"])
                if row is None and way == IMPORT and o.get("status") in import_statuses:  # a sale never seen holds
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
