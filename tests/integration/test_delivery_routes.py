"""Where a delivery lands on the real broker: the shim (and, for deliveries stored while the broker was
down, the outbox relay) must queue `customer.*` for the customer task, never as an import of the order
with the same id (customer ids and order ids collide routinely in a real shop)."""
from __future__ import annotations

import base64
import json
import subprocess
import sys

import redis

from tests.support.procs import child_env

# Runs in a child process: workers.app reads its settings from the environment once per process.
SCRIPT = r"""
import json, sys
from connector.settings import load
from connector.webhooks import signature, unpublished
from shim.app import create_app
from workers import publish as pub

def post(client, topic, rid):
    body = json.dumps({"id": rid, "date_modified_gmt": "2026-01-01T00:00:0%d" % (1 if topic.startswith("c") else 2)}).encode()
    r = client.post("/webhooks/woocommerce", data=body, headers={
        "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Signature": signature(body, "route-secret"),
        "Content-Type": "application/json"})
    return r.get_json()

settings = load()
mode = sys.argv[1]
if mode == "live":
    client = create_app(settings).test_client()
else:  # the broker refuses every publish: the deliveries stay in the outbox
    def down(*_):
        raise ConnectionError("broker down")
    client = create_app(settings, publish=down).test_client()
answers = [post(client, "customer.updated", 47), post(client, "order.created", 47)]
if mode == "relay":
    from workers.tasks.orders import relay_deliveries
    answers.append(relay_deliveries.apply().get())
    from connector.db import Database
    answers.append(len(unpublished(Database(settings.database_url))))
print(json.dumps(answers))
"""


def queued(url: str) -> list[tuple[str, list]]:
    """(task name, args) of every message waiting on the orders queue."""
    client = redis.Redis.from_url(url)
    out = []
    for raw in client.lrange("orders", 0, -1):
        message = json.loads(raw)
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        out.append((message["headers"]["task"], args))
    return out


def run(mode: str, redis_url: str, db) -> list:
    env = child_env() | {"REDIS_URL": redis_url, "DATABASE_URL": db.url, "WOO_WEBHOOK_SECRET": "route-secret"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def clear(url: str) -> None:
    client = redis.Redis.from_url(url)
    client.delete("orders", "unacked", *client.keys("wooerp:queued:order:*"))


def test_a_customer_delivery_queues_the_customer_task_not_an_import_of_that_order_id(redis_url, db):
    clear(redis_url)
    answers = run("live", redis_url, db)
    assert [a["queued"] for a in answers] == [True, True]
    assert sorted(queued(redis_url)) == [("wooerp.orders.import_order", [47]), ("wooerp.orders.update_customer", [47])]
    clear(redis_url)


def test_deliveries_stored_while_the_broker_was_down_are_relayed_to_the_same_tasks(redis_url, db):
    clear(redis_url)
    *answers, relayed, left = run("relay", redis_url, db)
    assert [a["queued"] for a in answers] == [False, False]
    assert relayed == {"published": 2} and left == 0
    assert sorted(queued(redis_url)) == [("wooerp.orders.import_order", [47]), ("wooerp.orders.update_customer", [47])]
    clear(redis_url)
