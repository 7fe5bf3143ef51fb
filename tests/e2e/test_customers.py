"""One ERP customer per person, linked both ways: real workers, the shim, both sandboxes over HTTP."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from connector.sync.webhook_setup import ensure_webhooks
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_get, woo_client
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import DEFAULT_SECRET, deliver
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e


def meta(record: dict, key: str):
    return next((m["value"] for m in record.get("meta_data") or [] if m["key"] == key), None)


def customers_by_email(fleet, email: str) -> list[dict]:
    return erp_get(fleet, "/customers", email=email)["items"]


def calls(fleet, route: str) -> int:
    return ErpSandboxAdmin(fleet.erp_url).stats()["requests"].get(route, 0)


def test_guest_then_registered_buyer_is_one_erp_customer_linked_both_ways(fleet):
    stock_shop(fleet, "SKU-A")
    fleet.start_worker()
    woo = woo_client(fleet)
    guest = checkout(fleet, email="Linda.Link@example.com")
    assert deliver(fleet.shim_url, guest).status_code == 200
    imported_once(fleet, guest["id"])
    (customer,) = customers_by_email(fleet, "linda.link@example.com")
    assert meta(woo.get_order(guest["id"]), "_erp_customer_number") == customer["number"]

    registered = checkout(fleet, customer_id=5151, email=" LINDA.link@Example.com ")
    woo.update_customer(5151, {"meta_data": [{"key": "_billing_eu_vat_number", "value": "ATU13585627"}]})
    assert deliver(fleet.shim_url, registered).status_code == 200
    imported_once(fleet, registered["id"])
    (linked,) = customers_by_email(fleet, "linda.link@example.com")
    assert linked["id"] == customer["id"] and "WC-CUST-5151" in linked["external_refs"]
    assert linked["vat_id"] == "ATU13585627"  # from the shop customer's meta, added on linking
    assert [c["id"] for c in erp_get(fleet, "/customers", external_ref="WC-CUST-5151")["items"]] == [customer["id"]]
    assert meta(woo.get_customer(5151), "_erp_customer_number") == customer["number"]
    assert erp_get(fleet, f"/sales-orders?external_ref=WC-ORDER-{registered['id']}")["items"][0]["customer_id"] \
        == customer["id"]

    # the next order takes the fast path: one lookup by reference, nothing created, patched or re-written
    before = {r: calls(fleet, r) for r in ("GET /api/v1/customers", "POST /api/v1/customers",
                                           "PATCH /api/v1/customers/{id}")}
    shop_writes = requests.get(f"{fleet.woo_url}/_sandbox/stats", timeout=10).json()["requests"].get(
        "PUT /wp-json/wc/v3/customers/<id>", 0)
    again = checkout(fleet, customer_id=5151, email="linda.link@example.com")
    assert deliver(fleet.shim_url, again).status_code == 200
    imported_once(fleet, again["id"])
    after = {r: calls(fleet, r) for r in before}
    assert after == {**before, "GET /api/v1/customers": before["GET /api/v1/customers"] + 1}
    assert requests.get(f"{fleet.woo_url}/_sandbox/stats", timeout=10).json()["requests"].get(
        "PUT /wp-json/wc/v3/customers/<id>", 0) == shop_writes == 2  # the test's VAT edit, our number once
    assert meta(woo.get_order(again["id"]), "_erp_customer_number") is None  # registered: on the customer


@pytest.mark.parametrize("commit_then_fail", [False, True], ids=["plain", "create-commits-then-fails"])
def test_concurrent_first_orders_of_a_new_buyer_create_one_erp_customer(fleet, commit_then_fail):
    stock_shop(fleet, "SKU-A")
    erp = ErpSandboxAdmin(fleet.erp_url)
    if commit_then_fail:
        erp.set_faults([{"method": "POST", "path": "/api/v1/customers", "kind": "commit_then_fail", "rate": 1.0,
                         "status": 502}])
    fleet.start_worker(concurrency=4)
    orders = [checkout(fleet, customer_id=6161, email="rush@example.com"),
              checkout(fleet, customer_id=6161, email="rush@example.com"),
              checkout(fleet, email="Rush@Example.com")]
    with ThreadPoolExecutor(3) as pool:
        assert all(a.status_code == 200 for a in pool.map(lambda o: deliver(fleet.shim_url, o), orders))
    erp_orders = [imported_once(fleet, o["id"], timeout=90) for o in orders]
    (customer,) = customers_by_email(fleet, "rush@example.com")
    assert {o["customer_id"] for o in erp_orders} == {customer["id"]}
    assert customer["external_refs"] == ["WC-CUST-6161"]
    if commit_then_fail:
        assert erp.stats()["faults_injected"]["commit_then_fail"] == 1


def test_b2b_fields_reach_the_erp_and_customer_updates_follow(fleet):
    stock_shop(fleet, "SKU-A")
    fleet.start_worker()
    woo = woo_client(fleet)
    order = checkout(fleet, customer_id=7171, email="buyer@acme.example", company="Acme GmbH",
                     meta_data=[{"key": "_billing_vat_number", "value": "DE12345"}])
    assert deliver(fleet.shim_url, order).status_code == 200
    imported_once(fleet, order["id"])
    (customer,) = erp_get(fleet, "/customers", external_ref="WC-CUST-7171")["items"]
    assert (customer["company"], customer["vat_id"]) == ("Acme GmbH", "DE12345")  # passed through as typed
    flagged = [n["note"] for n in woo.order_notes(order["id"]) if "VAT id DE12345" in n["note"]]
    assert len(flagged) == 1 and "not a valid VAT number for DE" in flagged[0]

    # the shop customer moves and corrects the VAT id: customer.updated brings both to the ERP customer
    ensure_webhooks(woo, fleet.shim_url + "/webhooks/woocommerce", DEFAULT_SECRET, ("customer.updated",))
    woo.update_customer(7171, {"billing": {"city": "Hamburg", "postcode": "20095", "address_1": "Elbchaussee 1",
                                           "country": "DE", "company": "Acme GmbH"},
                               "meta_data": [{"key": "_billing_vat_number", "value": "DE136695976"}]})

    def updated():
        c = erp_get(fleet, f"/customers/{customer['id']}")
        return c if c["billing_address"]["city"] == "Hamburg" and c["vat_id"] == "DE136695976" else None
    current = wait_until(updated, 60, 0.5, "the ERP customer updated from customer.updated")
    assert current["billing_address"]["line1"] == "Elbchaussee 1" and current["company"] == "Acme GmbH"
    assert len(erp_get(fleet, "/customers", email="buyer@acme.example")["items"]) == 1
    wait_until(lambda: handled(fleet) == 1, 30, 0.5, "the first customer.updated handled")

    # an update that changes nothing the ERP keeps patches nothing
    patches = calls(fleet, "PATCH /api/v1/customers/{id}")
    woo.update_customer(7171, {"meta_data": [{"key": "newsletter", "value": "yes"}]})
    wait_until(lambda: handled(fleet) == 2, 60, 0.5, "the second customer.updated handled")
    assert calls(fleet, "PATCH /api/v1/customers/{id}") == patches


def handled(fleet) -> int:
    """customer.updated tasks the workers finished."""
    return sum("wooerp.orders.update_customer" in line and "succeeded" in line
               for line in (fleet.logs / "worker.log").read_text().splitlines())
