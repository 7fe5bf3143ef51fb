"""The safety net for lost webhooks: list WooCommerce orders modified since the last poll (minus the
overlap) in the given statuses, and hand every one not yet settled to `enqueue` (an imported order
that was cancelled in the shop since is not settled: its ERP order must be cancelled too).
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
            known = {r.woo_order_id: r for r in s.scalars(select(OrderSync).where(OrderSync.woo_order_id.in_(ids)))}
        for o in orders:
            row = known.get(o["id"])
            settled = row is not None and (row.state == st.CANCELLED or (
                row.state == st.WRITTEN_BACK and o.get("status") != "cancelled"))
            if not settled:
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
