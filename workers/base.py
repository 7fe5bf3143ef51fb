"""The one retry and dead-letter policy, in the base class every task uses.

TransientError (and transport/database hiccups) → retry with exponential backoff and jitter, honouring
the remote side's Retry-After; after `TASK_MAX_RETRIES` → dead letter. PermanentError, InvalidDataError
and unexpected exceptions → dead letter at once, with the traceback. A dead letter is written to the
database (durable, one per task attempt) and announced on the `dead_letter` queue for Flower.

The letter is written while the task still holds its message, before Celery marks the failure and
acknowledges it. When the database cannot take it (down longer than the whole retry budget), the task is
not given up: it is retried later, past its budget, until it either succeeds or its letter is written.
So nothing accepted is ever lost to a database outage.
"""
from __future__ import annotations

import logging
import os
import random
import traceback

import requests
from celery import Task
from celery.exceptions import Ignore, Reject, Retry
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from connector import dead_letters
from connector.broker import redis_client
from connector.errors import Busy, PermanentError, TransientError
from connector.logs import event, get_correlation_id, new_correlation_id, reset_correlation_id, set_correlation_id
from connector.services import Services
from workers.announce import announce

log = logging.getLogger("wooerp.tasks")
TRANSIENT = (TransientError, requests.RequestException, OperationalError, ConnectionError, TimeoutError)
# what "the database cannot take the dead letter now" looks like
LETTER_NOT_WRITTEN = (SQLAlchemyError, ConnectionError, TimeoutError, OSError)
# A Busy task (another worker holds its order's or parent's lease) waits up to BUSY_MAX_WAITS times, each
# pause growing to BUSY_MAX_PAUSE seconds: about 40 minutes, far past any lease's life (a dead holder's
# lease expires), before the waits count as failures.
BUSY_MAX_WAITS = 100
BUSY_MAX_PAUSE = 30.0
_services: dict[int, Services] = {}


def backoff_seconds(retries: int, base: float, cap: float, retry_after: float | None = None) -> float:
    if retry_after is not None:
        return min(float(cap), max(retry_after, 0.0) + random.uniform(0, base))
    ceiling = min(float(cap), base * (2 ** retries))
    return random.uniform(ceiling / 2, ceiling)


def use_services(services: Services | None) -> None:
    """Make the tasks this process runs use `services` (anything with the Services attributes they read,
    e.g. in-memory adapters in a test) instead of building them from the app's settings; None drops it,
    so the next task builds the real ones again."""
    if services is None:
        _services.pop(os.getpid(), None)
    else:
        _services[os.getpid()] = services


class SyncTask(Task):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    records_dead_letters = True  # the keeper's own display task does not
    resource_format: str | None = None  # e.g. "order {0}": names what a dead letter of this task is about

    def resource_of(self, args) -> str | None:
        try:
            return self.resource_format.format(*(args or [])) if self.resource_format else None
        except (IndexError, KeyError, ValueError):
            return None

    @property
    def services(self) -> Services:
        pid = os.getpid()
        if pid not in _services:  # one set of pools per (forked) process
            _services[pid] = Services(self.app.wooerp_settings)
        return _services[pid]

    def _header(self, name: str):
        """A custom message header (Celery exposes them on the request, or under `headers` when retried)."""
        return (self.request.headers or {}).get(name) or getattr(self.request, name, None)

    def correlation_id(self) -> str:
        return self._header("wooerp_cid") or new_correlation_id()

    def _count_delivery(self) -> int:
        """How often this (task, attempt) was delivered, this delivery included. A message that kills its
        worker is redelivered forever and no failure handler ever runs for it."""
        if self.request.is_eager or not self.request.id:
            return 1
        key = f"wooerp:deliveries:{self.request.id}:{self.request.retries}"
        client = redis_client(self.app.wooerp_settings.broker_url)
        count = client.incr(key)
        client.expire(key, 7 * 86400)
        return count

    def _redelivered(self, count: int) -> None:
        """Not again: a letter already recorded for this attempt (its worker died before the ack) is only
        announced if it never was; past POISON_MAX_DELIVERIES the message is dead-lettered as poison."""
        letter = dead_letters.find(self.services.db, self.request.id, str(self.request.retries))
        if letter is not None:
            if letter.announced_at is None:
                self.announce_dead_letter(letter.id)
            raise Ignore()
        if count > self.app.wooerp_settings.poison_max_deliveries:
            raise PermanentError(f"delivered {count} times without finishing (its worker died each time): "
                                 f"treated as a poison message")

    def __call__(self, *args, **kwargs):
        cid = self.correlation_id()
        token = set_correlation_id(cid)
        try:
            deliveries = self._count_delivery()
            if deliveries > 1:
                self._redelivered(deliveries)
            return super().__call__(*args, **kwargs)
        except (Retry, Ignore, Reject):
            raise
        except TRANSIENT as exc:
            settings = self.app.wooerp_settings
            waits = int(self._header("wooerp_busy") or 0)  # earlier retries that only waited for a holder
            if isinstance(exc, Busy) and waits < BUSY_MAX_WAITS:
                countdown = max(exc.retry_after or 0.0,
                                backoff_seconds(min(waits, 4), settings.retry_backoff_base, BUSY_MAX_PAUSE))
                event(log, "task waits for the record's holder", logging.INFO, task=self.name,
                      error=str(exc)[:300], waits=waits + 1, countdown=round(countdown, 2))
                raise self.retry(exc=exc, countdown=countdown, max_retries=self.request.retries + 1,
                                 headers={"wooerp_cid": cid, "wooerp_busy": waits + 1})
            failures = self.request.retries - waits  # the retry budget counts failures, not waits
            if failures >= settings.max_retries:
                self._dead_letter_or_retry_later(exc, cid)
                raise
            countdown = backoff_seconds(failures, settings.retry_backoff_base,
                                        settings.retry_backoff_max, getattr(exc, "retry_after", None))
            event(log, "task will retry", logging.WARNING, task=self.name, error=str(exc)[:300],
                  retries=failures, countdown=round(countdown, 2))
            raise self.retry(exc=exc, countdown=countdown, max_retries=settings.max_retries + waits,
                             headers={"wooerp_cid": cid, "wooerp_busy": waits})
        except Exception as exc:
            self._dead_letter_or_retry_later(exc, cid)
            raise
        finally:
            reset_correlation_id(token)

    def _letter(self, exc: BaseException, tb: str) -> dead_letters.Letter:
        delivery = self.request.delivery_info or {}
        return dead_letters.Letter(
            task_id=self.request.id, attempt_key=str(self.request.retries), task_name=self.name,
            args=list(self.request.args or []), kwargs=dict(self.request.kwargs or {}),
            queue=delivery.get("routing_key"),
            # the id this run logged under: the message's, or the one a scheduled task (no header) was given
            correlation_id=self._header("wooerp_cid") or get_correlation_id() or None,
            retries=self.request.retries, exc_type=type(exc).__name__, exc_message=str(exc)[:2000],
            traceback=tb[-8000:], resource=self.resource_of(self.request.args))

    def _record(self, letter: dead_letters.Letter, exc: BaseException) -> None:
        letter_id, new = dead_letters.record(self.services.db, letter)
        self.request.wooerp_letter = (letter_id, new)
        event(log, "task dead-lettered", logging.ERROR, task=self.name, task_id=letter.task_id, letter_id=letter_id,
              error=f"{type(exc).__name__}: {str(exc)[:300]}", new=new)

    def _dead_letter_or_retry_later(self, exc: Exception, cid: str) -> None:
        """Write the dead letter of this final failure while the message is still ours. If the database
        cannot take it, raise a Retry instead: the task runs again later (past its retry budget) and is
        only given up once its letter is written, so an outage never loses an accepted task."""
        if not self.records_dead_letters or self.request.is_eager or not self.request.id:
            return
        try:
            self._record(self._letter(exc, traceback.format_exc()), exc)
        except LETTER_NOT_WRITTEN as db_exc:
            settings = self.app.wooerp_settings
            countdown = backoff_seconds(self.request.retries, settings.retry_backoff_base, settings.retry_backoff_max)
            event(log, "dead letter could not be written; the task will run again", logging.ERROR, task=self.name,
                  task_id=self.request.id, error=f"{type(exc).__name__}: {str(exc)[:300]}",
                  database_error=f"{type(db_exc).__name__}: {str(db_exc)[:300]}", countdown=round(countdown, 2))
            raise self.retry(exc=exc, countdown=countdown, max_retries=self.request.retries + 1,
                             headers={"wooerp_cid": cid}) from None

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        recorded = getattr(self.request, "wooerp_letter", None)
        if recorded is None:  # a failure that did not pass through __call__: record it here
            self._record(self._letter(exc, str(einfo)), exc)
            recorded = self.request.wooerp_letter
        letter_id, new = recorded
        if new:
            self.announce_dead_letter(letter_id)

    def announce_dead_letter(self, letter_id: int) -> None:
        announce(self.app, self.services.db, letter_id)
