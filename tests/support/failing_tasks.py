"""Tasks that misbehave on purpose, for the dead-letter tests only. Production never imports this module:
a test worker loads it with `celery worker --include tests.support.failing_tasks` (tests.support.messages).

Each task counts its runs in Redis under the key the test passes, so a test can tell how often it ran.
"""
from __future__ import annotations

import os
import signal
import time

from connector.broker import redis_client
from connector.errors import PermanentError
from workers.app import app
from workers.base import SyncTask


def bump(key: str) -> int:
    client = redis_client(app.wooerp_settings.broker_url)
    n = client.incr(key)
    client.expire(key, 3600)
    return n


@app.task(name="wooerp.test.kill_own_worker", bind=True)
def kill_own_worker(self, key: str) -> None:
    """Like a segfault or the OOM killer: the worker process dies while running this, every time."""
    bump(key)
    os.kill(os.getpid(), signal.SIGKILL)


class DiesBeforeAnnouncing(SyncTask):
    def announce_dead_letter(self, letter_id: int) -> None:
        if bump(f"{self.request.id}:announce") == 1:  # the letter is recorded; the message is not acked
            os.kill(os.getpid(), signal.SIGKILL)
        super().announce_dead_letter(letter_id)


@app.task(name="wooerp.test.fail_and_die_before_announcing", bind=True, base=DiesBeforeAnnouncing)
def fail_and_die_before_announcing(self, key: str) -> None:
    bump(key)
    raise PermanentError("the ERP refused it for good")


@app.task(name="wooerp.test.slow_first_time", bind=True)
def slow_first_time(self, key: str, seconds: float) -> str:
    """Hangs on its first run (long enough for its worker to be killed), finishes on the next."""
    if bump(key) == 1:
        time.sleep(seconds)
    redis_client(app.wooerp_settings.broker_url).set(f"{key}:done-by", self.request.hostname, ex=3600)
    return self.request.hostname


@app.task(name="wooerp.test.refused_for_good", bind=True)
def refused_for_good(self, order_id: int) -> None:
    raise PermanentError(f"the ERP refused order {order_id}: customer account is blocked")


@app.task(name="wooerp.test.refused_until_fixed", bind=True)
def refused_until_fixed(self, key: str) -> None:
    client = redis_client(app.wooerp_settings.broker_url)
    if not client.get(f"{key}:fixed"):
        raise PermanentError(f"{key} is refused until it is fixed")
    client.set(f"{key}:done", self.request.id, ex=3600)
