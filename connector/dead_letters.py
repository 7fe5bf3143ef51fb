"""Durable dead letters: tasks that failed for good, kept in the database beyond any Redis restart.

A letter is unique per (task id, attempt key), so a worker that dies between recording the letter and
acknowledging the message cannot produce a second one. Replays and discards are audited on the row
(when, by whom, what and why). `announced_at` says when the keeper showed the letter in Flower.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from connector.db import Database, utcnow
from connector.models import DeadLetter

OPEN, REPLAYED, DISCARDED = "open", "replayed", "discarded"
IMPORT_ORDER_TASK = "wooerp.orders.import_order"
UNDECODABLE = "undecodable:"  # attempt-key prefix of messages whose body could not be read: nothing to replay


@dataclass
class Letter:
    """A dead letter to record: the failed task (id, name, args, kwargs, queue), `attempt_key` (what makes this
    failure unique for the task id), the correlation id, how many retries it had, the exception's type,
    message and traceback, and `resource`, what it was about ("order 42", "SKU …"; one open letter each)."""
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
    resource: str | None = None  # what the task was about: order_resource(id), "SKU …"


def order_resource(order_id: int) -> str:
    """The `resource` of a letter about shop order `order_id`: "order 42"."""
    return f"order {int(order_id)}"


def open_for(db: Database, resources: list[str]) -> dict[str, DeadLetter]:
    """The open letter of each resource that has one (the oldest, should there be several)."""
    if not resources:
        return {}
    with db.session() as s:
        rows = s.scalars(select(DeadLetter).where(DeadLetter.resource.in_(resources), DeadLetter.status == OPEN)
                         .order_by(DeadLetter.id.desc()))
        return {row.resource: row for row in rows}


def record(db: Database, letter: Letter) -> tuple[int, bool]:
    """Store a letter; (id, True) if new, (id of the existing one, False) if it was already stored.
    A resource (an order) has at most one open letter: a second failure of it returns the open one."""
    if letter.resource:
        held = open_for(db, [letter.resource]).get(letter.resource)
        if held is not None:
            return held.id, False
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
    """Letters (detached rows, oldest id first) with `status` (None: any), a `task` name containing the text,
    created at or after `since` (naive UTC), and among `ids` when given."""
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


def task_names(db: Database) -> set[str]:
    """Every task name a letter was recorded for."""
    with db.session() as s:
        return set(s.scalars(select(DeadLetter.task_name).distinct()))


def get(db: Database, letter_id: int) -> DeadLetter | None:
    """The letter with id `letter_id` (a detached row), or None."""
    with db.session() as s:
        return s.get(DeadLetter, letter_id)


def replayable(letter: DeadLetter) -> bool:
    """False for a letter whose message body could not be decoded: there is no task to send again."""
    return not letter.attempt_key.startswith(UNDECODABLE)


def find(db: Database, task_id: str, attempt_key: str) -> DeadLetter | None:
    """The letter of (`task_id`, `attempt_key`), or None."""
    with db.session() as s:
        return s.scalar(select(DeadLetter).where(DeadLetter.task_id == task_id,
                                                 DeadLetter.attempt_key == attempt_key))


def claim_for_replay(db: Database, letter_id: int, new_task_id: str, by: str | None = None,
                     reason: str | None = None) -> bool:
    """Mark an open letter replayed with the new task id; False if it is not open (replay is idempotent)."""
    with db.session() as s:
        row = s.get(DeadLetter, letter_id, with_for_update=not db.is_sqlite)
        if row is None or row.status != OPEN:
            return False
        row.status, row.replay_task_id, row.resolved_at, row.resolved_by = REPLAYED, new_task_id, utcnow(), by
        row.resolution = f"replayed as task {new_task_id}" + (f": {reason}" if reason else "")
        return True


def reopen(db: Database, letter_id: int) -> None:
    """Undo a replay claim whose publish failed."""
    with db.session() as s:
        row = s.get(DeadLetter, letter_id)
        row.status, row.replay_task_id, row.resolved_at, row.resolution, row.resolved_by = OPEN, None, None, None, None


def discard(db: Database, letter_id: int, reason: str, by: str | None = None) -> bool:
    """Close an open letter as discarded, with `reason` and `by` audited on the row, and release the stock holds
    of its order if it is an order import (one transaction, committed). False if the letter is not open."""
    with db.session() as s:
        row = s.get(DeadLetter, letter_id, with_for_update=not db.is_sqlite)
        if row is None or row.status != OPEN:
            return False
        row.status, row.resolved_at, row.resolution, row.resolved_by = DISCARDED, utcnow(), f"discarded: {reason}", by
        if row.task_name == IMPORT_ORDER_TASK and row.args and str(row.args[0]).isdigit():
            from connector import holds  # the order is given up: its stock holds go (connector/holds.py)
            holds.release(s, int(row.args[0]))
        return True


def mark_announced(db: Database, letter_id: int) -> DeadLetter | None:
    """The keeper has shown this letter in Flower; returns the current row."""
    with db.session() as s:
        row = s.get(DeadLetter, letter_id)
        if row is not None and row.announced_at is None:
            row.announced_at = utcnow()
        return row


def unannounced(db: Database, older_than: datetime) -> list[DeadLetter]:
    """Open letters recorded before `older_than` that never reached the keeper (lost publish or dead worker)."""
    with db.session() as s:
        return list(s.scalars(select(DeadLetter).where(DeadLetter.status == OPEN, DeadLetter.announced_at.is_(None),
                                                       DeadLetter.created_at < older_than).order_by(DeadLetter.id)))


def counts(db: Database) -> dict[str, int]:
    """Letters per status, every status present (0 when none)."""
    with db.session() as s:
        found = dict(s.execute(select(DeadLetter.status, func.count()).group_by(DeadLetter.status)).all())
    return {status: found.get(status, 0) for status in (OPEN, REPLAYED, DISCARDED)}
