"""The Celery application: configuration from connector.settings, queues, routing and the schedule.

Refuses to start without a broker URL in production (no eager fallback, ever). Tasks are acknowledged
late and rejected back to the queue when their worker dies; prefetch is 1 because tasks are long.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

from celery import Celery

import beat_schedule
from connector.settings import Settings, load_or_exit
from workers import signals
from workers.queues import CATALOG, QUEUES, ROUTES


class WooerpCelery(Celery):
    @cached_property
    def wooerp_settings(self) -> Settings:
        """The settings, read from the environment when first needed (a worker, beat or a publisher
        starting), never on import: a bad environment is one line on stderr and exit status 2."""
        return load_or_exit()


app = WooerpCelery("wooerp", task_cls="workers.base:SyncTask",
                   include=["workers.tasks.orders", "workers.tasks.catalog", "workers.tasks.inventory",
                            "workers.tasks.shipments", "workers.tasks.dead_letter", "workers.tasks.reconcile"])


class _Config(Mapping):
    """Celery's configuration, built from connector.settings when Celery first reads it."""

    @cached_property
    def _values(self) -> dict:
        settings = app.wooerp_settings
        return dict(
            broker_url=settings.broker_url,
            broker_connection_retry_on_startup=True,
            broker_transport_options={
                "visibility_timeout": settings.visibility_timeout,
                # sweep for messages of dead workers every few seconds (kombu's default is ~100 s)
                "unacked_restore_interval": min(10, max(1, settings.visibility_timeout // 4)),
                "unacked_restore_throttle": 1,
                "socket_connect_timeout": 3,
            },
            broker_connection_timeout=3,
            task_serializer="json",
            result_serializer="json",
            accept_content=["json"],
            task_ignore_result=True,
            task_acks_late=True,
            task_reject_on_worker_lost=True,
            worker_prefetch_multiplier=1,
            task_queues=QUEUES,
            task_default_queue=CATALOG,
            task_default_exchange=CATALOG,
            task_default_routing_key=CATALOG,
            task_routes=ROUTES,
            task_create_missing_queues=False,
            worker_send_task_events=True,
            worker_consumer="workers.undecodable:Consumer",  # undecodable messages become dead letters
            task_send_sent_event=False,  # a second publish per task; Flower sees tasks from "received" on
            worker_hijack_root_logger=False,
            timezone="UTC",
            enable_utc=True,
            beat_schedule=beat_schedule.build(settings),
        )

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


app.config_from_object(_Config())  # lazy: read when Celery first needs its configuration


signals.connect(app)  # the one place handlers are connected; no other module connects any on import
