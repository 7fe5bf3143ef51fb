"""Tasks of the `dead_letter` queue, run by the keeper worker.

`keep` shows one durable dead letter in Flower: while the letter is open it fails with the failed task's
error and traceback (Flower: state FAILURE, the letter's task, args and kwargs); once it is replayed or
discarded it succeeds with the resolution. `watch` (beat) requeues tasks whose worker died, re-announces
letters that never reached the keeper and warns when the number of open letters grows.
"""
from __future__ import annotations

from connector import dead_letters, failure_watch
from workers import stuck
from workers.announce import announce
from workers.app import app
from workers.base import SyncTask


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
    db, settings = self.services.db, self.services.settings
    return failure_watch.watch(db, settings.broker_url, lost_after_seconds=2 * settings.watch_seconds,
                               requeue_stuck=lambda: stuck.requeue_orphans(app, settings.stuck_task_seconds),
                               announce=lambda letter_id: announce(app, db, letter_id))
