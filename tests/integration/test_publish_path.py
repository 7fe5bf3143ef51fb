"""The shim's publish path on the real broker: the message a worker finds on the queue is the one
`app.send_task` has always produced (also when it is made from the process's template), a delivery costs one Redis command (the coalescing claim and the
push in one script), and coalescing still collapses a waiting import and yields to a stale marker."""
from __future__ import annotations

import json
import subprocess
import sys

import redis

from tests.support.procs import child_env

# Runs in a child process: workers.app reads its settings from the environment once per process.
SCRIPT = r"""
import json
import redis
from workers.app import app
from workers.publish import publish_import, IMPORT_ORDER
from workers.queues import ORDERS

client = redis.Redis.from_url(app.wooerp_settings.broker_url)

def stats():
    return {k: v["calls"] for k, v in client.info("commandstats").items()}

def take():
    raw = client.rpop(ORDERS)
    return json.loads(raw) if raw is not None else None

out = {}
client.delete(ORDERS, "wooerp:queued:order:60", "wooerp:queued:order:61", "wooerp:queued:order:62")
# kombu's own publish through the app's producer pool, then the shim's path for the same task
app.send_task(IMPORT_ORDER, args=[61], headers={"wooerp_cid": "cid-1"}, retry=False)
out["kombu"] = take()
publish_import(61, "cid-1", collapse=False)  # the process's first: built by celery, kept as the template
out["ours"] = take()
publish_import(61, "cid-1", collapse=False)  # from the template
out["template"] = take()
publish_import(60, "warm-up")  # the script is loaded into Redis once
take()
before = stats()
out["first"] = publish_import(62, "cid-2")
after = stats()
out["commands"] = {k: after.get(k, 0) - before.get(k, 0) for k in after 
                   if after.get(k, 0) != before.get(k, 0) and k != "cmdstat_info"}
out["second"] = publish_import(62, "cid-3")
out["stale"] = publish_import(62, "cid-4", stale_after=0.0)
out["queued"] = [json.loads(m)["headers"]["wooerp_cid"] for m in client.lrange(ORDERS, 0, -1)]
client.delete(ORDERS, "wooerp:queued:order:60", "wooerp:queued:order:61", "wooerp:queued:order:62")
print(json.dumps(out))
"""


def run(redis_url: str, db) -> dict:
    env = child_env() | {"REDIS_URL": redis_url, "DATABASE_URL": db.url, "WOO_WEBHOOK_SECRET": "path-secret"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def without_ids(message: dict) -> dict:
    """The message with what differs between any two publishes (task id, delivery tag) taken out."""
    message = json.loads(json.dumps(message))
    task_id = message["headers"].pop("id")
    assert message["headers"].pop("root_id") == task_id == message["properties"].pop("correlation_id")
    assert message["properties"].pop("delivery_tag")
    return message


def test_the_shim_queues_the_message_kombu_would_in_one_redis_command_and_coalesces(redis_url, db):
    out = run(redis_url, db)
    assert out["kombu"] is not None
    assert without_ids(out["ours"]) == without_ids(out["kombu"]) == without_ids(out["template"])
    assert out["commands"] == {"cmdstat_evalsha": 1, "cmdstat_set": 1, "cmdstat_lpush": 1}  # the last two in Lua
    assert out["first"] != "coalesced" and out["second"] == "coalesced" and out["stale"] != "coalesced"
    assert out["queued"] == ["cid-4", "cid-2"]  # LPUSH: newest first; the coalesced delivery added nothing
