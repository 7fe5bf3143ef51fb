"""Put tasks and raw messages on the fleet's queues from a test, and start workers that know the
misbehaving test tasks of tests.support.failing_tasks (the test process itself never imports them)."""
from __future__ import annotations

from celery import Celery
from kombu import Connection, Producer

from tests.support.fleet import BIN, Fleet
from workers.queues import QUEUES

TEST_TASKS = "tests.support.failing_tasks"


def queue(name: str):
    return next(q for q in QUEUES if q.name == name)


def start_worker(fleet: Fleet, name: str = "worker", queues: str = "orders,catalog,inventory", concurrency: int = 1):
    return fleet.start(name, [str(BIN / "celery"), "-A", "workers.app", "worker", "-Q", queues, "-c", str(concurrency),
                              "-n", f"{name}@%h", "--loglevel", "INFO", "--without-mingle", "--without-gossip",
                              "--include", TEST_TASKS])


def send(fleet: Fleet, name: str, *args, on: str = "catalog") -> str:
    """Publish task `name` as wooerp does (JSON, protocol 2) to queue `on`; returns its task id."""
    client = Celery(broker=fleet.env["REDIS_URL"], set_as_current=False)
    try:
        return client.send_task(name, args=list(args), queue=queue(on)).id
    finally:
        client.close()


def publish_raw(fleet: Fleet, body: str, headers: dict | None, on: str = "orders",
                content_type: str = "application/json") -> None:
    """Publish a message as some other program might: a body and headers exactly as given."""
    target = queue(on)
    with Connection(fleet.env["REDIS_URL"]) as conn:
        Producer(conn).publish(body, exchange=target.exchange, routing_key=target.routing_key, headers=headers or {},
                               content_type=content_type, content_encoding="utf-8", declare=[target])


def task_headers(name: str, task_id: str, *args) -> dict:
    """The protocol-2 headers Celery itself would put on a message for task `name`."""
    client = Celery(set_as_current=False)
    try:
        return client.amqp.as_task_v2(task_id, name, args=list(args)).headers
    finally:
        client.close()
