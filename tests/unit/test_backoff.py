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
