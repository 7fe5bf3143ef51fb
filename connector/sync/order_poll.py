"""The safety net for lost webhooks: list WooCommerce orders modified since the last poll (minus the
overlap) in an importable status, and hand every one not yet done to `enqueue`.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from connector.db import Database, utcnow
from connector.models import OrderSync, SyncCursor
from connector.sync import order_state as st
from connector.sync.delta import format_ts, parse_ts

STREAM = "orders"


def poll_orders(db: Database, woo, *, statuses: tuple[str, ...], overlap_seconds: float, enqueue) -> int:
    with db.session() as s:
        cursor = s.get(SyncCursor, STREAM) or SyncCursor(stream=STREAM)
        s.merge(cursor)
    since = None
    if cursor.watermark:
        since = format_ts(parse_ts(cursor.watermark) - timedelta(seconds=overlap_seconds))[:19]
    signpost = utcnow()
    newest, queued, page = cursor.watermark, 0, 1
    while True:
        orders, pages = woo.list_orders(modified_after=since, statuses=statuses, page=page)
        ids = [o["id"] for o in orders]
        with db.session() as s:
            done = set(s.scalars(select(OrderSync.woo_order_id).where(OrderSync.woo_order_id.in_(ids),
                                                                       OrderSync.state.in_(st.DONE))))
        for o in orders:
            if o["id"] not in done:
                enqueue(o["id"])
                queued += 1
            modified = o.get("date_modified_gmt")
            if modified and (newest is None or modified > newest[:19]):
                newest = modified + "Z"
        if page >= pages or not orders:
            break
        page += 1
    with db.session() as s:
        row = s.get(SyncCursor, STREAM)
        if newest and parse_ts(newest) > parse_ts(format_ts(signpost)):
            newest = format_ts(signpost)  # never store a watermark past the run's start
        row.watermark = newest
        row.last_success_at = utcnow()
    return queued
