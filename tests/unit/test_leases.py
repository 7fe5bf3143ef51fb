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
