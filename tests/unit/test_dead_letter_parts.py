"""The pure parts of dead-lettering: which unacknowledged messages are orphans, how an open letter reads
in Flower, which letters can be replayed. No broker, no database."""
from __future__ import annotations

import json
import pickle
import time

from connector import dead_letters
from connector.models import DeadLetter
from workers.stuck import orphans
from workers.tasks.dead_letter import DeadLetterOpen


class FakeRedis:
    def __init__(self, entries: dict[str, tuple[str, float]]):  # tag → (task id, delivered at)
        self.entries = entries

    def zrangebyscore(self, key, low, high, withscores=False):
        return [(tag.encode(), at) for tag, (_, at) in self.entries.items() if low <= at <= high]

    def hget(self, key, tag):
        task_id = self.entries[tag.decode()][0]
        return json.dumps([{"headers": {"id": task_id, "task": "wooerp.orders.import_order"}}, "orders", "orders"])


def test_only_old_messages_that_no_live_worker_holds_are_orphans():
    now = time.time()
    client = FakeRedis({"t-held": ("held", now - 100), "t-lost": ("lost", now - 100), "t-new": ("new", now - 1)})
    found = orphans(client, "unacked", "unacked_index", held={"held"}, older_than=30)
    assert [(o["tag"], o["task_id"], o["queue"]) for o in found] == [("t-lost", "lost", "orders")]
    assert found[0]["age_seconds"] >= 100


def test_an_open_letter_reads_in_flower_as_its_error_with_the_failed_tasks_traceback():
    exc = DeadLetterOpen("dead letter 7: wooerp.orders.import_order failed: TransientError: 503",
                         "Traceback (most recent call last):\n  File \"orders.py\"\nTransientError: 503")
    assert repr(exc) == "DeadLetterOpen('dead letter 7: wooerp.orders.import_order failed: TransientError: 503')"
    assert str(exc).endswith("Traceback of the failed task:\nTraceback (most recent call last):\n"
                             "  File \"orders.py\"\nTransientError: 503")
    assert str(pickle.loads(pickle.dumps(exc))) == str(exc)  # it crosses from the pool process to the worker


def test_letters_whose_message_could_not_be_decoded_cannot_be_replayed():
    assert not dead_letters.replayable(DeadLetter(attempt_key=f"{dead_letters.UNDECODABLE}0"))
    assert dead_letters.replayable(DeadLetter(attempt_key="unknown-task:0"))
    assert dead_letters.replayable(DeadLetter(attempt_key="2"))


def test_a_letter_of_a_scheduled_task_carries_the_correlation_id_its_run_logged_under():
    """F5: a task started by beat has no correlation header; its letter still names the id of its log lines."""
    from connector.errors import PermanentError
    from connector.logs import reset_correlation_id, set_correlation_id
    from workers.app import app
    app.loader.import_default_modules()
    task = app.tasks["wooerp.catalog.apply_products"]
    task.push_request(id="t-1", args=[["pct%2C"]], kwargs={}, retries=0, headers={},
                      delivery_info={"routing_key": "catalog"})
    token = set_correlation_id("cid-from-the-run")
    try:
        letter = task._letter(PermanentError("401"), "tb")
    finally:
        reset_correlation_id(token)
        task.pop_request()
    assert letter.correlation_id == "cid-from-the-run"
