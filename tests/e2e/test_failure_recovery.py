"""Failures nobody handles in code still end as exactly one visible dead letter, or are recovered:
a message that kills its worker every time, a worker that dies between recording a letter and its ack,
messages no task can run, and a task left behind by a worker that died and never came back.

Real `celery worker` processes; the misbehaving tasks live in tests.support.failing_tasks.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import uuid

import pytest
import redis

from connector import dead_letters
from connector.db import Database
from tests.support.messages import publish_raw, send, start_worker, task_headers
from tests.support.procs import ROOT, wait_until

pytestmark = pytest.mark.e2e


def runs(fleet, key: str) -> int:
    return int(redis.Redis.from_url(fleet.env["REDIS_URL"]).get(key) or 0)


def wooerp(fleet, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops.cli", *args], cwd=ROOT, env=fleet.env,
                          capture_output=True, text=True, timeout=60)


def shown_in_flower(db):
    return [letter for letter in dead_letters.listing(db, status=None) if letter.announced_at]


def test_a_task_that_kills_its_worker_on_every_delivery_is_dead_lettered_after_the_configured_count(fleet_factory):
    fleet = fleet_factory(POISON_MAX_DELIVERIES="2", METRICS_PORT="0")
    start_worker(fleet)
    fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
    key = f"poison-{uuid.uuid4().hex}"
    task_id = send(fleet, "wooerp.test.kill_own_worker", key)
    db = Database(fleet.env["DATABASE_URL"])

    [letter] = wait_until(lambda: shown_in_flower(db), 90, 0.5, "the poison message in the DLQ, shown by the keeper")
    assert letter.task_id == task_id and letter.task_name == "wooerp.test.kill_own_worker" and letter.args == [key]
    assert letter.exc_type == "PermanentError" and "poison" in letter.exc_message and letter.queue == "catalog"
    assert runs(fleet, key) == 2  # killed its worker twice, then never ran again
    fleet.wait_until_idle()
    assert len(dead_letters.listing(db, status=None)) == 1 and runs(fleet, key) == 2
    assert fleet.procs["worker"].alive()


def test_a_worker_dying_between_recording_a_letter_and_its_ack_leaves_one_letter_that_is_still_shown(fleet_factory):
    fleet = fleet_factory(METRICS_PORT="0")
    start_worker(fleet)
    fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
    key = f"dies-{uuid.uuid4().hex}"
    task_id = send(fleet, "wooerp.test.fail_and_die_before_announcing", key)
    db = Database(fleet.env["DATABASE_URL"])

    [letter] = wait_until(lambda: shown_in_flower(db), 60, 0.5, "the letter shown by the keeper")
    assert letter.task_id == task_id and letter.exc_type == "PermanentError"
    assert runs(fleet, f"{task_id}:announce") == 2  # the first announcement died with its worker
    fleet.wait_until_idle()
    assert len(dead_letters.listing(db, status=None)) == 1
    assert runs(fleet, key) == 1  # the redelivered message was not run a second time


def test_messages_no_task_can_run_are_dead_lettered_not_dropped(fleet_factory):
    fleet = fleet_factory(METRICS_PORT="0")
    fleet.start_worker()
    fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
    garbled = uuid.uuid4().hex
    publish_raw(fleet, "{this is not json", task_headers("wooerp.orders.import_order", garbled, 1))
    pickled = uuid.uuid4().hex
    publish_raw(fleet, "\x80\x04K\x01.", task_headers("wooerp.orders.import_order", pickled, 1),
                content_type="application/x-python-serialize")
    unknown = send(fleet, "wooerp.orders.no_such_task", 42, on="orders")
    db = Database(fleet.env["DATABASE_URL"])

    letters = wait_until(lambda: len(shown_in_flower(db)) == 3 and dead_letters.listing(db), 60, 0.5,
                         "three dead letters shown by the keeper")
    by_id = {letter.task_id: letter for letter in letters}
    assert by_id[garbled].exc_type == "DecodeError" and "{this is not json" in by_id[garbled].exc_message
    assert by_id[pickled].exc_type == "ContentDisallowed"
    assert by_id[unknown].exc_type == "NotRegistered" and by_id[unknown].task_name == "wooerp.orders.no_such_task"
    assert by_id[unknown].args == [42] and by_id[unknown].queue == "orders"
    assert fleet.procs["worker"].alive()

    listing = wooerp(fleet, "dead-letters", "list")
    assert "3 dead letter(s) open" in listing.stdout and "wooerp.orders.no_such_task" in listing.stdout
    replay = wooerp(fleet, "dead-letters", "replay", "--id", str(by_id[garbled].id))
    assert replay.returncode == 1 and "cannot be replayed" in replay.stderr  # a refusal: its reason on stderr
    assert dead_letters.get(db, by_id[garbled].id).status == "open"
    discard = wooerp(fleet, "dead-letters", "discard", "--id", str(by_id[garbled].id), "--reason", "junk from a test")
    assert discard.returncode == 0, discard.stderr
    audit = wooerp(fleet, "dead-letters", "list", "--all").stdout
    assert "discarded: junk from a test" in audit and " UTC by " in audit
    assert "2 dead letter(s) open" in wooerp(fleet, "dead-letters", "list").stdout


def test_a_task_left_started_by_a_worker_killed_for_good_is_requeued_and_completes_elsewhere(fleet_factory):
    # Redis alone would give the message back only after the visibility timeout (10 minutes here).
    fleet = fleet_factory(VISIBILITY_TIMEOUT_SECONDS="600", STUCK_TASK_SECONDS="4", FAILURE_WATCH_SECONDS="1",
                          METRICS_PORT="0")
    doomed = start_worker(fleet, name="doomed", queues="catalog")
    fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
    key = f"stuck-{uuid.uuid4().hex}"
    send(fleet, "wooerp.test.slow_first_time", key, 300)
    wait_until(lambda: runs(fleet, key) == 1, 30, 0.2, "the task started on the doomed worker")
    doomed.kill_group(signal.SIGKILL)
    start_worker(fleet, name="rescuer", queues="catalog")
    fleet.start_beat()

    done_by = wait_until(lambda: redis.Redis.from_url(fleet.env["REDIS_URL"]).get(f"{key}:done-by"), 60, 0.5,
                         "the stuck task completed by another worker")
    assert done_by.decode().startswith("rescuer@")
    assert runs(fleet, key) == 2
    assert dead_letters.listing(Database(fleet.env["DATABASE_URL"]), status=None) == []
    assert "stuck task requeued" in fleet.procs["keeper"].log_path.read_text()
