"""Task names are a wire format: every task wooerp registers has an explicit route, and the names
recorded in today's dead letters, queues and beat schedules still name a task on the queue they had."""
from __future__ import annotations

import beat_schedule
from workers.queues import ALL_QUEUES, TASK_QUEUES

# the names and queues as of issue 14: renaming or moving any of these breaks queued messages, dead
# letters waiting for a replay and beat schedules already running
TODAYS_TASKS = {
    "wooerp.orders.import_order": "orders",
    "wooerp.orders.update_customer": "orders",
    "wooerp.orders.relay_deliveries": "orders",
    "wooerp.orders.poll_orders": "orders",
    "wooerp.orders.poll_shipments": "orders",
    "wooerp.catalog.poll_products": "catalog",
    "wooerp.catalog.apply_products": "catalog",
    "wooerp.catalog.full_resync": "catalog",
    "wooerp.catalog.reconcile": "catalog",
    "wooerp.inventory.poll_inventory": "inventory",
    "wooerp.inventory.push_stock": "inventory",
    "wooerp.dead_letter.keep": "dead_letter",
    "wooerp.dead_letter.watch": "dead_letter",
}


def _registered() -> dict:
    from workers.app import app
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith("wooerp.")}


def test_every_task_of_the_fleet_has_an_explicit_route_to_a_declared_queue():
    registered = _registered()
    assert set(registered) == set(TASK_QUEUES), "a task without an explicit route would run on the default queue"
    assert set(TASK_QUEUES.values()) <= set(ALL_QUEUES)


def test_todays_task_names_still_name_a_task_on_the_queue_they_had():
    from workers.app import app
    registered = _registered()
    for name, queue in TODAYS_TASKS.items():
        assert name in registered, f"task {name} was renamed or removed"
        assert app.amqp.router.route({}, name)["queue"].name == queue, name


def test_beat_schedules_only_routed_tasks():
    from connector.settings import load
    for entry in beat_schedule.build(load({})).values():
        assert entry["task"] in TASK_QUEUES
