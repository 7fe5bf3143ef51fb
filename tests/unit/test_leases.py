"""Named leases (connector/leases.py): one holder at a time, taken over only once expired, renewed by
their owner. Every order import takes two, so they are written with as few statements as possible."""
from __future__ import annotations

import pytest

from connector import leases
from connector.errors import TransientError


def test_a_held_lease_turns_others_away_until_released(db):
    assert leases.acquire(db, "order:1", "a", 60)
    assert not leases.acquire(db, "order:1", "b", 60)
    with pytest.raises(TransientError, match="being worked on elsewhere"):
        with leases.held(db, "order:1", 60):
            pass
    leases.release(db, "order:1", "a")
    assert leases.acquire(db, "order:1", "b", 60)


def test_an_expired_lease_is_taken_over_and_its_old_owner_cannot_release_it(db):
    assert leases.acquire(db, "stream:products", "dead", -1)  # already expired: its holder died
    assert leases.acquire(db, "stream:products", "alive", 60)
    leases.release(db, "stream:products", "dead")  # the dead owner's release frees nothing
    assert not leases.acquire(db, "stream:products", "third", 60)


def test_the_owner_renews_its_own_lease(db):
    assert leases.acquire(db, "parent:P1", "a", 60)
    assert leases.acquire(db, "parent:P1", "a", 60)  # a renewal, not a refusal
    assert not leases.acquire(db, "parent:P1", "b", 60)


def test_held_releases_on_the_way_out_even_after_an_error(db):
    with pytest.raises(ValueError):
        with leases.held(db, "order:2", 60):
            raise ValueError("boom")
    assert leases.wait_free(db, "order:2", timeout=0)



def test_waiting_for_the_holder_to_let_go_does_not_wait_for_the_next_holder(db, monkeypatch):
    """A product poll waits for the stock poll in progress, not for a gap between stock polls that follow
    each other (the next one takes the lease as soon as the last lets go)."""
    import time
    from types import SimpleNamespace
    assert leases.acquire(db, "stream:inventory", "run-1", 60)
    assert not leases.wait_let_go(db, "stream:inventory", timeout=0)  # run-1 still holds it
    handovers = []

    def between_two_looks(_seconds):  # while the waiter pauses, run-1 ends and run-2 starts at once
        if not handovers:
            leases.release(db, "stream:inventory", "run-1")
            handovers.append(leases.acquire(db, "stream:inventory", "run-2", 60))
    monkeypatch.setattr(leases, "time", SimpleNamespace(monotonic=time.monotonic, sleep=between_two_looks))
    assert leases.wait_let_go(db, "stream:inventory", timeout=30)
    assert handovers == [True]
    assert not leases.wait_let_go(db, "stream:inventory", timeout=0)  # run-2 holds it now
    leases.release(db, "stream:inventory", "run-2")
    assert leases.wait_let_go(db, "stream:inventory", timeout=0)  # nobody holds it
