"""The worker fleet's Prometheus endpoint, served once, by the keeper (the worker consuming `dead_letter`),
on METRICS_ADDRESS:METRICS_PORT; METRICS_PORT=0 turns it off.

Everything is read when Prometheus scrapes, so one endpoint speaks for the whole fleet: task counters
and durations from Redis (workers.task_metrics), queue lengths from the broker, stream progress, dead
letters and quarantine from the database. A source that fails reports `wooerp_metrics_source_up 0`
instead of failing the scrape. To publish more, call `add_source(name, factory)` at import time of a
module the keeper loads; `factory(settings)` returns an object with `collect()`.
"""
from __future__ import annotations

import logging
from typing import Callable

from celery import signals

from connector import dead_letters, quarantine, status
from connector.db import Database
from connector.logs import event
from connector.settings import Settings
from connector.shop_access import AccessDeniedCollector
from workers.queues import DEAD_LETTER, queue_lengths
from workers.task_metrics import TaskCollector

log = logging.getLogger("wooerp.metrics")


class _DatabaseCollector:
    def __init__(self, database_url: str):
        self.database_url = database_url
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        self._db = self._db or Database(self.database_url)
        return self._db

    def describe(self):
        return []  # no I/O when registered


class FailureCollector(_DatabaseCollector):
    """wooerp_dead_letters{status} and wooerp_quarantined{kind}."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        letters = GaugeMetricFamily("wooerp_dead_letters", "Dead letters by status", labels=["status"])
        for state, n in dead_letters.counts(self.db).items():
            letters.add_metric([state], n)
        held = GaugeMetricFamily("wooerp_quarantined", "Records held back: kind order and product wait "
                                 "for a data fix, attention and conflict for a person", labels=["kind"])
        for kind, n in quarantine.counts(self.db).items():
            held.add_metric([kind], n)
        return [letters, held]


class StreamCollector(_DatabaseCollector):
    """wooerp_sync_lag_seconds{stream} (now − watermark) and wooerp_stream_last_success_timestamp_seconds."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        lag = GaugeMetricFamily("wooerp_sync_lag_seconds", "Now minus the stream's watermark (newest change synced)",
                                labels=["stream"])
        last = GaugeMetricFamily("wooerp_stream_last_success_timestamp_seconds",
                                 "Unix time of the stream's last complete poll", labels=["stream"])
        for p in status.stream_progress(self.db):
            if p.lag_seconds is not None:
                lag.add_metric([p.stream], p.lag_seconds)
            if p.last_success_at is not None:
                last.add_metric([p.stream], p.last_success_epoch)
        return [lag, last]


class QueueCollector:
    """wooerp_queue_length{queue} (waiting in Redis) and wooerp_unacked_tasks (taken, not yet acknowledged)."""

    def __init__(self, broker_url: str):
        self.broker_url = broker_url

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        lengths = queue_lengths(self.broker_url)
        unacked = GaugeMetricFamily("wooerp_unacked_tasks", "Tasks taken by a worker and not yet acknowledged",
                                    value=lengths.pop("unacked"))
        waiting = GaugeMetricFamily("wooerp_queue_length", "Tasks waiting in the queue", labels=["queue"])
        for queue, n in lengths.items():
            waiting.add_metric([queue], n)
        return [waiting, unacked]


SOURCES: dict[str, Callable[[Settings], object]] = {
    "tasks": lambda s: TaskCollector(s.broker_url),
    "queues": lambda s: QueueCollector(s.broker_url),
    "streams": lambda s: StreamCollector(s.database_url),
    "failures": lambda s: FailureCollector(s.database_url),
    "reconcile": lambda s: _reconcile_collector(s),
    "shop_access": lambda s: AccessDeniedCollector(s.broker_url),
}


def _reconcile_collector(settings: Settings):
    from workers.reconcile_metrics import ReconcileCollector
    return ReconcileCollector(settings.broker_url, settings.reconcile_dir)


def add_source(name: str, factory: Callable[[Settings], object]) -> None:
    """Serve `factory(settings).collect()` from the keeper's endpoint too (call before the keeper is ready)."""
    SOURCES[name] = factory


class FleetCollector:
    """Every source, each guarded: a database or broker outage shows as wooerp_metrics_source_up 0."""

    def __init__(self, settings: Settings):
        self.sources = {name: factory(settings) for name, factory in SOURCES.items()}

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        up = GaugeMetricFamily("wooerp_metrics_source_up", "1 if the source answered this scrape",
                               labels=["source"])
        for name, source in self.sources.items():
            try:
                families = list(source.collect())
            except Exception as exc:
                event(log, "metrics source failed", logging.WARNING, source=name, error=type(exc).__name__)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def _start(sender=None, **_kwargs) -> None:
    app = sender.app
    settings = app.wooerp_settings
    if DEAD_LETTER not in app.amqp.queues.consume_from or not settings.metrics_port:
        return
    from prometheus_client import REGISTRY, start_http_server
    REGISTRY.register(FleetCollector(settings))
    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_address)
    except OSError as e:  # a second keeper on this host: the first one serves
        event(log, "metrics endpoint not started", logging.WARNING, port=settings.metrics_port, error=str(e))
        return
    event(log, "metrics endpoint started", url=f"http://{settings.metrics_address}:{settings.metrics_port}/metrics")


def serve_from_keeper() -> None:
    """In a worker that consumes the dead_letter queue, serve /metrics once the worker is ready."""
    signals.worker_ready.connect(_start, weak=False, dispatch_uid="wooerp.metrics")
