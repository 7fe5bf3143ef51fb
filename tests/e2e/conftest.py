from __future__ import annotations

import pytest
import redis
import requests

from connector.settings import SANDBOX_ERP_TOKEN, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET
from connector.woo.client import WooClient
from tests.support.fleet import launch


@pytest.fixture
def fleet_factory(redis_url, database_url, db, logs_dir, request):
    # each test starts on an empty broker, as on an empty database (`db`): a message an earlier test left
    # queued or unacknowledged would otherwise be run by this test's workers against this test's sandboxes.
    # The database number is this test process's own (tests/conftest.py), so nothing else is flushed.
    redis.Redis.from_url(redis_url).flushdb()
    fleets = []

    def make(broker_url: str | None = None, **settings):
        f = launch(broker_url or redis_url, database_url, logs_dir / request.node.name, **settings)
        fleets.append(f)
        return f
    yield make
    failed = getattr(request.node, "rep_call", None)
    for f in fleets:
        if failed is not None and failed.failed:
            print(f.dump_logs())
        f.stop()


@pytest.fixture
def fleet(fleet_factory):
    return fleet_factory()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def woo_client(fleet) -> WooClient:
    return WooClient(fleet.woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)


def erp_get(fleet, path: str, **params):
    r = requests.get(f"{fleet.erp_url}/api/v1{path}", params=params,
                     headers={"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"}, timeout=10)
    r.raise_for_status()
    return r.json()


def erp_orders(fleet, ref: str) -> list[dict]:
    return erp_get(fleet, "/sales-orders", external_ref=ref)["items"]
