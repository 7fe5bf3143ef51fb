"""The fleet's health at a glance, for `wooerp status` and the shim's `GET /status`.

Reads only: mapped record counts, order states, open dead letters and quarantine, per-stream sync
progress and lag (now − watermark), queue lengths (passed in: the broker is not the domain's business)
and the shop's webhooks pointing at us (one WooCommerce call; a disabled webhook is reported).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select

from connector import binding, dead_letters, holds
from connector.db import Database, utcnow
from connector.display import one_line
from connector.errors import SyncError
from connector.models import OrderSync, SyncCursor
from connector.sync.delta import parse_ts
from connector.sync.order_state import ATTENTION, CONFLICT, QUARANTINED


def collect(db: Database, woo, *, delivery_url: str, queue_lengths: dict[str, int]) -> dict:
    """The fleet's health as a JSON-able dict: "mapped" and "quarantined" records (orders in state quarantined:
    their data is wrong), "needs_a_person" (orders in attention or conflict), "orders" per state (every state),
    "stock_held", "dead_letters" (open count, the 5 newest), "streams" (watermark, lag, progress, last
    error per delta stream), "queues" (`queue_lengths` as given) and "webhooks" of the shop pointing at
    `delivery_url` (those not active listed; {"error": …} when the shop cannot be read: never raises for it).
    Database reads and one shop call."""
    now = utcnow()
    mapped, quarantined = binding.counts(db)
    with db.session() as s:
        orders = dict(s.execute(select(OrderSync.state, func.count()).group_by(OrderSync.state)).all())
    streams = {p.stream: {"last_success_at": p.last_success_at.isoformat() + "Z" if p.last_success_at else None,
                          "watermark": p.watermark,
                          "lag_seconds": round(p.lag_seconds, 1) if p.lag_seconds is not None else None,
                          "in_progress": p.in_progress, "last_error": p.last_error}
               for p in stream_progress(db, now)}
    letters = dead_letters.listing(db)
    return {
        "mapped": mapped,
        "orders": orders,
        "stock_held": holds.totals(db),  # sold in the shop, not yet reserved by the ERP
        "quarantined": {"orders": orders.get(QUARANTINED, 0), **quarantined},
        "needs_a_person": {"attention": orders.get(ATTENTION, 0), "conflict": orders.get(CONFLICT, 0)},
        "dead_letters": {"open": len(letters),
                         "recent": [{"id": d.id, "task": d.task_name, "error": one_line(f"{d.exc_type}: {d.exc_message}", 160),
                                     "at": d.created_at.isoformat() + "Z"} for d in letters[-5:]]},
        "streams": streams,
        "queues": queue_lengths,
        "webhooks": _webhooks(woo, delivery_url),
    }


@dataclass(frozen=True)
class StreamProgress:
    """One delta stream's progress: its watermark (ERP ISO timestamp), lag, when its last complete poll ended,
    whether a poll is part-way (a checkpoint is stored) and the last error."""
    stream: str
    watermark: str | None
    lag_seconds: float | None  # now − watermark: how old the newest change synced is
    last_success_at: datetime | None  # naive UTC, end of the last complete poll
    in_progress: bool
    last_error: str | None

    @property
    def last_success_epoch(self) -> float | None:
        """`last_success_at` as Unix seconds (for Prometheus), None before the first complete poll."""
        return self.last_success_at.replace(tzinfo=timezone.utc).timestamp() if self.last_success_at else None


def stream_progress(db: Database, now: datetime | None = None) -> list[StreamProgress]:
    """Each delta stream's cursor and lag (also served as Prometheus gauges by the keeper)."""
    now = now or utcnow()
    with db.session() as s:
        return [StreamProgress(c.stream, c.watermark,
                               now.replace(tzinfo=timezone.utc).timestamp() - parse_ts(c.watermark).timestamp()
                               if c.watermark else None,
                               c.last_success_at, c.page_cursor is not None, c.last_error)
                for c in s.scalars(select(SyncCursor).order_by(SyncCursor.stream))]


def _webhooks(woo, delivery_url: str) -> dict:
    try:
        hooks = [w for w in woo.list_webhooks() if w.get("delivery_url") == delivery_url]
    except SyncError as e:
        return {"error": str(e)[:200]}
    return {"count": len(hooks), "not_active": [{"id": w["id"], "topic": w.get("topic"), "status": w.get("status")}
                                                for w in hooks if w.get("status") != "active"]}
