"""The Celery application: configuration from connector.settings, queues, routing and the schedule.

Refuses to start without a broker URL in production (no eager fallback, ever). Tasks are acknowledged
late and rejected back to the queue when their worker dies; prefetch is 1 because tasks are long.
"""
from __future__ import annotations

from celery import Celery

import beat_schedule
from connector.settings import load_or_exit
from workers import signals
from workers.queues import CATALOG, QUEUES, ROUTES

settings = load_or_exit()

app = Celery("wooerp", task_cls="workers.base:SyncTask", include=["workers.tasks.orders", "workers.tasks.catalog", "workers.tasks.inventory",
                                "workers.tasks.shipments", "workers.tasks.dead_letter",
                                "workers.tasks.reconcile"])
app.conf.update(
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


app.wooerp_settings = settings
signals.connect(app)  # the one place handlers are connected; no other module connects any on import
