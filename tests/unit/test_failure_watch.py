"""The failure watch's round (connector/failure_watch.py) with the broker's part passed in: stuck messages
handed back, letters the keeper never got announced again, and a growing pile of open letters said once."""
from __future__ import annotations

import logging
import uuid

from connector import dead_letters
from connector.failure_watch import OPEN_SEEN_KEY, watch


def letter(db, order_id: int) -> int:
    letter_id, _new = dead_letters.record(db, dead_letters.Letter(
        task_id=uuid.uuid4().hex, attempt_key="0", task_name="wooerp.orders.import_order", args=[order_id], kwargs={},
        queue="orders", correlation_id=None, retries=0, exc_type="PermanentError", exc_message="403 from the ERP",
        traceback="", resource=dead_letters.order_resource(order_id)))
    return letter_id


def test_lost_letters_are_announced_again_and_growth_is_warned_once(db, redis_url, caplog):
    import redis
    redis.Redis.from_url(redis_url).delete(OPEN_SEEN_KEY)
    first, second = letter(db, 7), letter(db, 8)
    announced = []
    stuck = [{"task_id": "t-1", "task": "wooerp.orders.import_order"}]

    def round_(lost_after=-1):
        return watch(db, redis_url, lost_after_seconds=lost_after, requeue_stuck=lambda: stuck,
                     announce=announced.append)
    with caplog.at_level(logging.WARNING, logger="wooerp.dead_letters"):
        report = round_()
        assert announced == [first, second] and report["reannounced_letters"] == [first, second]
        assert report["requeued_stuck_tasks"] == ["t-1"] and report["dead_letters_open"] == 2
        dead_letters.mark_announced(db, first)
        stuck.clear()
        report = round_()
    assert announced == [first, second, second] and report["requeued_stuck_tasks"] == []
    growing = [r for r in caplog.records if r.getMessage() == "dead letters growing"]
    assert [(r.fields["open"], r.fields["new"]) for r in growing] == [(2, 2)]  # the same two: said once
    assert round_(lost_after=3600)["reannounced_letters"] == []  # recorded just now: not lost yet
