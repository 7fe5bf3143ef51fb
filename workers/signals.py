"""Every Celery signal handler of the fleet, connected by one explicit call, `connect(app)`, made once
by workers/app.py. Importing this module (or any task module) connects nothing and starts nothing.

- setup_logging: JSON logs with secrets masked; routine polls' per-task INFO lines dropped below DEBUG.
- worker_init, beat_init: refuse to start on an un-migrated database or on state of another shop or ERP
  tenant (exit status 2); warn about a password-less broker/database in production (connector.startup).
- task_prerun, task_postrun: task counts and durations in Redis (workers.task_metrics).
- worker_ready: the keeper (the worker consuming `dead_letter`) serves /metrics (workers.metrics).
"""
from __future__ import annotations

import logging
import os

from celery import Celery, signals

from connector import logs
from connector.startup import gate
from connector.services import Services
from workers import metrics, task_metrics


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


def connect(app: Celery) -> None:
    """Connect the fleet's handlers for `app` (idempotent: each has a dispatch_uid). Reads no settings:
    the handlers read `app.wooerp_settings` when they run."""
    def json_logging(**_kwargs):
        settings = app.wooerp_settings
        logs.setup(settings.log_level, secrets=settings.secrets())
        if settings.log_level != "DEBUG":
            quiet = RoutineTasks({entry["task"] for entry in app.conf.beat_schedule.values()})
            for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
                logging.getLogger(name).addFilter(quiet)

    def refuse_another_shop_or_erp(sender=None, **kwargs):
        """A worker or beat never starts on an un-migrated (or outdated) database, nor on state that belongs to
        another shop or ERP tenant (exit status 2, one line): connector.startup."""
        try:
            gate(Services(app.wooerp_settings), process="beat" if kwargs.get("signal") is signals.beat_init else "worker")
        except SystemExit as e:  # celery would turn a SystemExit raised in a signal handler into status 1
            os._exit(e.code if isinstance(e.code, int) else 2)

    signals.setup_logging.connect(json_logging, weak=False, dispatch_uid="wooerp.logging")
    signals.worker_init.connect(refuse_another_shop_or_erp, weak=False, dispatch_uid="wooerp.identity.worker")
    signals.beat_init.connect(refuse_another_shop_or_erp, weak=False, dispatch_uid="wooerp.identity.beat")
    task_metrics.connect()
    metrics.serve_from_keeper()
