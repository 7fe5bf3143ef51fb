"""The retry delay of the task base: exponential with jitter, capped, and a remote side's Retry-After is
honoured (never retried sooner than asked, never later than the cap)."""
from __future__ import annotations

import pytest

from workers.base import backoff_seconds


@pytest.mark.parametrize("retries", range(8))
def test_delays_grow_exponentially_with_jitter_below_the_cap(retries):
    ceiling = min(300.0, 2.0 * 2 ** retries)
    delays = [backoff_seconds(retries, base=2.0, cap=300.0) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1  # jitter: workers retrying together do not stampede together


def test_retry_after_is_honoured_and_capped():
    assert all(30.0 <= backoff_seconds(0, base=2.0, cap=300.0, retry_after=30) <= 32.0 for _ in range(100))
    assert backoff_seconds(0, base=2.0, cap=60.0, retry_after=3600) == 60.0
    assert 0.0 <= backoff_seconds(5, base=2.0, cap=300.0, retry_after=-5) <= 2.0


def test_a_task_that_hits_a_rate_limit_is_retried_no_sooner_than_the_shop_asked(caplog):
    """The task base turns a TransientError's retry_after (a 429's Retry-After) into the retry countdown,
    with the configured base and cap, and retries until the task succeeds."""
    import logging

    from connector.errors import TransientError
    from workers.app import app
    answers = [TransientError("woo -> 429", status=429, retry_after=30), TransientError("woo -> 503", status=503)]

    @app.task(name="tests.backoff.flaky", bind=True)
    def flaky(self):
        if answers:
            raise answers.pop(0)
        return "done"
    try:
        with caplog.at_level(logging.WARNING, logger="wooerp.tasks"):
            assert flaky.apply().get() == "done"
    finally:
        app.tasks.unregister("tests.backoff.flaky")
    settings = app.wooerp_settings
    countdowns = [r.fields["countdown"] for r in caplog.records if r.getMessage() == "task will retry"]
    assert len(countdowns) == 2
    assert 30 <= countdowns[0] <= 30 + settings.retry_backoff_base  # Retry-After, plus jitter below the base
    assert settings.retry_backoff_base <= countdowns[1] <= 2 * settings.retry_backoff_base  # second try: base·2¹


def run_eagerly(name, body, **attributes):
    """Run a task built on the task base (retries happen at once in eager mode); the result and the
    countdowns it logged, by message."""
    import logging

    from workers.app import app
    task = app.task(name=name, bind=True, **attributes)(body)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("wooerp.tasks")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        result = task.apply()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        app.tasks.unregister(name)
    return result, records


def test_waiting_for_another_workers_lease_never_uses_up_the_retry_budget():
    # a duplicate delivery of an order whose import is in progress elsewhere waits for it: twice the
    # retry budget of waits, and the task still runs when the holder is done
    from connector.errors import Busy
    from workers.app import app
    budget = app.wooerp_settings.max_retries
    waits = [Busy("order:7 is being worked on elsewhere", retry_after=2)] * (2 * budget + 3)

    def duplicate(self):
        if waits:
            raise waits.pop()
        return "imported"
    result, records = run_eagerly("tests.backoff.duplicate", duplicate)
    assert result.get() == "imported"
    pauses = [r.fields["countdown"] for r in records if r.getMessage() == "task waits for the record's holder"]
    assert len(pauses) == 2 * budget + 3 and all(2 <= p <= 30 for p in pauses)


def test_failures_after_waits_still_get_the_whole_retry_budget_then_stop(db):
    from types import SimpleNamespace

    from connector import dead_letters
    from connector.errors import Busy, TransientError
    from workers.app import app
    from workers.base import use_services
    budget = app.wooerp_settings.max_retries
    answers = [Busy("parent T1 is being written by another chunk", retry_after=1)] * 5 + \
        [TransientError("erp -> 503", status=503)] * (budget + 3)
    calls = []

    def flaky(self):
        calls.append(1)
        raise answers.pop(0)
    use_services(SimpleNamespace(db=db))  # where the final failure's dead letter is written
    try:
        result, records = run_eagerly("tests.backoff.flaky_after_waits", flaky,
                                      announce_dead_letter=lambda self, letter_id: None)
    finally:
        use_services(None)
    with pytest.raises(TransientError):
        result.get()
    assert len(calls) == 5 + budget + 1  # five waits, the first try of the failures and `budget` retries
    assert len([r for r in records if r.getMessage() == "task will retry"]) == budget
    assert [(x.task_name, x.exc_type, x.retries) for x in dead_letters.listing(db)] == \
        [("tests.backoff.flaky_after_waits", "TransientError", 5 + budget)]
