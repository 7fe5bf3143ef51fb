"""Failure metrics in Prometheus text format, served by the keeper worker on METRICS_ADDRESS:METRICS_PORT.

wooerp_dead_letters{status}   dead letters per status (open ones wait for an operator)
wooerp_quarantined{kind}      orders and products held back for a data fix (not replayable)
Values are read from the database at scrape time; METRICS_PORT=0 turns the endpoint off.
"""
from __future__ import annotations

import logging

from celery import signals

from connector import dead_letters, quarantine
from connector.db import Database
from connector.logs import event
from workers.queues import DEAD_LETTER

log = logging.getLogger("wooerp.metrics")


def failure_counts(db: Database) -> dict[str, int]:
    letters = dead_letters.counts(db)
    held = quarantine.counts(db)
    return {"dead_letters_open": letters[dead_letters.OPEN], "dead_letters_replayed": letters[dead_letters.REPLAYED],
            "dead_letters_discarded": letters[dead_letters.DISCARDED],
            "quarantined_orders": held["order"], "quarantined_products": held["product"]}


class FailureCollector:
    def __init__(self, database_url: str):
        self.database_url = database_url
        self._db: Database | None = None

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        self._db = self._db or Database(self.database_url)
        letters = GaugeMetricFamily("wooerp_dead_letters", "Dead letters by status", labels=["status"])
        for status, n in dead_letters.counts(self._db).items():
            letters.add_metric([status], n)
        held = GaugeMetricFamily("wooerp_quarantined", "Records quarantined for a data fix", labels=["kind"])
        for kind, n in quarantine.counts(self._db).items():
            held.add_metric([kind], n)
        return [letters, held]


def _start(sender=None, **_kwargs) -> None:
    app = sender.app
    settings = app.wooerp_settings
    if DEAD_LETTER not in app.amqp.queues.consume_from or not settings.metrics_port:
        return
    from prometheus_client import REGISTRY, start_http_server
    REGISTRY.register(FailureCollector(settings.database_url))
    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_address)
    except OSError as e:  # a second keeper on this host: the first one serves
        event(log, "metrics endpoint not started", logging.WARNING, port=settings.metrics_port, error=str(e))
        return
    event(log, "metrics endpoint started", url=f"http://{settings.metrics_address}:{settings.metrics_port}/metrics")


def serve_from_keeper() -> None:
    """In a worker that consumes the dead_letter queue, serve /metrics once the worker is ready."""
    signals.worker_ready.connect(_start, weak=False, dispatch_uid="wooerp.metrics")
