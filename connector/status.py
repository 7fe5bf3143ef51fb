"""The fleet's health at a glance, for `wooerp status` and the shim's `GET /status`.

Reads only: mapped record counts, order states, open dead letters and quarantine, per-stream sync
progress and lag (now − watermark), queue lengths (passed in: the broker is not the domain's business)
and the shop's webhooks pointing at us (one WooCommerce call; a disabled webhook is reported).
"""
from __future__ import annotations

from sqlalchemy import func, select

from connector import dead_letters
from connector.db import Database, utcnow
from connector.errors import SyncError
from connector.models import EntityMapping, OrderSync, SyncCursor
from connector.sync.delta import parse_ts


def collect(db: Database, woo, *, delivery_url: str, queue_lengths: dict[str, int]) -> dict:
    now = utcnow()
    with db.session() as s:
        mapped = dict(s.execute(select(EntityMapping.entity_type, func.count())
                                .where(EntityMapping.woo_id.is_not(None)).group_by(EntityMapping.entity_type)).all())
        quarantined = dict(s.execute(select(EntityMapping.entity_type, func.count())
                                     .where(EntityMapping.quarantine_reason.is_not(None))
                                     .group_by(EntityMapping.entity_type)).all())
        orders = dict(s.execute(select(OrderSync.state, func.count()).group_by(OrderSync.state)).all())
        streams = {}
        for c in s.scalars(select(SyncCursor)):
            lag = (now.timestamp() - parse_ts(c.watermark).timestamp()) if c.watermark else None
            streams[c.stream] = {"last_success_at": c.last_success_at.isoformat() + "Z" if c.last_success_at else None,
                                 "watermark": c.watermark, "lag_seconds": round(lag, 1) if lag is not None else None,
                                 "in_progress": c.page_cursor is not None, "last_error": c.last_error}
    letters = dead_letters.listing(db)
    return {
        "mapped": mapped,
        "orders": orders,
        "quarantined": {"orders": orders.get("quarantined", 0) + orders.get("conflict", 0), **quarantined},
        "dead_letters": {"open": len(letters),
                         "recent": [{"id": d.id, "task": d.task_name, "error": f"{d.exc_type}: {d.exc_message[:120]}",
                                     "at": d.created_at.isoformat() + "Z"} for d in letters[-5:]]},
        "streams": streams,
        "queues": queue_lengths,
        "webhooks": _webhooks(woo, delivery_url),
    }


def _webhooks(woo, delivery_url: str) -> dict:
    try:
        hooks = [w for w in woo.list_webhooks() if w.get("delivery_url") == delivery_url]
    except SyncError as e:
        return {"error": str(e)[:200]}
    return {"count": len(hooks), "not_active": [{"id": w["id"], "topic": w.get("topic"), "status": w.get("status")}
                                                for w in hooks if w.get("status") != "active"]}
