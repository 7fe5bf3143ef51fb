"""The Celery application: configuration from connector.settings, queues, routing and the schedule.

Refuses to start without a broker URL in production (no eager fallback, ever). Tasks are acknowledged
late and rejected back to the queue when their worker dies; prefetch is 1 because tasks are long.
"""
from __future__ import annotations

import logging

from celery import Celery, signals

import beat_schedule
from connector import logs
from connector.settings import load_or_exit
from workers import task_metrics
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


@signals.setup_logging.connect
def _json_logging(**_kwargs):
    logs.setup(settings.log_level, secrets=settings.secrets())
    if settings.log_level != "DEBUG":
        quiet = RoutineTasks({entry["task"] for entry in app.conf.beat_schedule.values()})
        for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
            logging.getLogger(name).addFilter(quiet)


class RoutineTasks(logging.Filter):
    """Celery's per-task INFO lines (beat sending, received, succeeded) for the scheduled polls, relay and
    watch are dropped below DEBUG: they run every few seconds whether or not there is anything to do, and
    would fill an idle fleet's log. Their failures and retries (WARNING and above, and our own events) stay."""

    def __init__(self, tasks: set[str]):
        super().__init__()
        self.tasks = tasks

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        args = record.args
        if isinstance(args, dict):
            return args.get("name") not in self.tasks
        if isinstance(args, tuple) and len(args) >= 2 and record.name == "celery.beat":
            return args[1] not in self.tasks
        return True


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_another_shop_or_erp(sender=None, **_kwargs):
    """A worker or beat never starts on state that belongs to another shop or ERP tenant (exit status 2)."""
    import os
    from connector.identity import enforce
    from connector.services import Services
    try:
        enforce(Services(settings), process="beat" if _kwargs.get("signal") is signals.beat_init else "worker")
    except SystemExit as e:  # celery would turn a SystemExit raised in a signal handler into status 1
        os._exit(e.code if isinstance(e.code, int) else 2)


app.wooerp_settings = settings
task_metrics.connect()  # each worker process counts its task runs in Redis; the keeper serves them
