"""A dead letter recorded under today's task names is replayed, after the routing change of issue 14,
as a message the fleet's workers know, on the queue the letter was recorded with."""
from __future__ import annotations

import json
import subprocess

import redis

from connector import dead_letters
from tests.support.fleet import BIN
from tests.support.procs import child_env
from tests.unit.test_task_routes import TODAYS_TASKS
from workers.app import app


def test_letters_recorded_under_todays_task_names_replay_to_known_tasks_on_their_queues(db, database_url, redis_url):
    client = redis.Redis.from_url(redis_url)
    client.delete(*TODAYS_TASKS.keys(), *set(TODAYS_TASKS.values()))
    ids = {}
    for name, queue in TODAYS_TASKS.items():
        if queue == "dead_letter":
            continue  # the keeper's own tasks record no letters
        letter_id, _ = dead_letters.record(db, dead_letters.Letter(
            task_id=f"old-{name}", attempt_key="0", task_name=name, args=[7], kwargs={}, queue=queue,
            correlation_id="cid-1", retries=3, exc_type="TransientError", exc_message="erp down", traceback=None))
        ids[letter_id] = name
    out = subprocess.run([str(BIN / "wooerp"), "dead-letters", "replay", *[f"--id={i}" for i in ids]],
                         env=child_env(DATABASE_URL=database_url, REDIS_URL=redis_url),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(ids)} letter(s) replayed" in out.stdout

    app.loader.import_default_modules()
    seen = {}
    for queue in set(TODAYS_TASKS.values()) - {"dead_letter"}:
        for raw in client.lrange(queue, 0, -1):
            headers = json.loads(raw)["headers"]
            seen[headers["task"]] = queue
    assert seen == {name: queue for name, queue in TODAYS_TASKS.items() if queue != "dead_letter"}
    for name, queue in seen.items():
        assert name in app.tasks, f"replayed {name} names no task of the workers"
        assert app.amqp.router.route({}, name)["queue"].name == queue
    for letter_id in ids:
        assert dead_letters.get(db, letter_id).status == dead_letters.REPLAYED
