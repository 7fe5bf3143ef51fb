"""The keeper's metric sources against a real Redis and database: task counters written by many processes
at once add up exactly, and every scrape-time gauge reads what is stored now; a source that fails is
reported as down without hiding the others."""
from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from connector import shop_access
from connector.db import utcnow
from connector.models import SyncCursor
from connector.settings import load
from connector.sync.delta import format_ts
from workers import metrics, task_metrics as tm

PROCESSES, RUNS = 4, 50


def samples(collector) -> dict[tuple, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(generate_latest(registry).decode())
            for s in family.samples}


def _runs(redis_url: str) -> None:
    client = tm.redis_client(redis_url)
    for i in range(RUNS):
        tm.record(client, "wooerp.orders.import_order", "success", 0.2, None)
        if i % 10 == 0:
            tm.record(client, "wooerp.orders.import_order", "retry", 3.0, ConnectionError("reset"))


@pytest.fixture
def clean_redis(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.delete(tm.TASKS, tm.ERRORS, tm.DURATION, "catalog", shop_access.COUNTS)
    yield client
    client.delete(tm.TASKS, tm.ERRORS, tm.DURATION, "catalog", shop_access.COUNTS)


def test_task_counts_of_processes_writing_at_once_add_up_exactly(redis_url, clean_redis):
    ctx = multiprocessing.get_context("fork")  # redis-py reconnects after a fork
    procs = [ctx.Process(target=_runs, args=(redis_url,)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    got = samples(tm.TaskCollector(redis_url))
    task = ("task", "wooerp.orders.import_order")
    assert got[("wooerp_tasks_total", (("outcome", "success"), task))] == PROCESSES * RUNS
    assert got[("wooerp_tasks_total", (("outcome", "retry"), task))] == PROCESSES * RUNS // 10
    assert got[("wooerp_task_errors_total", (("reason", "ConnectionError"), task))] == PROCESSES * RUNS // 10
    assert got[("wooerp_task_duration_seconds_count", (task,))] == PROCESSES * RUNS + PROCESSES * RUNS // 10
    assert got[("wooerp_task_duration_seconds_bucket", (("le", "0.25"), task))] == PROCESSES * RUNS
    assert got[("wooerp_task_duration_seconds_sum", (task,))] == pytest.approx(PROCESSES * RUNS * (0.2 + 0.3))


def test_the_keeper_serves_queues_streams_and_failures_as_stored_now_and_survives_a_broken_source(
        redis_url, db, clean_redis, monkeypatch):
    now = utcnow()
    with db.session() as s:
        s.add(SyncCursor(stream="products", watermark=format_ts(now - timedelta(seconds=600)),
                         last_success_at=now - timedelta(seconds=30)))
        s.add(SyncCursor(stream="inventory"))  # never polled: no samples rather than made-up ones
    clean_redis.rpush("catalog", "a", "b", "c")

    def broken(settings):
        raise_on_collect = type("Broken", (), {"collect": lambda self: 1 / 0})
        return raise_on_collect()
    monkeypatch.setitem(metrics.SOURCES, "broken", broken)
    settings = load({"REDIS_URL": redis_url, "DATABASE_URL": db.url})
    got = samples(metrics.FleetCollector(settings))
    since_stored = (utcnow() - now).total_seconds()  # the lag grew by as much while the test ran, no more

    assert got[("wooerp_queue_length", (("queue", "catalog"),))] == 3
    assert got[("wooerp_queue_length", (("queue", "orders"),))] == 0
    assert ("wooerp_unacked_tasks", ()) in got
    assert 600 <= got[("wooerp_sync_lag_seconds", (("stream", "products"),))] <= 600 + since_stored + 0.001
    last = got[("wooerp_stream_last_success_timestamp_seconds", (("stream", "products"),))]
    assert last == pytest.approx((now - timedelta(seconds=30)).timestamp() - _utc_offset(now), abs=0.01)
    assert not [k for k in got if ("stream", "inventory") in k[1]]
    assert got[("wooerp_dead_letters", (("status", "open"),))] == 0
    assert got[("wooerp_quarantined", (("kind", "order"),))] == 0
    assert got[("wooerp_woocommerce_access_denied_total", (("need", "write"),))] == 0  # none refused yet
    up = {k[1][0][1]: v for k, v in got.items() if k[0] == "wooerp_metrics_source_up"}
    assert up.items() >= {"tasks": 1, "queues": 1, "streams": 1, "failures": 1, "shop_access": 1,
                          "broken": 0}.items()


def _utc_offset(naive_utc) -> float:
    """naive.timestamp() reads the time as local; the gauge is true Unix time."""
    from datetime import timezone
    return naive_utc.timestamp() - naive_utc.replace(tzinfo=timezone.utc).timestamp()
