"""The order's life after import on a real trytond: amendments through Tryton's sale_amendment module and
refunds as Tryton return sales (credit notes), first adapter call by adapter call, then through the order
importer as the fleet runs it (its WooCommerce side is a small fake of the calls the importer makes).
"""
from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from connector.erp.protocol import NotAmendable, StaleRevision
from connector.errors import InvalidDataError
from connector.sync import order_state as st
from connector.sync.orders import OrderImporter
from tests.support.tryton import TrytonAdmin, start_tryton
from tests.tryton.test_adapter import _FakeWoo

ADDRESS = {"line1": "Hauptstr. 1", "line2": "", "city": "Berlin", "postcode": "10115", "state": "", "country": "DE"}
MOVED = {"line1": "Elbchaussee 9", "line2": "3. OG", "city": "Hamburg", "postcode": "22763", "state": "",
         "country": "DE"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tryton-life")
    server = start_tryton(folder / "db", folder / "tryton.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def erp(server):
    return server.adapter()


@pytest.fixture(scope="module")
def admin(server) -> TrytonAdmin:
    return TrytonAdmin(server)


def _line(sku: str, quantity: int, price: str = "12.50") -> dict:
    amount = f"{quantity * float(price):.2f}"
    return {"sku": sku, "quantity": quantity, "unit_price": price, "amount": amount, "tax_rate": "0.00",
            "description": sku}


def _order(erp, ref: str, lines: list[dict]) -> dict:
    customer = erp.find_customers(email="life@example.com") or [erp.create_customer(
        {"email": "life@example.com", "first_name": "Liv", "last_name": "Long", "external_ref": None,
         "billing_address": ADDRESS, "shipping_address": ADDRESS})]
    net = sum(float(li["amount"]) for li in lines) + 4.90
    return {"external_ref": ref, "customer_id": customer[0]["id"], "currency": "EUR",
            "order_date": "2026-01-05T10:00:00.000Z", "billing_address": ADDRESS, "shipping_address": ADDRESS,
            "lines": lines, "shipping": {"method": "flat_rate", "amount": "4.90", "tax": "0.00"},
            "discounts": [], "fees": [], "totals": {"net": f"{net:.2f}", "tax": "0.00", "gross": f"{net:.2f}"},
            "payment": {"method": "stripe", "transaction_id": "ch_1", "paid_at": None}, "note": ""}


def _sale(admin: TrytonAdmin, order_id: str) -> dict:
    return admin.rpc.model("sale.sale", "read", [int(order_id[1:])], [
        "revision", "comment", "shipment_address.city", "shipments", "amendments"])[0]


def _outgoing(admin: TrytonAdmin, order_id: str) -> dict[str, float]:
    """What the sale's waiting shipment will take out, per SKU, and where it goes."""
    shipment = admin.rpc.model("stock.shipment.out", "read", _sale(admin, order_id)["shipments"],
                               ["delivery_address.city", "outgoing_moves"])[0]
    moves = admin.rpc.model("stock.move", "read", shipment["outgoing_moves"], ["product.code", "quantity"])
    out = {"city": shipment["delivery_address."]["city"]}
    for move in moves:
        out[move["product."]["code"]] = out.get(move["product."]["code"], 0) + move["quantity"]
    return out


def _outgoing_waiting(admin: TrytonAdmin, order_id: str) -> dict[str, float]:
    """What the sale's shipments still waiting will take out, per SKU."""
    ids = admin.rpc.model("stock.shipment.out", "search", [("id", "in", _sale(admin, order_id)["shipments"]),
                                                           ("state", "=", "waiting")], 0, None, None)
    out: dict[str, float] = {}
    for shipment in admin.rpc.model("stock.shipment.out", "read", ids, ["outgoing_moves"]):
        for move in admin.rpc.model("stock.move", "read", shipment["outgoing_moves"], ["product.code", "quantity"]):
            out[move["product."]["code"]] = out.get(move["product."]["code"], 0) + move["quantity"]
    return out


def _on_hand(erp, sku: str, warehouse: str = "MAIN") -> int:
    rows, cursor = [], None
    while True:
        page = erp.list_inventory(None, cursor, 500)
        rows += page.items
        cursor = page.next_cursor
        if not cursor:
            break
    return next(r["on_hand"] for r in rows if (r["sku"], r["warehouse"]) == (sku, warehouse))


def _returns(admin: TrytonAdmin, reference: str) -> list[dict]:
    ids = admin.rpc.model("sale.sale", "search", [("reference", "=", reference)], 0, None, None)
    return admin.rpc.model("sale.sale", "read", ids, ["origin", "state", "total_amount", "shipment_method",
                                                      "shipment_returns", "lines.quantity", "lines.product"])


# -- amendments ---------------------------------------------------------------------------------------------
def test_an_open_sale_takes_a_new_address_quantity_and_note_as_one_tryton_amendment(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-500", [_line("MUG-RED", 2), _line("CAP-GREY", 1, "15.00")]))
    assert (order["revision"], _outgoing(admin, order["id"])) == (0, {"city": "Berlin", "MUG-RED": 2, "CAP-GREY": 1})
    wanted = _order(erp, "WC-ORDER-500", [_line("MUG-RED", 3), _line("CAP-GREY", 1, "15.00")])
    changes = {"shipping_address": MOVED, "lines": wanted["lines"], "totals": wanted["totals"], "note": "ring twice"}

    amended = erp.amend_sales_order(order["id"], changes, revision=0)
    assert amended["revision"] == 1 and amended["totals"]["net"] == "57.40"  # 3 × 12.50 + 15.00 + 4.90
    assert amended["shipping_address"]["city"] == "Hamburg" and amended["note"] == "ring twice"
    assert erp.comparable(amended) == erp.comparable(wanted | {"shipping_address": MOVED, "note": "ring twice"})
    # the warehouse sees it: the waiting shipment goes to Hamburg with the third mug
    assert _outgoing(admin, order["id"]) == {"city": "Hamburg", "MUG-RED": 3, "CAP-GREY": 1}
    sale = _sale(admin, order["id"])
    assert len(sale["amendments"]) == 1 and sale["comment"].startswith("ring twice\nShop totals: net 57.40")

    again = erp.amend_sales_order(order["id"], changes, revision=1)  # the same change again: nothing to do
    assert again["revision"] == 1 and len(_sale(admin, order["id"])["amendments"]) == 1
    with pytest.raises(StaleRevision):  # someone amended it since revision 0 was read
        erp.amend_sales_order(order["id"], {"note": "leave at the door"}, revision=0)

    fewer = erp.amend_sales_order(order["id"], {"lines": [_line("MUG-RED", 3)]}, revision=1)
    assert [(li["sku"], li["quantity"]) for li in fewer["lines"]] == [("MUG-RED", 3)] and fewer["revision"] == 2
    assert _outgoing(admin, order["id"]) == {"city": "Hamburg", "MUG-RED": 3}


def test_a_line_a_confirmed_sale_never_had_is_refused_with_the_reason(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-501", [_line("MUG-RED", 1)]))
    with pytest.raises(InvalidDataError, match="existing lines.*POSTER-A2"):
        erp.amend_sales_order(order["id"], {"lines": [_line("MUG-RED", 1), _line("POSTER-A2", 1, "9.90")]})
    assert erp.find_sales_orders("WC-ORDER-501")[0]["revision"] == 0  # nothing half-applied
    with pytest.raises(InvalidDataError, match="NO-SUCH-SKU"):
        erp.amend_sales_order(order["id"], {"lines": [_line("NO-SUCH-SKU", 1)]})


def test_a_sale_the_warehouse_has_shipped_is_not_amendable(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-502", [_line("MUG-BLUE", 1)]))
    admin.ship(int(order["id"][1:]), reference="TRACK-502")
    with pytest.raises(NotAmendable, match="shipped") as raised:
        erp.amend_sales_order(order["id"], {"shipping_address": MOVED})
    assert raised.value.status == 409  # what the REST adapter raises for 409 not_amendable
    assert _sale(admin, order["id"])["amendments"] == []


def test_a_quotation_is_edited_directly(server, admin):
    quoting = server.adapter(confirm_sales=False)
    order = quoting.create_sales_order(_order(quoting, "WC-ORDER-503", [_line("MUG-BLUE", 1)]))
    amended = quoting.amend_sales_order(order["id"], {"lines": [_line("MUG-BLUE", 1), _line("POSTER-A2", 2, "9.90")],
                                                      "billing_address": MOVED})
    assert amended["status"] == "open" and amended["billing_address"]["city"] == "Hamburg"
    assert [(li["sku"], li["quantity"]) for li in amended["lines"]] == [("MUG-BLUE", 1), ("POSTER-A2", 2)]


# -- credit notes -------------------------------------------------------------------------------------------
def test_a_refund_of_shipped_goods_is_a_return_sale_restocked_only_when_the_shop_restocked(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-510", [_line("MUG-RED", 2), _line("CAP-GREY", 2, "15.00")]))
    admin.ship(int(order["id"][1:]), reference="TRACK-510")
    mugs, caps = _on_hand(erp, "MUG-RED"), _on_hand(erp, "CAP-GREY")

    back = erp.create_credit_note({"external_ref": "WC-REFUND-71", "sales_order_id": order["id"], "reason": "broken",
                                   "lines": [{"sku": "MUG-RED", "quantity": 1, "amount": "14.88"}],
                                   "amount": "14.88", "restock": True})
    assert (back["external_ref"], back["sales_order_id"], back["amount"], back["restock"], back["lines"]) == (
        "WC-REFUND-71", order["id"], "14.88", True, [{"sku": "MUG-RED", "quantity": 1, "amount": "14.88"}])
    assert back["number"] and back["reason"] == "broken"
    tryton, = _returns(admin, "WC-REFUND-71")
    assert tryton["origin"] == f"sale.sale,{order['id'][1:]}" and Decimal(str(tryton["total_amount"])) == Decimal("-14.88")
    assert [li["quantity"] for li in tryton["lines."]] == [-1.0] and tryton["shipment_returns"]
    assert _on_hand(erp, "MUG-RED") == mugs + 1  # received from the customer and put away

    kept = erp.create_credit_note({"external_ref": "WC-REFUND-72", "sales_order_id": order["id"], "reason": "",
                                   "lines": [{"sku": "CAP-GREY", "quantity": 2, "amount": "20.00"}],
                                   "amount": "20.00", "restock": False})
    assert (kept["restock"], kept["lines"]) == (False, [{"sku": "CAP-GREY", "quantity": 2, "amount": "20.00"}])
    tryton, = _returns(admin, "WC-REFUND-72")
    assert tryton["shipment_method"] == "manual" and tryton["shipment_returns"] == []
    assert _on_hand(erp, "CAP-GREY") == caps  # money back, the caps stay with the customer

    assert [n["external_ref"] for n in erp.find_credit_notes(sales_order_id=order["id"])] == [
        "WC-REFUND-71", "WC-REFUND-72"]
    listed = {n["external_ref"] for n in erp.list_credit_notes(None, None, 500).items}
    assert {"WC-REFUND-71", "WC-REFUND-72"} <= listed
    refs = {o["external_ref"] for o in erp.list_sales_orders(None, None, 500).items}
    assert "WC-ORDER-510" in refs and not any(r.startswith("WC-REFUND-") for r in refs if r)


def test_a_refund_without_lines_is_an_amount_only_return(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-511", [_line("MUG-BLUE", 1)]))
    note = erp.create_credit_note({"external_ref": "WC-REFUND-73", "sales_order_id": order["id"],
                                   "reason": "late delivery", "lines": [], "amount": "4.90", "restock": True})
    assert (note["amount"], note["lines"], note["restock"]) == ("4.90", [], False)
    tryton, = _returns(admin, "WC-REFUND-73")
    assert [(li["product"], li["quantity"]) for li in tryton["lines."]] == [(None, -1.0)]
    assert tryton["shipment_returns"] == []


def test_a_return_whose_creation_stopped_half_way_is_found_and_finished_not_made_again(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-513", [_line("MUG-RED", 1)]))
    admin.ship(int(order["id"][1:]), reference="TRACK-513")
    mugs = _on_hand(erp, "MUG-RED")
    sale = admin.rpc.model("sale.sale", "read", [int(order["id"][1:])], ["party", "invoice_address",
                                                                         "shipment_address"])[0]
    product = admin.product_id("MUG-RED")
    unit = admin.rpc.model("product.product", "read", [product], ["default_uom"])[0]["default_uom"]
    admin.rpc.model("sale.sale", "create", [{  # what the first of Tryton's calls left before a crash
        "party": sale["party"], "invoice_address": sale["invoice_address"], "shipment_address":
        sale["shipment_address"], "reference": "WC-REFUND-75", "origin": f"sale.sale,{order['id'][1:]}",
        "shipment_method": "order", "lines": [["create", [{"type": "line", "product": product, "quantity": -1.0,
                                                         "unit": unit, "unit_price": "12.50"}]]]}])
    found, = erp.find_credit_notes(external_ref="WC-REFUND-75")
    assert found["number"] and found["restock"] and found["amount"] == "12.50"
    assert erp.find_credit_notes(external_ref="WC-REFUND-75") == [found]
    assert len(_returns(admin, "WC-REFUND-75")) == 1 and _on_hand(erp, "MUG-RED") == mugs + 1


# -- refunds restocking units Tryton has not shipped: withdrawn by amendment -----------------------------
def _reserved(erp, sku: str, warehouse: str = "MAIN") -> int:
    rows = erp.list_inventory(None, None, 500).items
    return next(r["reserved"] for r in rows if (r["sku"], r["warehouse"]) == (sku, warehouse))


def _refund(ref: str, order: dict, lines: list[tuple[str, int, str]], amount: str, reason: str = "") -> dict:
    return {"external_ref": ref, "sales_order_id": order["id"], "reason": reason, "restock": True, "amount": amount,
            "lines": [{"sku": sku, "quantity": qty, "amount": value} for sku, qty, value in lines]}


def _refund_amendments(admin: TrytonAdmin, order: dict) -> list[dict]:
    ids = admin.rpc.model("sale.amendment", "search", [("sale", "=", int(order["id"][1:])),
                                                       ("description", "like", "WooCommerce: refund %")], 0, None, None)
    return admin.rpc.model("sale.amendment", "read", ids, ["state", "description"])


@pytest.fixture
def invoiced_on(admin):
    """Switch the invoice method of the sales a test creates; the demo's `manual` again afterwards."""
    chosen = []

    def choose(method: str) -> None:
        chosen.append(admin.invoice_method(method))
    yield choose
    if chosen:
        admin.invoice_method(chosen[0])


def test_units_not_shipped_yet_are_withdrawn_by_one_amendment_and_tryton_credits_the_posted_invoice(
        erp, admin, invoiced_on):
    invoiced_on("order")
    order = erp.create_sales_order(_order(erp, "WC-ORDER-530", [_line("MUG-BLUE", 3)]))
    sale_id = int(order["id"][1:])
    admin.post_invoices(sale_id)  # invoiced on order: the accountant has posted the invoice of 42.40
    reserved = _reserved(erp, "MUG-BLUE")

    note = erp.create_credit_note(_refund("WC-REFUND-84", order, [("MUG-BLUE", 1, "12.50")], "12.50", "cancelled"))
    amendment, = _refund_amendments(admin, order)
    number = _sale(admin, order["id"])
    assert (note["id"], note["external_ref"], note["amount"], note["restock"], note["reason"]) == (
        f"A{amendment['id']}", "WC-REFUND-84", "12.50", True, "cancelled")
    assert note["lines"] == [{"sku": "MUG-BLUE", "quantity": 1, "amount": "12.50"}] and note["number"].endswith(
        f"/A{amendment['id']}") and amendment["state"] == "validated"
    assert number["revision"] == 1 and _returns(admin, "WC-REFUND-84") == []  # no return sale: nothing to credit twice
    # the warehouse will ship two mugs, the third is free again, and Tryton credits it: a draft credit invoice
    assert _outgoing(admin, order["id"]) == {"city": "Berlin", "MUG-BLUE": 2}
    assert _reserved(erp, "MUG-BLUE") == reserved - 1
    assert [(i["state"], Decimal(str(i["total_amount"]))) for i in admin.invoices(sale_id)] == [
        ("posted", Decimal("42.40")), ("draft", Decimal("-12.50"))]

    assert erp.find_credit_notes(external_ref="WC-REFUND-84") == [note]
    assert erp.find_credit_notes(sales_order_id=order["id"]) == [note]
    assert "WC-REFUND-84" in {n["external_ref"] for n in erp.list_credit_notes(None, None, 500).items}
    assert erp.create_credit_note(_refund("WC-REFUND-84", order, [("MUG-BLUE", 1, "12.50")], "12.50")) == note
    assert len(_refund_amendments(admin, order)) == 1 and len(admin.invoices(sale_id)) == 2
    # the sale as the shop ordered it: three mugs (one credited), so the importer finds nothing to amend
    sale, = erp.find_sales_orders("WC-ORDER-530")
    assert sale["status"] == "confirmed" and sale["totals"]["net"] == "42.40"
    assert erp.comparable(sale) == erp.comparable(_order(erp, "WC-ORDER-530", [_line("MUG-BLUE", 3)]))
    # the shop manager then adds a fourth mug: Tryton's line goes to 3, the credited mug stays withdrawn
    amended = erp.amend_sales_order(order["id"], {"lines": [_line("MUG-BLUE", 4)]})
    assert amended["lines"][0]["quantity"] == 4 and _outgoing(admin, order["id"]) == {"city": "Berlin", "MUG-BLUE": 3}
    assert erp.find_credit_notes(external_ref="WC-REFUND-84") == [note]


def test_invoiced_on_fulfillment_the_withdrawn_units_are_never_invoiced_and_the_tax_is_a_return(
        erp, admin, invoiced_on):
    invoiced_on("fulfillment")
    order = erp.create_sales_order(_order(erp, "WC-ORDER-531", [_line("MUG-BLUE", 2), _line("CAP-GREY", 1, "15.00")]))
    sale_id = int(order["id"][1:])

    note = erp.create_credit_note(_refund("WC-REFUND-85", order, [("MUG-BLUE", 1, "14.88")], "14.88"))
    back, = _returns(admin, "WC-REFUND-85")  # the shop's tax on the mug is not in Tryton's sale: a return credits it
    assert Decimal(str(back["total_amount"])) == Decimal("-2.38") and back["shipment_returns"] == []
    assert (note["id"], note["amount"], note["restock"]) == (f"R{back['id']}", "14.88", True)
    assert note["lines"] == [{"sku": "MUG-BLUE", "quantity": 1, "amount": "12.50"}]
    assert _outgoing(admin, order["id"]) == {"city": "Berlin", "MUG-BLUE": 1, "CAP-GREY": 1}

    admin.ship(sale_id, reference="TRACK-531")  # Tryton invoices what it shipped: one mug, the cap, shipping
    assert sum(Decimal(str(i["total_amount"])) for i in admin.invoices(sale_id)) == Decimal("32.40")
    assert erp.find_credit_notes(sales_order_id=order["id"]) == [note]


def test_a_full_refund_with_restock_before_shipment_withdraws_the_whole_sale_and_the_order_ends_cancelled(
        erp, admin, db):
    shop = _Shop(_woo_order(532, mugs=2))
    importer = OrderImporter(db, shop, erp, import_statuses=("processing",), currencies=("EUR",))
    report = importer.run(532)
    assert report.state == st.WRITTEN_BACK, report.detail
    sale_id = report.erp_order_id
    reserved = _reserved(erp, "MUG-RED")

    shop.order["status"] = "refunded"  # the customer cancels before the warehouse ships; the shop restocks
    shop.order["line_items"][0]["meta_data"] = [{"key": "_restock_refunded_items", "value": "2"}]
    shop.refunds = [{"id": 93, "amount": "29.90", "reason": "cancelled", "line_items": [
        {"sku": "MUG-RED", "quantity": -2, "total": "-25.00", "total_tax": "0.00"}]}]
    for _ in range(2):
        report = importer.run(532)
        assert report.state == st.CANCELLED, report.detail
    amendment, = _refund_amendments(admin, {"id": sale_id})
    assert _returns(admin, "WC-REFUND-93") == []  # shipping included: the amendment credits all 29.90
    tryton = admin.rpc.model("sale.sale", "read", [int(sale_id[1:])], ["untaxed_amount", "shipments",
                                                                        "lines.quantity"])[0]
    assert Decimal(str(tryton["untaxed_amount"])) == 0 and [li["quantity"] for li in tryton["lines."]] == [0, 0]
    assert tryton["shipments"] == [] and _reserved(erp, "MUG-RED") == reserved - 2  # nothing left to ship
    note, = erp.find_credit_notes(sales_order_id=sale_id)
    assert (note["amount"], note["lines"]) == ("29.90", [{"sku": "MUG-RED", "quantity": 2, "amount": "25.00"}])
    assert shop.meta["_erp_credit_note_93"] == note["number"]
    assert erp.find_sales_orders("WC-ORDER-532")[0]["status"] == "cancelled"


def test_a_refund_of_shipped_and_unshipped_units_returns_the_shipped_and_withdraws_the_rest(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-533", [_line("MUG-RED", 2), _line("CAP-GREY", 2, "15.00")]))
    sale_id = int(order["id"][1:])
    admin.ship(sale_id, reference="TRACK-533", only=("MUG-RED",))  # the caps follow in a second shipment
    assert _outgoing_waiting(admin, order["id"]) == {"CAP-GREY": 2}
    mugs, caps = _on_hand(erp, "MUG-RED"), _reserved(erp, "CAP-GREY")

    note = erp.create_credit_note(_refund("WC-REFUND-86", order, [("MUG-RED", 1, "12.50"), ("CAP-GREY", 1, "15.00")],
                                          "27.50"))
    back, = _returns(admin, "WC-REFUND-86")
    assert [(li["quantity"]) for li in back["lines."]] == [-1.0] and back["shipment_returns"]
    assert Decimal(str(back["total_amount"])) == Decimal("-12.50")
    assert _on_hand(erp, "MUG-RED") == mugs + 1  # the shipped mug came back
    assert _outgoing_waiting(admin, order["id"]) == {"CAP-GREY": 1} and _reserved(erp, "CAP-GREY") == caps - 1
    assert (note["id"], note["amount"]) == (f"R{back['id']}", "27.50")
    assert sorted((ln["sku"], ln["quantity"], ln["amount"]) for ln in note["lines"]) == [
        ("CAP-GREY", 1, "15.00"), ("MUG-RED", 1, "12.50")]
    assert erp.find_credit_notes(external_ref="WC-REFUND-86") == [note]


def test_a_refund_stopped_between_the_amendment_and_the_return_is_finished_not_made_twice(erp, admin, monkeypatch):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-534", [_line("MUG-BLUE", 2)]))
    refund = _refund("WC-REFUND-87", order, [("MUG-BLUE", 1, "14.88")], "14.88")
    model = erp.rpc.model

    def crash_before_the_return(name, method, *args, **kw):
        if (name, method) == ("sale.sale", "create") and args and args[0][0].get("reference") == "WC-REFUND-87":
            raise ConnectionError("the worker died here")
        return model(name, method, *args, **kw)
    monkeypatch.setattr(erp.rpc, "model", crash_before_the_return)
    with pytest.raises(ConnectionError):
        erp.create_credit_note(refund)
    monkeypatch.undo()
    assert len(_refund_amendments(admin, order)) == 1 and _returns(admin, "WC-REFUND-87") == []
    assert erp.find_credit_notes(external_ref="WC-REFUND-87") == []  # not whole yet: the caller asks again
    assert erp.find_credit_notes(sales_order_id=order["id"]) == []

    note = erp.create_credit_note(refund)
    assert note["amount"] == "14.88" and note["lines"] == [{"sku": "MUG-BLUE", "quantity": 1, "amount": "12.50"}]
    assert erp.create_credit_note(refund) == note and erp.find_credit_notes(external_ref="WC-REFUND-87") == [note]
    back, = _returns(admin, "WC-REFUND-87")
    assert Decimal(str(back["total_amount"])) == Decimal("-2.38")
    assert len(_refund_amendments(admin, order)) == 1 and _outgoing(admin, order["id"]) == {"city": "Berlin",
                                                                                           "MUG-BLUE": 1}


def test_restocking_units_the_warehouse_has_started_on_is_refused_with_the_reason(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-512", [_line("MUG-BLUE", 2)]))
    admin.ship(int(order["id"][1:]), reference="TRACK-512", steps=("assign_try",))  # reserved on the shelf
    with pytest.raises(InvalidDataError, match="1 × MUG-BLUE that sale .* has not shipped .* no unstarted shipment"):
        erp.create_credit_note(_refund("WC-REFUND-88", order, [("MUG-BLUE", 1, "12.50")], "12.50"))
    assert _returns(admin, "WC-REFUND-88") == [] and _refund_amendments(admin, order) == []


def test_units_a_person_invoiced_by_hand_are_not_withdrawn(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-535", [_line("MUG-BLUE", 2)]))
    admin.root.model("sale.sale", "manual_invoice", [int(order["id"][1:])])  # invoice method manual (the demo's)
    with pytest.raises(InvalidDataError, match="invoiced manually"):
        erp.create_credit_note(_refund("WC-REFUND-89", order, [("MUG-BLUE", 1, "12.50")], "12.50"))
    assert _returns(admin, "WC-REFUND-89") == [] and _refund_amendments(admin, order) == []


# -- through the order importer -----------------------------------------------------------------------------
class _Shop(_FakeWoo):
    """The WooCommerce calls the importer and the order's life make, on one order, with its refunds."""

    def __init__(self, order: dict):
        super().__init__(order)
        self.refunds = []

    def get_order(self, order_id: int) -> dict:
        return dict(copy.deepcopy(super().get_order(order_id)),
                    refunds=[{"id": r["id"], "total": f"-{r['amount']}"} for r in self.refunds])

    def order_refunds(self, order_id: int) -> list[dict]:
        return copy.deepcopy(self.refunds)


def _woo_order(oid: int, mugs: int) -> dict:
    total = f"{mugs * 12.50 + 4.90:.2f}"
    return {"id": oid, "status": "processing", "currency": "EUR", "customer_id": 0, "customer_note": "",
            "billing": {"email": "life@example.com", "first_name": "Liv", "last_name": "Long", "country": "DE",
                        "city": "Berlin", "address_1": "Hauptstr. 1", "postcode": "10115"},
            "shipping": {}, "payment_method": "bacs", "date_created_gmt": "2026-01-05T10:00:00",
            "date_modified_gmt": "2026-01-05T10:00:00", "shipping_lines": [{"method_id": "flat_rate"}],
            "line_items": [{"id": 1, "sku": "MUG-RED", "quantity": mugs, "subtotal": f"{mugs * 12.50:.2f}",
                            "subtotal_tax": "0.00", "name": "Red mug", "meta_data": []}],
            "total": total, "total_tax": "0.00", "shipping_total": "4.90", "shipping_tax": "0.00",
            "discount_total": "0.00", "meta_data": []}


def test_the_importer_amends_once_then_credits_each_refund_once(erp, admin, db):
    shop = _Shop(_woo_order(520, mugs=2))
    importer = OrderImporter(db, shop, erp, import_statuses=("processing",), currencies=("EUR",))
    report = importer.run(520)
    assert report.state == st.WRITTEN_BACK, report.detail
    sale_id = report.erp_order_id

    shop.order = _woo_order(520, mugs=3)  # the shop manager adds a mug and corrects the address
    shop.order["shipping"] = {"first_name": "Liv", "address_1": "Elbchaussee 9", "city": "Hamburg",
                              "postcode": "22763", "country": "DE"}
    shop.order["date_modified_gmt"] = "2026-01-05T11:00:00"
    for _ in range(2):
        report = importer.run(520)
        assert report.state == st.WRITTEN_BACK, report.detail
    assert _sale(admin, sale_id)["revision"] == 1 and len(_sale(admin, sale_id)["amendments"]) == 1
    assert _outgoing(admin, sale_id) == {"city": "Hamburg", "MUG-RED": 3}

    admin.ship(int(sale_id[1:]), reference="TRACK-520")
    shop.order["line_items"][0]["meta_data"] = [{"key": "_restock_refunded_items", "value": "1"}]
    shop.refunds = [
        {"id": 91, "amount": "12.50", "reason": "broken",
         "line_items": [{"sku": "MUG-RED", "quantity": -1, "total": "-12.50", "total_tax": "0.00"}]},
        {"id": 92, "amount": "4.90", "reason": "late", "line_items": []}]
    for _ in range(2):
        report = importer.run(520)
        assert report.state == st.WRITTEN_BACK, report.detail
    assert len(_returns(admin, "WC-REFUND-91")) == 1 and len(_returns(admin, "WC-REFUND-92")) == 1
    notes = {n["external_ref"]: n for n in erp.find_credit_notes(sales_order_id=sale_id)}
    assert (notes["WC-REFUND-91"]["restock"], notes["WC-REFUND-92"]["amount"]) == (True, "4.90")
    assert shop.meta["_erp_credit_note_91"] == notes["WC-REFUND-91"]["number"]
    assert sum(notes["WC-REFUND-92"]["number"] in n["note"] for n in shop.notes) == 1

    shop.order["customer_note"] = "too late: shipped"  # amended after shipment: a person decides
    report = importer.run(520)
    assert report.state == st.ATTENTION and "after shipment" in report.detail


def test_the_importer_withdraws_a_cancelled_unit_once_and_does_not_amend_it_back(erp, admin, db):
    shop = _Shop(_woo_order(536, mugs=3))
    importer = OrderImporter(db, shop, erp, import_statuses=("processing",), currencies=("EUR",))
    report = importer.run(536)
    assert report.state == st.WRITTEN_BACK, report.detail
    sale_id = report.erp_order_id

    shop.order["line_items"][0]["meta_data"] = [{"key": "_restock_refunded_items", "value": "1"}]
    shop.refunds = [{"id": 94, "amount": "12.50", "reason": "one less", "line_items": [
        {"sku": "MUG-RED", "quantity": -1, "total": "-12.50", "total_tax": "0.00"}]}]
    for _ in range(2):  # the shop's order still lists three mugs: the third is credited, not amended back
        report = importer.run(536)
        assert report.state == st.WRITTEN_BACK, report.detail
    assert len(_refund_amendments(admin, {"id": sale_id})) == 1 and _sale(admin, sale_id)["revision"] == 1
    assert _outgoing(admin, sale_id) == {"city": "Berlin", "MUG-RED": 2} and _returns(admin, "WC-REFUND-94") == []
    note, = erp.find_credit_notes(sales_order_id=sale_id)
    assert shop.meta["_erp_credit_note_94"] == note["number"] and note["restock"]


def test_a_refund_amendment_left_in_draft_by_a_crash_is_replaced_not_applied_twice(erp, admin, monkeypatch):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-537", [_line("CAP-GREY", 3, "15.00")]))
    model = erp.rpc.model

    def crash_before_validating(name, method, *args, **kw):
        if (name, method) == ("sale.amendment", "validate_amendment"):
            raise ConnectionError("the worker died here")
        return model(name, method, *args, **kw)
    monkeypatch.setattr(erp.rpc, "model", crash_before_validating)
    refund = _refund("WC-REFUND-90", order, [("CAP-GREY", 2, "30.00")], "30.00")
    with pytest.raises(ConnectionError):
        erp.create_credit_note(refund)
    monkeypatch.undo()
    assert [a["state"] for a in _refund_amendments(admin, order)] == ["draft"]
    assert erp.find_credit_notes(external_ref="WC-REFUND-90") == []

    note = erp.create_credit_note(refund)
    assert [a["state"] for a in _refund_amendments(admin, order)] == ["validated"] and note["amount"] == "30.00"
    assert _outgoing(admin, order["id"]) == {"city": "Berlin", "CAP-GREY": 1}


def test_a_refund_below_what_withdrawing_credits_in_tryton_is_refused_with_the_reason(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-538", [_line("MUG-BLUE", 2)]))
    with pytest.raises(InvalidDataError, match="credits 10.00, less than the 12.50 Tryton credits"):  # a coupon share
        erp.create_credit_note(_refund("WC-REFUND-95", order, [("MUG-BLUE", 1, "10.00")], "10.00"))
    assert _refund_amendments(admin, order) == [] and _outgoing(admin, order["id"]) == {"city": "Berlin", "MUG-BLUE": 2}


def test_a_sale_whose_rest_a_refund_withdrew_after_a_partial_shipment_reads_shipped(erp, admin):
    """Finding 5 on Tryton: once every unit of a partially shipped sale is shipped or withdrawn by a refund's
    amendment, the adapter answers `shipped` (nothing left to ship), as the reference ERP does."""
    order = erp.create_sales_order(_order(erp, "WC-ORDER-590", [_line("CAP-GREY", 1, "15.00"),
                                                                _line("TEE-RED-M", 1, "19.90")]))
    sale_id = int(order["id"][1:])
    admin.ship(sale_id, reference="TRACK-590", only=("CAP-GREY",))
    assert erp.find_sales_orders("WC-ORDER-590")[0]["status"] == "partially_shipped"
    erp.create_credit_note(_refund("WC-REFUND-190", order, [("TEE-RED-M", 1, "19.90")], "19.90"))
    assert _outgoing_waiting(admin, order["id"]) == {}  # the T-shirt will never ship
    assert erp.find_sales_orders("WC-ORDER-590")[0]["status"] == "shipped"


def _taxed_woo_order(oid: int, mugs: int) -> dict:
    """An order under shop tax (DE 19 %): each mug 12.50 + 2.375 tax, shipping 4.90 + 0.93."""
    order = _woo_order(oid, mugs)
    net, tax = Decimal("12.50") * mugs, (Decimal("2.375") * mugs).quantize(Decimal("0.01"))
    order["line_items"][0].update(subtotal=str(net), subtotal_tax=str(tax), total=str(net), total_tax=str(tax))
    order.update(shipping_tax="0.93", total_tax=str(tax + Decimal("0.93")),
                 total=str(net + Decimal("4.90") + tax + Decimal("0.93")))
    return order


def _tryton_net(admin: TrytonAdmin, sale_id: str) -> Decimal:
    """What Tryton keeps of the sale without tax: the sale (less what amendments withdrew) and its returns."""
    sale = admin.rpc.model("sale.sale", "read", [int(sale_id[1:])], ["untaxed_amount"])[0]
    ids = admin.rpc.model("sale.sale", "search", [("origin", "=", f"sale.sale,{sale_id[1:]}")], 0, None, None)
    returns = admin.rpc.model("sale.sale", "read", ids, ["untaxed_amount"])
    return Decimal(str(sale["untaxed_amount"])) + sum((Decimal(str(r["untaxed_amount"])) for r in returns), Decimal(0))


def test_under_shop_tax_tryton_credits_refunds_net_as_it_booked_the_sale(erp, admin, db, invoiced_on):
    invoiced_on("fulfillment")
    shop = _Shop(_taxed_woo_order(541, mugs=4))  # gross 65.33 = net 54.90 + tax 10.43
    importer = OrderImporter(db, shop, erp, import_statuses=("processing",), currencies=("EUR",))
    report = importer.run(541)
    assert report.state == st.WRITTEN_BACK, report.detail
    sale_id = report.erp_order_id
    assert _tryton_net(admin, sale_id) == Decimal("54.90")  # Tryton books the shop's net, the tax is only quoted

    # one mug refunded, kept by the customer (no restock): 12.50 + 2.38 tax
    shop.refunds = [{"id": 97, "amount": "14.88", "reason": "scratched", "line_items": [
        {"sku": "MUG-RED", "quantity": -1, "total": "-12.50", "total_tax": "-2.38"}]}]
    report = importer.run(541)
    assert report.state == st.WRITTEN_BACK, report.detail
    back, = _returns(admin, "WC-REFUND-97")
    assert [li["quantity"] for li in back["lines."]] == [-1.0] and Decimal(str(back["total_amount"])) == Decimal("-12.50")
    assert _tryton_net(admin, sale_id) == Decimal("42.40")  # the shop keeps 3 mugs + shipping net

    # two mugs refunded with restock before shipment: 25.00 + 4.75 tax; the tax is no extra credit line
    shop.order["line_items"][0]["meta_data"] = [{"key": "_restock_refunded_items", "value": "2"}]
    shop.refunds.append({"id": 98, "amount": "29.75", "reason": "cancelled", "line_items": [
        {"sku": "MUG-RED", "quantity": -2, "total": "-25.00", "total_tax": "-4.75"}]})
    report = importer.run(541)
    assert report.state == st.WRITTEN_BACK, report.detail
    assert _returns(admin, "WC-REFUND-98") == [] and len(_refund_amendments(admin, {"id": sale_id})) == 1
    assert _tryton_net(admin, sale_id) == Decimal("17.40")  # 1 mug + shipping, as the shop keeps it net

    # the shipping refunded: 4.90 + 0.93 tax
    shop.refunds.append({"id": 99, "amount": "5.83", "reason": "late", "line_items": [], "shipping_lines": [
        {"total": "-4.90", "total_tax": "-0.93"}]})
    report = importer.run(541)
    assert report.state == st.WRITTEN_BACK, report.detail
    assert _tryton_net(admin, sale_id) == Decimal("12.50")
    notes = {n["external_ref"]: n["amount"] for n in erp.find_credit_notes(sales_order_id=sale_id)}
    assert notes == {"WC-REFUND-97": "12.50", "WC-REFUND-98": "25.00", "WC-REFUND-99": "4.90"}


def test_the_inventory_poll_sees_the_reservation_a_full_withdrawal_released(erp, admin):
    """Withdrawing every unit of a line before shipment deletes its planned moves: no move date changes, yet
    the product's reservation is gone; the next delta poll must report it (else the shop under-offers)."""
    order = erp.create_sales_order(_order(erp, "WC-ORDER-542", [_line("CAP-GREY", 2, "15.00")]))
    reserved = _reserved(erp, "CAP-GREY")
    other = int(erp.products_by_sku(["POSTER-A2"])[0]["id"][1:])
    admin.rpc.model("product.product", "write", [other], {"description": "touched after the sale"})
    rows = erp.list_inventory(None, None, 500).items
    watermark = max(r["modified_at"] for r in rows)  # a poll has seen everything up to this later change
    assert [r["sku"] for r in erp.list_inventory(watermark, None, 500).items if r["sku"] == "CAP-GREY"] == []

    note = erp.create_credit_note(_refund("WC-REFUND-542", order, [("CAP-GREY", 2, "30.00")], "30.00"))
    assert note["id"].startswith("A")  # withdrawn by amendment: its planned moves are deleted
    seen, cursor = [], None
    while True:
        page = erp.list_inventory(watermark, cursor, 50)
        seen += [r for r in page.items if (r["sku"], r["warehouse"]) == ("CAP-GREY", "MAIN")]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen and seen[-1]["reserved"] == reserved - 2
