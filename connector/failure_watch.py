"""The failure watch, run by beat every FAILURE_WATCH_SECONDS: nothing failed stays unseen.

Messages whose worker died are handed back to their queue, dead letters that never reached the keeper
are announced again, and a growing number of open dead letters is logged once per growth (WARNING
"dead letters growing"; the last count seen is kept in Redis under OPEN_SEEN_KEY for the whole fleet).
How a stuck message is found and requeued, and how a letter is announced, is the caller's (the broker
and the keeper are Celery's business): `requeue_stuck` and `announce` callbacks.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Callable

from connector import dead_letters, quarantine
from connector.broker import redis_client
from connector.db import Database, utcnow
from connector.logs import event

log = logging.getLogger("wooerp.dead_letters")
OPEN_SEEN_KEY = "wooerp:dead_letters:open_seen"


def failure_counts(db: Database) -> dict[str, int]:
    """Dead letters by status and quarantined records by kind: {"dead_letters_open", "dead_letters_replayed",
    "dead_letters_discarded", "quarantined_orders", "quarantined_products"}, each an int."""
    letters = dead_letters.counts(db)
    held = quarantine.counts(db)
    return {"dead_letters_open": letters[dead_letters.OPEN], "dead_letters_replayed": letters[dead_letters.REPLAYED],
            "dead_letters_discarded": letters[dead_letters.DISCARDED],
            "quarantined_orders": held["order"], "quarantined_products": held["product"]}


def watch(db: Database, broker_url: str, *, lost_after_seconds: float, requeue_stuck: Callable[[], list[dict]],
          announce: Callable[[int], object]) -> dict:
    """One round: `requeue_stuck()` → the messages it requeued (dicts with a "task_id"); every open letter
    recorded more than `lost_after_seconds` ago and never announced goes to `announce(letter_id)`; the open
    count is compared with the last one seen. Returns failure_counts plus "requeued_stuck_tasks" (task ids)
    and "reannounced_letters" (letter ids). Raises sqlalchemy and redis errors when either is down."""
    requeued = requeue_stuck()
    lost = dead_letters.unannounced(db, utcnow() - timedelta(seconds=lost_after_seconds))
    for letter in lost:
        announce(letter.id)
    counts = failure_counts(db)
    warn_if_growing(broker_url, counts["dead_letters_open"])
    return {**counts, "requeued_stuck_tasks": [r["task_id"] for r in requeued],
            "reannounced_letters": [letter.id for letter in lost]}


def warn_if_growing(broker_url: str, open_now: int) -> None:
    """Log "dead letters growing" (WARNING, with the new count and the growth) when `open_now` is above
    the count the previous round saw; store `open_now` as the count seen."""
    before = redis_client(broker_url).getset(OPEN_SEEN_KEY, open_now)
    before = int(before) if before is not None else 0
    if open_now > before:
        event(log, "dead letters growing", logging.WARNING, open=open_now, new=open_now - before,
              hint="make dead-letters")
