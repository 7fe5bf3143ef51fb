"""Named leases in the database: a claim that only one holder has, and that expires if it dies.

Works on SQLite and PostgreSQL alike (a primary key plus a conditional UPDATE; no advisory locks).
"""
from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from connector.db import Database, utcnow
from connector.errors import Busy
from connector.models import Lease


def acquire(db: Database, name: str, owner: str, ttl_seconds: float) -> bool:
    """Take lease `name` for `owner` for `ttl_seconds`, or renew it if `owner` holds it; True on success, False
    while another owner holds it unexpired. Commits at once (its own transaction); never waits.
    One INSERT when nobody holds it (the usual case, since a holder deletes its row on release), else one
    conditional UPDATE that takes it over only if it expired or is ours. (SQLAlchemy Core: every order
    import takes two leases, profiled in bench/RESULTS.md.)"""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(Lease).values(name=name, owner=owner, expires_at=expires))
        return True
    except IntegrityError:
        pass
    with db.engine.begin() as conn:
        return bool(conn.execute(update(Lease).where(Lease.name == name,
                                                     or_(Lease.expires_at < now, Lease.owner == owner))
                                 .values(owner=owner, expires_at=expires)).rowcount)


def release(db: Database, name: str, owner: str) -> None:
    """Drop lease `name` if `owner` holds it (committed at once); a lease someone else took over is left alone."""
    with db.engine.begin() as conn:
        conn.execute(delete(Lease).where(Lease.name == name, Lease.owner == owner))


@contextmanager
def held(db: Database, name: str, ttl_seconds: float, busy_retry_after: float = 2.0):
    """Hold lease `name` for the block, or raise Busy (someone else holds it: try later)."""
    owner = uuid.uuid4().hex
    if not acquire(db, name, owner, ttl_seconds):
        raise Busy(f"{name} is being worked on elsewhere", retry_after=busy_retry_after)
    try:
        yield owner
    finally:
        release(db, name, owner)


def wait_free(db: Database, name: str, timeout: float, interval: float = 1.0) -> bool:
    """Wait until nobody holds a live lease `name`; False if it is still held after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with db.session() as s:
            live = s.scalar(select(Lease.name).where(Lease.name == name, Lease.expires_at >= utcnow()))
        if live is None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_let_go(db: Database, name: str, timeout: float, interval: float = 0.2) -> bool:
    """Wait until whoever holds lease `name` at the call has let it go (released it, let it expire, or lost
    it to a new holder, whose own run is not waited for); True at once when nobody holds it, False if the
    same holder still has it after `timeout` seconds. For "the run in progress has finished" when runs follow
    each other closely (a stream polled every few seconds is rarely free for long)."""
    def holder() -> str | None:
        with db.session() as s:
            return s.scalar(select(Lease.owner).where(Lease.name == name, Lease.expires_at >= utcnow()))
    first, deadline = holder(), time.monotonic() + timeout
    while first is not None and holder() == first:
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True

