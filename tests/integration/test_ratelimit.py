"""The fleet-wide rate limit: one token bucket in a real Redis, shared by separate processes."""
from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest
import responses

from connector import ratelimit
from connector.errors import TransientError
from connector.services import Services
from connector.settings import load
from tests.support.procs import free_port

RATE, BURST, SECONDS, PROCESSES = 10.0, 5.0, 3.0, 8


def _calls_for(redis_url: str, name: str, ready, results) -> None:
    """One process of the fleet: once every process is ready, call as fast as the limiter lets it."""
    limiter = ratelimit.bucket(redis_url, name, RATE, BURST)
    ready.wait()
    end, calls = time.time() + SECONDS, 0
    while True:
        limiter.acquire()
        if time.time() > end:
            break
        calls += 1
    results.put(calls)


def test_processes_sharing_a_bucket_make_burst_plus_rate_times_seconds_calls(redis_url):
    ctx = multiprocessing.get_context("spawn")
    ready, results, name = ctx.Barrier(PROCESSES), ctx.Queue(), f"test-{uuid.uuid4().hex}"
    procs = [ctx.Process(target=_calls_for, args=(redis_url, name, ready, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    counts = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    expected = BURST + RATE * SECONDS  # 35
    assert expected - 4 <= sum(counts) <= expected + 2, counts
    assert sum(1 for c in counts if c) >= PROCESSES // 2, counts  # served in turn, not one process hogging


def test_a_limited_adapter_waits_between_requests(redis_url):
    settings = load({"REDIS_URL": redis_url, "ERP_URL": "http://erp.test", "ERP_RATE_LIMIT": "10",
                     "ERP_RATE_BURST": "2"})
    erp = Services(settings).erp
    erp.limiter.key += uuid.uuid4().hex  # a fresh bucket, whatever earlier runs left in this Redis
    with responses.RequestsMock() as mock:
        mock.get("http://erp.test/api/v1/products/P1", json={"id": "P1"})
        began = time.monotonic()
        for _ in range(5):
            assert erp.get_product("P1") == {"id": "P1"}
        elapsed = time.monotonic() - began
    assert elapsed >= 0.28, elapsed  # 2 at once, then 3 more at 10/s


def test_rate_zero_means_no_limiter_and_the_burst_defaults_to_the_rate():
    services = Services(load({}))
    assert services.woo.limiter is None and services.erp.limiter is None
    assert ratelimit.bucket("redis://127.0.0.1:1/0", "x", 0, 1) is None
    limited = load({"WOO_RATE_LIMIT": "12.5", "ERP_RATE_LIMIT": "0.5"})
    assert (limited.woo_rate_burst, limited.erp_rate_burst) == (12.5, 1.0)
    assert Services(limited).woo.limiter.rate == 12.5


def test_an_unreachable_redis_is_a_transient_error():
    limiter = ratelimit.bucket(f"redis://127.0.0.1:{free_port()}/0", "x", 10, 5)
    with pytest.raises(TransientError, match="rate limiter"):
        limiter.acquire()
