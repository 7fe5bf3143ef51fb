"""Orders reach the ERP as the shop shows them, or wait in quarantine with the reason; never a letter a
minute (issue 15, findings 3, 4 and 6, with real workers, beat, shim and sandboxes)."""
from __future__ import annotations

import pytest

from connector import dead_letters
from connector.db import Database
from connector.models import SyncCursor
from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_get, erp_orders, woo_client
from tests.e2e.test_dead_letters import wooerp
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e
BLANK = {k: "" for k in ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
                         "postcode", "country", "phone")}


def listed(fleet, order_id: int, *words: str) -> str | None:
    out = wooerp(fleet, "orders", "list").stdout
    line = next((x for x in out.splitlines() if x.strip().startswith(f"{order_id} ")), "")
    return line if line and all(w in line for w in words) else None


def test_virtual_goods_ship_to_billing_and_an_order_without_email_waits_in_quarantine(fleet):
    """Finding 3: an all-blank shipping address is absent (billing is used, for the customer too); a blank
    billing e-mail is quarantined before any ERP write, not dead-lettered by the ERP's 422."""
    stock_shop(fleet, "SKU-A")
    fleet.start_worker()
    woo = woo_client(fleet)
    virtual = checkout(fleet, email="virtual@example.com")
    virtual = woo.update_order(virtual["id"], {"shipping": BLANK})
    admin = checkout(fleet, email="admin-made@example.com")
    admin = woo.update_order(admin["id"], {"billing": {"email": ""}})
    assert deliver(fleet.shim_url, virtual).status_code == 200
    assert deliver(fleet.shim_url, admin).status_code == 200
    erp_order = imported_once(fleet, virtual["id"])
    assert erp_order["shipping_address"]["country"] == virtual["billing"]["country"]
    [customer] = erp_get(fleet, "/customers", email="virtual@example.com")["items"]
    assert customer["shipping_address"]["country"] == virtual["billing"]["country"]
    line = wait_until(lambda: listed(fleet, admin["id"], "quarantined"), 30, 0.5, "the order in quarantine")
    assert "billing e-mail '' is missing" in line
    assert erp_orders(fleet, f"WC-ORDER-{admin['id']}") == []
    assert dead_letters.listing(Database(fleet.env["DATABASE_URL"]), status=None) == []
    fixed = woo.update_order(admin["id"], {"billing": {"email": "fixed@example.com"}})
    assert deliver(fleet.shim_url, fixed, topic="order.updated").status_code == 200
    imported_once(fleet, admin["id"])  # fixing the order in the shop is enough


def test_an_order_refused_for_good_has_one_letter_while_polls_and_redeliveries_come_until_its_replay(fleet):
    """Finding 4: the order poll and redeliveries do not queue it again, no second letter is written; the
    letter names the order, `orders list` shows why; its replay clears it."""
    stock_shop(fleet, "SKU-A")
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.set_faults([{"method": "POST", "path": "/api/v1/sales-orders", "kind": "error", "status": 409, "rate": 1.0}])
    fleet.start_worker()
    fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
    fleet.start_beat()
    order = checkout(fleet)
    assert deliver(fleet.shim_url, order).status_code == 200
    db = Database(fleet.env["DATABASE_URL"])
    [letter] = wait_until(lambda: dead_letters.listing(db), 60, 0.3, "a dead letter")
    assert letter.resource == f"order {order['id']}"

    def polls_after(mark):
        with db.session() as s:
            row = s.get(SyncCursor, "orders")
            return row.last_success_at if row and row.last_success_at and row.last_success_at > mark else None
    mark = letter.created_at
    for _ in range(3):  # three order polls (ORDER_POLL_SECONDS=3) see the order in the shop's list
        mark = wait_until(lambda: polls_after(mark), 30, 0.3, "an order poll")
    update = woo_client(fleet).update_order(order["id"], {"customer_note": "please hurry"})
    assert deliver(fleet.shim_url, update, topic="order.updated").status_code == 200
    wait_until(lambda: polls_after(mark), 30, 0.3, "one more order poll")
    assert [x.id for x in dead_letters.listing(db, status=None)] == [letter.id]
    assert f"order {order['id']}" in wooerp(fleet, "dead-letters", "list").stdout
    line = listed(fleet, order["id"], "dead_letter", f"dead letter {letter.id}")
    assert line and "409" in line, wooerp(fleet, "orders", "list").stdout

    erp.clear_faults()
    assert "replayed as task" in wooerp(fleet, "dead-letters", "replay", "--id", str(letter.id)).stdout
    imported_once(fleet, order["id"])
    assert len(dead_letters.listing(db, status=None)) == 1
    assert listed(fleet, order["id"]) is None  # done: no longer listed


def test_an_order_deleted_for_good_is_gone_and_its_rest_error_delivery_is_ignored(fleet):
    """Finding 6: 404 from the shop ends the order in state gone, no dead letter; a signed REST error object
    is answered 2xx."""
    stock_shop(fleet, "SKU-A")
    fleet.start_worker()
    order = checkout(fleet)
    woo_client(fleet).call("DELETE", f"orders/{order['id']}", params={"force": "true"})
    assert deliver(fleet.shim_url, order).status_code == 200
    line = wait_until(lambda: listed(fleet, order["id"], "gone"), 30, 0.5, "the order gone")
    assert "gone in WooCommerce" in line and "never imported" in line
    error = {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}}
    answer = deliver(fleet.shim_url, error, topic="order.updated")
    assert answer.status_code == 202 and "ignored" in answer.json()["reason"]
    assert dead_letters.listing(Database(fleet.env["DATABASE_URL"]), status=None) == []
    assert erp_orders(fleet, f"WC-ORDER-{order['id']}") == []


def test_an_erp_sku_containing_the_list_separator_reaches_the_shop(fleet):
    """Finding 5: `?sku=A,B` is split by both APIs; the SKU is read back by its ERP id and found in the
    shop on its own, so the product is written, next to its plain neighbours."""
    erp = ErpSandboxAdmin(fleet.erp_url)
    for sku in ("A,B", "A", "PLAIN-1"):
        erp.add_product(sku, name=f"Product {sku}", list_price="4.20")
    fleet.start_worker()
    fleet.start_beat()
    woo = woo_client(fleet)
    found = wait_until(lambda: [p for p in woo.products_by_sku(["A,B"])] or None, 60, 0.5, "A,B in the shop")
    assert [(p["sku"], p["regular_price"]) for p in found] == [("A,B", "4.20")]
    assert {p["sku"] for p in woo.products_by_sku(["A", "PLAIN-1"])} == {"A", "PLAIN-1"}
    assert "0 order(s), 0 product(s)" in wooerp(fleet, "dead-letters", "list").stdout
    assert dead_letters.listing(Database(fleet.env["DATABASE_URL"]), status=None) == []
