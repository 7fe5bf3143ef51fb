"""Order workers that run several imports at once in threads of one process (`celery -P threads`), as
deploy/README.md suggests for I/O-bound order work: still one ERP order per shop order, with the
customer the order names, under duplicate deliveries arriving together."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import erp_get, erp_orders
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver

pytestmark = pytest.mark.e2e


def test_threaded_workers_import_each_order_once_for_its_own_customer(fleet):
    stock_shop(fleet, "SKU-A", "SKU-B")
    for name in ("t1", "t2"):
        fleet.start_worker(name=name, queues="orders", concurrency=4, pool="threads")
    orders = [checkout(fleet, skus=("SKU-A", "SKU-B")[i % 2:], customer_id=7000 + i % 4,
                       email=f"buyer{i % 4}@example.com") for i in range(12)]
    with ThreadPoolExecutor(12) as pool:  # every order three times, all at once
        answers = list(pool.map(lambda o: deliver(fleet.shim_url, o), orders * 3))
    assert all(a.status_code == 200 for a in answers)
    for order in orders:
        erp_order = imported_once(fleet, order["id"])
        customer = erp_get(fleet, f"/customers/{erp_order['customer_id']}")
        assert customer["external_ref"] == f"WC-CUST-{order['customer_id']}"
    fleet.wait_until_idle()
    assert all(len(erp_orders(fleet, f"WC-ORDER-{o['id']}")) == 1 for o in orders)
    for i in range(4):
        assert len(erp_get(fleet, "/customers", external_ref=f"WC-CUST-{7000 + i}")["items"]) == 1
