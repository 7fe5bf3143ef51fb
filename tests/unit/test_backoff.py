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
