"""Task counters and durations, counted fleet-wide in Redis by every worker process.

Why Redis and not prometheus_client's multiprocess files: worker processes come and go (prefork
children replaced after a poison task, pods scaled by KEDA, hosts added), and files on one host cannot
be summed by a scraper on another. HINCRBY is atomic, so any number of processes on any number of hosts
add to the same totals, nothing is lost when a process or pod goes away, and the keeper serves them once
(workers.metrics). One pipelined round trip per task run; a Redis error costs the sample, never the task.

Labels stay bounded: `task` is a registered task name, `outcome` one of OUTCOMES, `reason` an exception
class name with the HTTP status when the error carries one (e.g. `TransientError:503`), never a message.
"""
from __future__ import annotations

import json
import logging
import time

from celery import signals
from celery.exceptions import Retry

from connector.broker import redis_client
from connector.logs import event

log = logging.getLogger("wooerp.metrics")
TASKS, ERRORS, DURATION = "wooerp:metrics:tasks", "wooerp:metrics:task_errors", "wooerp:metrics:task_duration"
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, float("inf"))
# Celery state → outcome; a failure is final: SyncTask.on_failure dead-letters it
OUTCOMES = {"SUCCESS": "success", "RETRY": "retry", "FAILURE": "failure", "IGNORED": "ignored",
            "REJECTED": "rejected"}
_started: dict[str, float] = {}


def field(*labels: str) -> str:
    return json.dumps(labels)


def bucket(seconds: float) -> str:
    """The upper bound of the one bucket a duration is counted in (cumulated when scraped)."""
    return le(next(b for b in BUCKETS if seconds <= b))


def le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def reason(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    suffix = f":{status}" if isinstance(status, int) and 100 <= status <= 599 else ""
    return type(exc).__name__ + suffix


def outcome_of(task, state: str, retval) -> tuple[str, BaseException | None]:
    """(outcome, the error to count if any) of one finished run."""
    if state == "RETRY":
        return "retry", retval.exc if isinstance(retval, Retry) and isinstance(retval.exc, BaseException) else None
    if state == "FAILURE" and isinstance(retval, BaseException):
        if task.throws and isinstance(retval, task.throws):
            return "expected_failure", None  # e.g. the keeper showing an open letter in Flower
        return "failure", retval
    return OUTCOMES.get(state, state.lower()), None


def record(client, task_name: str, outcome: str, seconds: float | None, error: BaseException | None) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(TASKS, field(task_name, outcome), 1)
    if error is not None:
        pipe.hincrby(ERRORS, field(task_name, reason(error)), 1)
    if seconds is not None:
        pipe.hincrby(DURATION, field(task_name, bucket(seconds)), 1)
        pipe.hincrbyfloat(DURATION, field(task_name, "sum"), seconds)
    pipe.execute()


def _prerun(task_id=None, **_kwargs) -> None:
    _started[task_id] = time.monotonic()


def _postrun(sender=None, task_id=None, retval=None, state=None, **_kwargs) -> None:
    started = _started.pop(task_id, None)
    seconds = time.monotonic() - started if started is not None else None
    outcome, error = outcome_of(sender, state or "", retval)
    try:
        record(redis_client(sender.app.wooerp_settings.broker_url), sender.name, outcome, seconds, error)
    except Exception as exc:  # metrics must never fail a task
        event(log, "task metrics not recorded", logging.WARNING, task=sender.name, error=type(exc).__name__)


def connect() -> None:
    signals.task_prerun.connect(_prerun, weak=False, dispatch_uid="wooerp.task_metrics.prerun")
    signals.task_postrun.connect(_postrun, weak=False, dispatch_uid="wooerp.task_metrics.postrun")


class TaskCollector:
    """wooerp_tasks_total, wooerp_task_errors_total and wooerp_task_duration_seconds, read from Redis."""

    def __init__(self, broker_url: str):
        self.broker_url = broker_url

    def describe(self):
        return []  # no I/O when registered

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
        client = redis_client(self.broker_url)
        pipe = client.pipeline(transaction=False)
        for key in (TASKS, ERRORS, DURATION):
            pipe.hgetall(key)
        tasks, errors, durations = ([(json.loads(k), float(v)) for k, v in h.items()] for h in pipe.execute())
        runs = CounterMetricFamily("wooerp_tasks", "Task runs by task and outcome", labels=["task", "outcome"])
        for (task, outcome), n in sorted(tasks):
            runs.add_metric([task, outcome], n)
        failed = CounterMetricFamily("wooerp_task_errors", "Errors of task runs (retried or final) by reason",
                                     labels=["task", "reason"])
        for (task, why), n in sorted(errors):
            failed.add_metric([task, why], n)
        return [runs, failed, _histogram(HistogramMetricFamily, durations)]


def _histogram(family, durations: list[tuple[list[str], float]]):
    hist = family("wooerp_task_duration_seconds", "Run time of task runs", labels=["task"])
    per_task: dict[str, dict[str, float]] = {}
    for (task, key), value in durations:
        per_task.setdefault(task, {})[key] = value
    for task, values in sorted(per_task.items()):
        total, buckets = 0, []
        for bound in BUCKETS:
            total += int(values.get(le(bound), 0))
            buckets.append((le(bound), total))
        hist.add_metric([task], buckets, values.get("sum", 0.0))
    return hist
