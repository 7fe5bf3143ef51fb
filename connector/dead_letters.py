"""Durable dead letters: tasks that failed for good, kept in the database beyond any Redis restart.

A letter is unique per (task id, attempt key), so a worker that dies between recording the letter and
acknowledging the message cannot produce a second one. Replays and discards are audited on the row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connector.db import Database, utcnow
from connector.models import DeadLetter

OPEN, REPLAYED, DISCARDED = "open", "replayed", "discarded"


@dataclass
class Letter:
    task_id: str
    attempt_key: str
    task_name: str
    args: list
    kwargs: dict
    queue: str | None
    correlation_id: str | None
    retries: int
    exc_type: str
    exc_message: str
    traceback: str | None


def record(db: Database, letter: Letter) -> tuple[int, bool]:
    """Store a letter; (id, True) if new, (id of the existing one, False) if it was already stored."""
    try:
        with db.session() as s:
            row = DeadLetter(**letter.__dict__, status=OPEN, created_at=utcnow())
            s.add(row)
            s.flush()
            return row.id, True
    except IntegrityError:
        with db.session() as s:
            return s.scalar(select(DeadLetter.id).where(DeadLetter.task_id == letter.task_id,
                                                        DeadLetter.attempt_key == letter.attempt_key)), False


def listing(db: Database, *, status: str | None = OPEN, task: str | None = None,
            since: datetime | None = None, ids: list[int] | None = None) -> list[DeadLetter]:
    q = select(DeadLetter).order_by(DeadLetter.id)
    if status:
        q = q.where(DeadLetter.status == status)
    if task:
        q = q.where(DeadLetter.task_name.contains(task))
    if since:
        q = q.where(DeadLetter.created_at >= since)
    if ids:
        q = q.where(DeadLetter.id.in_(ids))
    with db.session() as s:
        return list(s.scalars(q))


def get(db: Database, letter_id: int) -> DeadLetter | None:
    with db.session() as s:
        return s.get(DeadLetter, letter_id)


def claim_for_replay(db: Database, letter_id: int, new_task_id: str) -> bool:
    """Mark an open letter replayed with the new task id; False if it is not open (replay is idempotent)."""
    with db.session() as s:
        row = s.get(DeadLetter, letter_id, with_for_update=not db.is_sqlite)
        if row is None or row.status != OPEN:
            return False
        row.status, row.replay_task_id, row.resolved_at = REPLAYED, new_task_id, utcnow()
        row.resolution = f"replayed as task {new_task_id}"
        return True


def reopen(db: Database, letter_id: int) -> None:
    """Undo a replay claim whose publish failed."""
    with db.session() as s:
        row = s.get(DeadLetter, letter_id)
        row.status, row.replay_task_id, row.resolved_at, row.resolution = OPEN, None, None, None


def discard(db: Database, letter_id: int, reason: str) -> bool:
    with db.session() as s:
        row = s.get(DeadLetter, letter_id)
        if row is None or row.status != OPEN:
            return False
        row.status, row.resolved_at, row.resolution = DISCARDED, utcnow(), f"discarded: {reason}"
        return True


def count_open(db: Database) -> int:
    return len(listing(db))
