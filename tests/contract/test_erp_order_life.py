"""Contract v1.1 of the ERP sandbox for an order's life after creation: `PATCH /sales-orders/{id}` (revision,
412 on a stale one, 409 not_amendable once shipped) and credit notes (lines or amount only, restock, the caps),
over HTTP, and the REST adapter's reading of those answers."""
from __future__ import annotations

import pytest

from connector.erp.protocol import NotAmendable, StaleRevision
from connector.erp.rest import RestErp
from tests.contract.test_erp_sandbox import (TOKEN, erp, erp_sandbox, new_ref, order_body,  # noqa: F401 (fixtures)
                                             sellable_sku, stock_rows)


def patch(erp, order_id: str, body: dict, **headers):
    return erp.api.session.patch(f"{erp.url}/api/v1/sales-orders/{order_id}", json=body, headers=headers, timeout=10)


def new_order(erp, sku: str, **changes) -> dict:
    r = erp.api.post("/sales-orders", order_body(new_ref(), sku, warehouse="MAIN", **changes))
    assert r.status_code == 201, r.text
    return r.json()


THREE = [{"sku": None, "quantity": 3, "unit_price": "10.00", "tax_rate": "19.00", "description": "x"}]


def test_amend_bumps_revision_moves_the_reservation_and_refuses_stale_revisions(erp):
    sku = sellable_sku(erp)
    erp.admin.set_stock(sku, "MAIN", on_hand=20, reserved=0)
    order = new_order(erp, sku)
    assert order["revision"] == 1 and stock_rows(erp, sku)["MAIN"]["reserved"] == 2
    lines = [dict(THREE[0], sku=sku)]
    moved = dict(order["shipping_address"], line1="Neue Str. 9")
    r = patch(erp, order["id"], {"shipping_address": moved, "lines": lines,
                                 "totals": {"net": "34.00", "tax": "6.65", "gross": "40.65"}}, **{"If-Match": "1"})
    assert r.status_code == 200, r.text
    amended = r.json()
    assert amended["revision"] == 2 and amended["modified_at"] > order["modified_at"]
    assert amended["shipping_address"]["line1"] == "Neue Str. 9" and amended["lines"][0]["quantity"] == 3
    assert stock_rows(erp, sku)["MAIN"]["reserved"] == 3
    stale = patch(erp, order["id"], {"note": "late"}, **{"If-Match": "1"})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
    bad = patch(erp, order["id"], {"totals": {"net": "1.00", "tax": "0.00", "gross": "1.00"}})
    assert bad.status_code == 422 and "totals.net" in bad.json()["error"]["fields"]
    assert erp.api.get(f"/sales-orders/{order['id']}").json()["revision"] == 2  # a refused PATCH changes nothing
    assert patch(erp, order["id"], {"external_ref": "WC-ORDER-X"}).status_code == 422


def test_shipped_or_cancelled_orders_are_not_amendable(erp):
    sku = sellable_sku(erp)
    erp.admin.set_stock(sku, "MAIN", on_hand=20, reserved=0)
    shipped, cancelled = new_order(erp, sku), new_order(erp, sku)
    erp.admin.ship_order(shipped["id"], [{"sku": sku, "quantity": 1}])
    erp.api.post(f"/sales-orders/{cancelled['id']}/cancel")
    for order in (shipped, cancelled):
        r = patch(erp, order["id"], {"note": "x"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_amendable"
    adapter = RestErp(erp.url, TOKEN)
    with pytest.raises(NotAmendable):
        adapter.amend_sales_order(shipped["id"], {"note": "x"})
    fresh = new_order(erp, sku)
    assert adapter.amend_sales_order(fresh["id"], {"note": "y"}, revision=1)["revision"] == 2
    with pytest.raises(StaleRevision):
        adapter.amend_sales_order(fresh["id"], {"note": "z"}, revision=1)


def test_credit_notes_with_lines_restock_what_shipped_and_withdraw_what_did_not(erp):
    sku = sellable_sku(erp)
    erp.admin.set_stock(sku, "MAIN", on_hand=10, reserved=0)
    order = new_order(erp, sku)  # 2 units, gross 28.75
    erp.admin.ship_order(order["id"], [{"sku": sku, "quantity": 1}])
    assert (stock_rows(erp, sku)["MAIN"]["on_hand"], stock_rows(erp, sku)["MAIN"]["reserved"]) == (9, 1)
    ref = f"WC-REFUND-{new_ref()[-6:]}"
    r = erp.api.post("/credit-notes", {"external_ref": ref, "sales_order_id": order["id"], "reason": "broken",
                                       "lines": [{"sku": sku, "quantity": 2, "amount": "23.80"}], "restock": True})
    assert r.status_code == 201, r.text
    note = r.json()
    assert note["id"].startswith("CN-") and note["number"].startswith("CN-") and note["amount"] == "23.80"
    row = stock_rows(erp, sku)["MAIN"]
    assert (row["on_hand"], row["reserved"]) == (10, 0)  # the shipped unit is back; the other is no longer to ship
    # its one shipped unit came back, the other will never ship: nothing is left to ship, the order is closed
    assert erp.api.get(f"/sales-orders/{order['id']}").json()["status"] == "shipped"
    assert [n["id"] for n in erp.api.get("/credit-notes", external_ref=ref).json()["items"]] == [note["id"]]
    assert [n["id"] for n in erp.api.get("/credit-notes", sales_order_id=order["id"]).json()["items"]] == [note["id"]]
    assert erp.api.get(f"/credit-notes/{note['id']}").json()["reason"] == "broken"
    more = erp.api.post("/credit-notes", {"external_ref": "WC-REFUND-2", "sales_order_id": order["id"],
                                          "lines": [{"sku": sku, "quantity": 1, "amount": "1.00"}]})
    assert more.status_code == 422 and "lines[0].quantity" in more.json()["error"]["fields"]


def test_amount_only_credit_notes_and_their_caps(erp):
    sku = sellable_sku(erp)
    order = new_order(erp, sku)
    shipping = erp.api.post("/credit-notes", {"external_ref": "WC-REFUND-10", "sales_order_id": order["id"],
                                              "amount": "5.95", "lines": []})
    assert shipping.status_code == 201 and shipping.json()["lines"] == [] and shipping.json()["restock"] is False
    cases = [({"lines": []}, "amount"),  # no lines, no amount
             ({"amount": "30.00"}, "amount"),  # beyond the order's gross with what was credited already
             ({"lines": [{"sku": sku, "quantity": 1, "amount": "10.00"}], "amount": "12.00"}, "amount"),
             ({"lines": [{"sku": "NOT-ON-ORDER", "quantity": 1, "amount": "1.00"}]}, "lines[0].sku"),
             ({"sales_order_id": "SO-999999", "amount": "1.00"}, "sales_order_id")]
    for change, field in cases:
        body = {"external_ref": "WC-REFUND-11", "sales_order_id": order["id"], **change}
        r = erp.api.post("/credit-notes", body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (change, r.text)
    assert erp.api.get("/credit-notes", external_ref="WC-REFUND-11").json()["items"] == []


def test_credit_note_refs_are_not_unique_until_switched_and_a_post_may_commit_then_fail(erp):
    order = new_order(erp, sellable_sku(erp))
    body = {"external_ref": "WC-REFUND-20", "sales_order_id": order["id"], "amount": "1.00"}
    assert [erp.api.post("/credit-notes", body).status_code for _ in range(2)] == [201, 201]
    erp.admin.set_config(enforce_unique_external_ref=True)
    assert erp.api.post("/credit-notes", body).status_code == 409
    erp.admin.set_config(enforce_unique_external_ref=False)
    erp.admin.set_faults([{"method": "POST", "path": "/api/v1/credit-notes", "kind": "commit_then_fail", "count": 1},
                          {"method": "PATCH", "path": "/api/v1/sales-orders/*", "kind": "commit_then_fail",
                           "count": 1}])
    body = dict(body, external_ref="WC-REFUND-21")
    assert erp.api.post("/credit-notes", body).status_code == 502
    assert len(erp.api.get("/credit-notes", external_ref="WC-REFUND-21").json()["items"]) == 1
    assert patch(erp, order["id"], {"note": "kept"}).status_code == 502
    assert erp.api.get(f"/sales-orders/{order['id']}").json()["note"] == "kept"
    erp.admin.clear_faults()


def test_amending_after_a_restocking_credit_note_then_cancelling_leaves_nothing_reserved(erp):
    sku = sellable_sku(erp)
    erp.admin.set_stock(sku, "MAIN", on_hand=20, reserved=5)
    order = new_order(erp, sku)  # 2 units reserved
    assert stock_rows(erp, sku)["MAIN"]["reserved"] == 7
    r = erp.api.post("/credit-notes", {"external_ref": f"WC-REFUND-{new_ref()[-6:]}", "sales_order_id": order["id"],
                                       "lines": [{"sku": sku, "quantity": 1, "amount": "11.90"}], "restock": True})
    assert r.status_code == 201, r.text
    assert stock_rows(erp, sku)["MAIN"]["reserved"] == 6  # the credited unit is withdrawn, no longer to ship
    r = patch(erp, order["id"], {"lines": [dict(THREE[0], sku=sku)],
                                 "totals": {"net": "34.00", "tax": "6.65", "gross": "40.65"}})
    assert r.status_code == 200, r.text
    assert stock_rows(erp, sku)["MAIN"]["reserved"] == 7  # 3 ordered, 1 withdrawn: 2 left to ship
    assert erp.api.post(f"/sales-orders/{order['id']}/cancel").status_code == 200
    assert stock_rows(erp, sku)["MAIN"]["reserved"] == 5  # back to where it was before the order
