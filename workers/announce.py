"""Announce a durable dead letter on the `dead_letter` queue, where the keeper shows it in Flower.

One letter, one keeper task id: announcing a letter twice (a worker died before its ack, the watch
re-announced a lost one, a replay or discard updates it) runs the keeper again under the same id, so
Flower keeps one row per letter, whose state follows the letter (FAILURE while open, SUCCESS once closed).
"""
from __future__ import annotations

from connector import dead_letters
from connector.db import Database

KEEP = "wooerp.dead_letter.keep"


def keeper_task_id(letter_id: int, task_id: str) -> str:
    return f"dead-letter-{letter_id}-{task_id[:12]}"


def announce(app, db: Database, letter_id: int) -> str | None:
    """Publish the letter to the keeper; returns the keeper task id (None if there is no such letter)."""
    letter = dead_letters.get(db, letter_id)
    if letter is None:
        return None
    return app.send_task(
        KEEP, args=[letter.id], task_id=keeper_task_id(letter.id, letter.task_id),
        kwargs={"failed_task": letter.task_name, "task_args": letter.args, "task_kwargs": letter.kwargs,
                "queue": letter.queue, "error": f"{letter.exc_type}: {letter.exc_message[:500]}"},
        headers={"wooerp_cid": letter.correlation_id}).id
