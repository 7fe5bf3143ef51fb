"""The WooCommerce sandbox's refunds and trash, as WooCommerce does them: `orders/<id>/refunds` (line items with
quantities and refund totals, amount-only, api_refund, restock), the order's `refunds` array, `refunded`
after a full refund, and order.deleted / order.restored deliveries for trash and restore."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from decimal import Decimal

from tests.contract.test_woo_sandbox import call, client, err, ok, product, webhook


def paid_order(woo, sku: str, **spec) -> dict:
    product(woo, sku, regular_price="20.00", manage_stock=True, stock_quantity=10)
    return woo.admin.checkout([{"sku": sku, "quantity": 3}], **spec)


def stock(woo, sku: str) -> int:
    return ok(call(woo, "GET", "products", params={"sku": sku}))[0]["stock_quantity"]


def test_partial_line_refund_restocks_and_a_full_refund_makes_the_order_refunded(woo, receiver):
    o = paid_order(woo, "REF-1")
    webhook(woo, receiver, "/wh/refunds", "order.updated")
    assert stock(woo, "REF-1") == 7
    line = o["line_items"][0]
    r = ok(call(woo, "POST", f"orders/{o['id']}/refunds", json={
        "amount": "23.80", "reason": "one arrived broken", "api_refund": False,
        "line_items": [{"id": line["id"], "quantity": 1, "refund_total": "20.00",
                        "refund_tax": [{"id": o["tax_lines"][0]["rate_id"], "refund_total": "3.80"}]}]}), 201)
    assert (r["amount"], r["reason"], r["refunded_payment"]) == ("23.80", "one arrived broken", False)
    (item,) = r["line_items"]
    assert (item["quantity"], item["total"], item["total_tax"], item["sku"]) == (-1, "-20.00", "-3.80", "REF-1")
    assert {"key": "_refunded_item_id", "value": str(line["id"])} in item["meta_data"]
    assert stock(woo, "REF-1") == 8  # restocked (api_restock defaults to true), and counted on the order item
    restocked = ok(call(woo, "GET", f"orders/{o['id']}"))["line_items"][0]["meta_data"]
    assert {(m["key"], m["value"]) for m in restocked} >= {("_restock_refunded_items", "1")}
    order = ok(call(woo, "GET", f"orders/{o['id']}"))
    assert order["refunds"] == [{"id": r["id"], "reason": "one arrived broken", "total": "-23.80"}]
    assert order["status"] == "processing" and order["total"] == o["total"]
    receiver.wait("/wh/refunds", 1)
    assert any(json.loads(d["body"])["refunds"] for d in receiver.got("/wh/refunds"))  # order.updated
    err(call(woo, "GET", f"orders/{r['id']}"), 404, "woocommerce_rest_shop_order_invalid_id")
    left = Decimal(o["total"]) - Decimal("23.80")
    err(call(woo, "POST", f"orders/{o['id']}/refunds", json={"amount": str(left + 1), "api_refund": False}),
        500, "woocommerce_rest_cannot_create_order_refund")
    err(call(woo, "POST", f"orders/{o['id']}/refunds", json={"amount": "-1.00", "api_refund": False}),
        400, "woocommerce_rest_invalid_order_refund")
    rest = ok(call(woo, "POST", f"orders/{o['id']}/refunds", json={
        "amount": str(left), "reason": "goodwill", "api_refund": False, "api_restock": False}), 201)
    assert rest["line_items"] == [] and stock(woo, "REF-1") == 8
    order = ok(call(woo, "GET", f"orders/{o['id']}"))
    assert order["status"] == "refunded" and [x["id"] for x in order["refunds"]] == [rest["id"], r["id"]]
    listed = ok(call(woo, "GET", f"orders/{o['id']}/refunds"))
    assert [x["id"] for x in listed] == [rest["id"], r["id"]]
    assert ok(call(woo, "GET", f"orders/{o['id']}/refunds/{r['id']}"))["amount"] == "23.80"
    err(call(woo, "DELETE", f"orders/{o['id']}/refunds/{rest['id']}"), 501, "woocommerce_rest_trash_not_supported")
    ok(call(woo, "DELETE", f"orders/{o['id']}/refunds/{rest['id']}", params={"force": "true"}))
    assert [x["id"] for x in ok(call(woo, "GET", f"orders/{o['id']}"))["refunds"]] == [r["id"]]
    wait_for(lambda: any([x["id"] for x in json.loads(d["body"])["refunds"]] == [r["id"]]
                         for d in receiver.got("/wh/refunds")))  # the deletion's order.updated, before the next test


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_restocking_refunds_put_back_at_most_what_the_order_took_and_a_cancel_only_the_rest(woo):
    o = paid_order(woo, "REF-3")  # 3 units: stock 10 -> 7
    line = o["line_items"][0]

    def refund(quantity: int) -> None:
        ok(call(woo, "POST", f"orders/{o['id']}/refunds", json={
            "amount": "1.00", "api_refund": False,
            "line_items": [{"id": line["id"], "quantity": quantity, "refund_total": "1.00"}]}), 201)

    refund(1)
    assert stock(woo, "REF-3") == 8
    refund(3)  # only 2 units are still held by the order
    assert stock(woo, "REF-3") == 10
    refund(1)
    assert stock(woo, "REF-3") == 10
    ok(call(woo, "PUT", f"orders/{o['id']}", json={"status": "cancelled"}))
    assert stock(woo, "REF-3") == 10  # nothing left to restore: no phantom units


def test_cancelling_after_a_restocking_refund_restores_only_the_units_still_held(woo):
    o = paid_order(woo, "REF-4")  # 3 units: stock 10 -> 7
    line = o["line_items"][0]
    ok(call(woo, "POST", f"orders/{o['id']}/refunds", json={
        "amount": "1.00", "api_refund": False,
        "line_items": [{"id": line["id"], "quantity": 1, "refund_total": "1.00"}]}), 201)
    assert stock(woo, "REF-4") == 8
    ok(call(woo, "PUT", f"orders/{o['id']}", json={"status": "cancelled"}))
    assert stock(woo, "REF-4") == 10  # the refunded unit is not restocked twice
    notes = [n["note"] for n in ok(call(woo, "GET", f"orders/{o['id']}/notes"))]
    assert any("8&rarr;10" in n for n in notes), notes


def test_api_refund_needs_a_gateway_that_refunds(woo):
    manual = paid_order(woo, "REF-2", payment_method="bacs")
    err(call(woo, "POST", f"orders/{manual['id']}/refunds", json={"amount": "1.00"}),
        500, "woocommerce_rest_cannot_create_order_refund")
    card = ok(call(woo, "GET", f"orders/{paid_order(woo, 'REF-3')['id']}"))
    assert ok(call(woo, "POST", f"orders/{card['id']}/refunds", json={"amount": "1.00"}), 201)["refunded_payment"]
    err(call(woo, "GET", "orders/99999999/refunds"), 404, "woocommerce_rest_invalid_order_id")


def test_trash_and_restore_deliver_order_deleted_and_order_restored(woo, receiver):
    o = paid_order(woo, "REF-4")
    webhook(woo, receiver, "/wh/deleted", "order.deleted")
    webhook(woo, receiver, "/wh/restored", "order.restored")
    assert ok(call(woo, "DELETE", f"orders/{o['id']}"))["status"] == "trash"
    (deleted,) = receiver.wait("/wh/deleted", 1)
    assert json.loads(deleted["body"]) == {"id": o["id"]}
    assert ok(call(woo, "GET", f"orders/{o['id']}"))["status"] == "trash"
    assert woo.admin.restore(o["id"])["status"] == "processing"
    (restored,) = receiver.wait("/wh/restored", 1)
    body = json.loads(restored["body"])
    assert (body["id"], body["status"]) == (o["id"], "processing")
    assert client(woo).get(f"orders/{o['id']}").json()["status"] == "processing"


def before(gmt: str, seconds: int = 60) -> str:
    return (datetime.fromisoformat(gmt[:19]) - timedelta(seconds=seconds)).isoformat()


def after(gmt: str) -> str:
    return before(gmt, -1)


def test_trashed_orders_are_listed_only_when_the_trash_status_is_asked_for(woo):
    """`status=any` (the default) leaves trashed orders out; `status=trash`, alone or among other statuses in
    one listing (the order poll's), returns them with status `trash`, modified at the trashing."""
    kept, trashed = paid_order(woo, "REF-5"), paid_order(woo, "REF-6")
    ok(call(woo, "DELETE", f"orders/{trashed['id']}"))
    modified = ok(call(woo, "GET", f"orders/{trashed['id']}"))["date_modified_gmt"]

    def listed(**params) -> dict:
        return {o["id"]: o["status"] for o in ok(call(woo, "GET", "orders", params={"per_page": 100, **params}))}
    assert trashed["id"] not in listed() and kept["id"] in listed()
    assert listed(status="trash") == {trashed["id"]: "trash"}
    polled = listed(status="processing,cancelled,refunded,trash", orderby="modified", order="asc",
                    dates_are_gmt="true", modified_after=before(trashed["date_modified_gmt"]))
    assert polled.get(trashed["id"]) == "trash" and modified >= trashed["date_modified_gmt"]
    assert trashed["id"] not in listed(status="processing,trash", dates_are_gmt="true", modified_after=after(modified))
    woo.admin.restore(trashed["id"])
    assert listed(status="trash") == {} and listed()[trashed["id"]] == "processing"
