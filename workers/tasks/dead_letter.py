"""Tasks of the `dead_letter` queue, run by the keeper worker.

`keep` shows one durable dead letter in Flower: while the letter is open it fails with the failed task's
error and traceback (Flower: state FAILURE, the letter's task, args and kwargs); once it is replayed or
discarded it succeeds with the resolution. `watch` (beat) requeues tasks whose worker died, re-announces
letters that never reached the keeper and warns when the number of open letters grows.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from connector import dead_letters
from connector.broker import redis_client
from connector.db import utcnow
from connector.logs import event
from workers import metrics, stuck
from workers.announce import announce
from workers.app import app
from workers.base import SyncTask

log = logging.getLogger("wooerp.dead_letters")


class DeadLetterOpen(Exception):
    """The keeper's failure, so that Flower shows an open letter with the failed task's own traceback."""

    def __init__(self, summary: str, original_traceback: str = ""):
        super().__init__(summary, original_traceback)

    def __str__(self) -> str:
        summary, tb = self.args
        return f"{summary}\n\nTraceback of the failed task:\n{tb}" if tb else summary

    def __repr__(self) -> str:
        return f"DeadLetterOpen({self.args[0]!r})"


class Keeper(SyncTask):
    throws = (DeadLetterOpen,)  # expected: logged without a second traceback
    records_dead_letters = False

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """The failure is the display; the letter itself is already durable, so nothing is dead-lettered."""


@app.task(name="wooerp.dead_letter.keep", bind=True, base=Keeper)
def keep(self, letter_id: int, failed_task: str = "", task_args=None, task_kwargs=None, queue: str | None = None,
         error: str = "") -> dict:
    letter = dead_letters.mark_announced(self.services.db, int(letter_id))
    if letter is None:
        return {"letter_id": letter_id, "status": "missing"}
    if letter.status == dead_letters.OPEN:
        raise DeadLetterOpen(f"dead letter {letter.id}: {letter.task_name} failed: {letter.exc_type}: "
                             f"{letter.exc_message[:500]}", letter.traceback or "")
    return {"letter_id": letter.id, "status": letter.status, "resolution": letter.resolution,
            "resolved_by": letter.resolved_by, "resolved_at": str(letter.resolved_at)}


@app.task(name="wooerp.dead_letter.watch", bind=True)
def watch(self) -> dict:
    settings, db = self.services.settings, self.services.db
    requeued = stuck.requeue_orphans(app, settings.stuck_task_seconds)
    lost = dead_letters.unannounced(db, utcnow() - timedelta(seconds=2 * settings.watch_seconds))
    for letter in lost:
        announce(app, db, letter.id)
    counts = metrics.failure_counts(db)
    _warn_if_growing(settings.broker_url, counts["dead_letters_open"])
    return {**counts, "requeued_stuck_tasks": [r["task_id"] for r in requeued],
            "reannounced_letters": [letter.id for letter in lost]}


def _warn_if_growing(broker_url: str, open_now: int) -> None:
    before = redis_client(broker_url).getset("wooerp:dead_letters:open_seen", open_now)
    before = int(before) if before is not None else 0
    if open_now > before:
        event(log, "dead letters growing", logging.WARNING, open=open_now, new=open_now - before,
              hint="make dead-letters")
