"""The Tryton adapter against a real trytond (one per module, on a copy of the demo database).

The fleet-level paths are in tests/e2e/test_tryton_paths.py; here each protocol method is checked on
its own: keyset paging that never skips a record changed while paging, stock rows and what counts as
reserved, customers, the three-step order creation and its resumption, shipments, error classes.
"""
from __future__ import annotations

import socket

import pytest

from connector.erp.tryton import TrytonErp
from connector.erp.tryton_rpc import TrytonRpc
from connector.errors import InvalidDataError, PermanentError, TransientError
from connector.sync.customers import CustomerLinker
from connector.sync.orders import OrderImporter
from tests.support.tryton import TrytonAdmin, start_tryton

ADDRESS = {"line1": "Hauptstr. 1", "line2": "", "city": "Berlin", "postcode": "10115", "state": "", "country": "DE"}
SIMPLE = {"MUG-BLUE", "MUG-RED", "CAP-GREY", "POSTER-A2"}
VARIANTS = {"TEE-RED-M", "TEE-RED-L", "TEE-BLUE-M"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tryton")
    server = start_tryton(folder / "db", folder / "tryton.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def erp(server) -> TrytonErp:
    return server.adapter()


@pytest.fixture(scope="module")
def admin(server) -> TrytonAdmin:
    return TrytonAdmin(server)


def _all(list_page, since=None, limit=100) -> list[dict]:
    items, cursor = [], None
    for _ in range(100):
        page = list_page(since, cursor, limit)
        items += page.items
        cursor = page.next_cursor
        if not cursor:
            return items
    raise AssertionError("paging does not end")


def _order(erp, ref: str, skus=("MUG-RED",), email="ann@example.com") -> dict:
    customer = erp.find_customers(email=email) or [erp.create_customer(
        {"email": email, "first_name": "Ann", "last_name": "Bee", "external_ref": None,
         "billing_address": ADDRESS, "shipping_address": ADDRESS})]
    return {"external_ref": ref, "customer_id": customer[0]["id"], "currency": "EUR",
            "order_date": "2026-01-05T10:00:00.000Z", "billing_address": ADDRESS, "shipping_address": ADDRESS,
            "lines": [{"sku": sku, "quantity": 2, "unit_price": "12.50", "description": sku} for sku in skus],
            "shipping": {"method": "flat_rate", "amount": "4.90", "tax": "0.00"},
            "discounts": [{"code": "TEN", "amount": "2.50"}], "fees": [],
            "totals": {"net": "27.40", "tax": "0.00", "gross": "27.40"},
            "payment": {"method": "stripe", "transaction_id": "ch_1", "paid_at": None}, "note": ""}


def test_products_page_through_the_catalog_with_parents_and_variants(erp):
    items = _all(erp.list_products, limit=2)
    by_sku = {i["sku"]: i for i in items}
    assert set(by_sku) == SIMPLE | VARIANTS | {"TEE"}
    parent = by_sku["TEE"]
    assert parent["is_parent"] and parent["parent_id"] is None and parent["id"].startswith("T")
    assert {by_sku[s]["parent_id"] for s in VARIANTS} == {parent["id"]}
    assert by_sku["TEE-BLUE-M"]["attributes"] == {"color": "blue", "size": "M"}
    cap = by_sku["CAP-GREY"]
    assert (cap["name"], cap["list_price"], cap["currency"], cap["category_code"], cap["is_active"]) == \
        ("Grey cap", "15.00", "EUR", "APPAREL", True)
    assert cap["parent_id"] is None and cap["attributes"] == {} and cap["id"].startswith("P")


def test_a_product_changed_while_paging_comes_again_and_delta_sees_only_changes(erp, admin):
    first = erp.list_products(None, None, 1)
    assert first.next_cursor
    seen = first.items[0]
    admin.set_price(seen["sku"], "99.00")
    rest = []
    cursor = first.next_cursor
    while cursor:
        page = erp.list_products(None, cursor, 3)
        rest += page.items
        cursor = page.next_cursor
    again = [i for i in rest if i["sku"] == seen["sku"]]
    assert again and again[-1]["list_price"] == "99.00" and again[-1]["modified_at"] >= seen["modified_at"]

    watermark = max(i["modified_at"] for i in first.items + rest)
    admin.set_price("POSTER-A2", "11.00")
    changed = _all(erp.list_products, since=watermark)
    assert {i["sku"] for i in changed} <= {"POSTER-A2", seen["sku"]}
    assert any(i["sku"] == "POSTER-A2" and i["list_price"] == "11.00" for i in changed)


def test_products_by_sku_and_get_product(erp):
    found = {p["sku"]: p for p in erp.products_by_sku(["TEE", "TEE-RED-M", "MUG-BLUE", "NOPE"])}
    assert set(found) == {"TEE", "TEE-RED-M", "MUG-BLUE"}
    assert erp.get_product(found["TEE-RED-M"]["parent_id"])["sku"] == "TEE"
    assert erp.get_product(found["MUG-BLUE"]["id"])["sku"] == "MUG-BLUE"
    with pytest.raises(PermanentError):
        erp.get_product("P999999")
    with pytest.raises(PermanentError):
        erp.products_by_sku([f"S{i}" for i in range(101)])


def test_stock_rows_per_warehouse_and_confirmed_sales_count_as_reserved(erp, server):
    rows = {(r["sku"], r["warehouse"]): r for r in _all(erp.list_inventory, limit=5)}
    assert {s for s, _ in rows} == SIMPLE | VARIANTS
    assert (rows["CAP-GREY", "MAIN"]["on_hand"], rows["CAP-GREY", "STORE2"]["on_hand"]) == (25, 5)
    assert rows["CAP-GREY", "MAIN"]["reserved"] == rows["CAP-GREY", "MAIN"]["safety_stock"] == 0
    watermark = max(r["modified_at"] for r in rows.values())

    sale = erp.create_sales_order(_order(erp, "WC-ORDER-STOCK", skus=("CAP-GREY",)))
    changed = {(r["sku"], r["warehouse"]): r for r in _all(erp.list_inventory, since=watermark)
               if r["modified_at"] > watermark}  # `since` is inclusive: rows at the watermark come again
    assert {s for s, _ in changed} == {"CAP-GREY"}
    assert (changed["CAP-GREY", "MAIN"]["on_hand"], changed["CAP-GREY", "MAIN"]["reserved"]) == (25, 2)
    # the confirmed sale counts as reserved in its warehouse, from a moment the reserving row is not before
    reservation = erp.reservation(sale)
    assert reservation.warehouse == "MAIN" and watermark < reservation.since <= changed["CAP-GREY", "MAIN"]["modified_at"]
    plain = server.adapter(stock_basis="quantity", warehouses=("MAIN",))
    assert plain.reservation(sale) is None  # on hand falls only when it ships
    only_main = [r for r in _all(plain.list_inventory, since=watermark) if r["modified_at"] > watermark]
    assert [(r["warehouse"], r["on_hand"], r["reserved"]) for r in only_main] == [("MAIN", 25, 0)]
    with pytest.raises(PermanentError):
        server.adapter(warehouses=("NOWHERE",)).list_inventory(None, None, 10)


def test_customers_are_found_by_reference_or_email(erp):
    created = erp.create_customer({"external_ref": "WC-CUST-7", "email": "cust7@example.com", "first_name": "Cy",
                                   "last_name": "Dee", "company": "", "phone": "+49 30 1",
                                   "billing_address": ADDRESS, "shipping_address": dict(ADDRESS, line1="Nebenstr. 2")})
    assert created["id"].startswith("C") and created["external_ref"] == "WC-CUST-7"
    assert [c["id"] for c in erp.find_customers(external_ref="WC-CUST-7")] == [created["id"]]
    assert [c["id"] for c in erp.find_customers(email="cust7@example.com")] == [created["id"]]
    assert erp.find_customers(external_ref="WC-CUST-8") == []


def test_a_buyer_is_linked_by_email_then_kept_up_to_date_with_party_objects(erp, db):
    """Tryton's own objects: references and the VAT id as party identifiers, a business named by its company,
    addresses as party addresses; linking and updating twice writes nothing the second time."""
    guest = erp.create_customer({"email": "Link.Me@Example.com", "first_name": "Lin", "last_name": "Kme",
                                 "external_ref": None, "billing_address": ADDRESS})
    billing = {"first_name": "Lin", "last_name": "Kme", "company": "Link AG", "email": " link.me@EXAMPLE.com ",
               "address_1": "Elbchaussee 1", "city": "Hamburg", "postcode": "20095", "country": "DE"}
    order = {"id": 88, "customer_id": 88, "billing": billing, "shipping": {},
             "meta_data": [{"key": "_billing_vat_number", "value": "DE136695976"}]}
    linker = CustomerLinker(db, None, erp)
    linked, vat = linker.for_order(order)
    assert linked["id"] == guest["id"] and vat.problem is None
    assert [c["id"] for c in erp.find_customers(external_ref="WC-CUST-88")] == [guest["id"]]
    party = erp.rpc.model("party.party", "read", [int(guest["id"][1:])],
                          ["name", "identifiers.type", "identifiers.code", "addresses.city", "write_date"])[0]
    assert party["name"] == "Link AG"
    assert {(i["type"], i["code"]) for i in party["identifiers."]} == {(None, "WC-CUST-88"), ("eu_vat", "DE136695976")}
    assert {a["city"] for a in party["addresses."]} == {"Berlin", "Hamburg"}
    assert linker.for_order(order)[0]["id"] == guest["id"]
    again = erp.rpc.model("party.party", "read", [int(guest["id"][1:])], ["write_date", "addresses"])[0]
    assert again["write_date"] == party["write_date"] and len(again["addresses"]) == 2
    malformed = dict(order, id=89, customer_id=89, meta_data=[{"key": "_billing_vat_number", "value": "DE12345"}],
                     billing=dict(billing, email="other@example.com"))
    created, vat = linker.for_order(malformed)  # Tryton refuses a malformed VAT id: the party is made without it
    assert vat.problem and created["vat_id"] == "" and created["external_ref"] == "WC-CUST-89"


def test_product_categories_are_listed_nested_and_delta_paged(erp):
    demo = _all(erp.list_categories, limit=2)
    assert demo and all(c["parent_code"] is None and c["code"] == c["name"] for c in demo)  # demo: names, no codes
    books = erp.rpc.model("product.category", "search_read", [("accounting", "=", True)], 0, None, None, ["name"])
    assert books and not {b["name"] for b in books} & {c["name"] for c in demo}  # income accounts never reach the shop
    top, = erp.rpc.model("product.category", "create", [{"name": "Outdoor", "code": "OUT"}])
    erp.rpc.model("product.category", "create", [{"name": "Tents", "code": "OUT-TENTS", "parent": top}])
    listed = {c["code"]: c for c in _all(erp.list_categories)}
    assert listed["OUT-TENTS"]["parent_code"] == "OUT" and listed["OUT"]["name"] == "Outdoor"
    watermark = max(c["modified_at"] for c in listed.values())
    erp.rpc.model("product.category", "write", [top], {"name": "Outdoors"})
    changed = [c for c in _all(erp.list_categories, since=watermark) if c["modified_at"] > watermark]
    assert [(c["code"], c["name"]) for c in changed] == [("OUT", "Outdoors")]


def test_an_order_becomes_one_numbered_confirmed_sale_with_its_charges(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-100"))
    assert order["number"] and order["status"] == "confirmed" and order["external_ref"] == "WC-ORDER-100"
    assert order["lines"] == [{"sku": "MUG-RED", "quantity": 2, "unit_price": "12.50", "description": "MUG-RED"}]
    assert order["totals"]["net"] == "27.40"  # 2 × 12.50 + shipping 4.90 − discount 2.50
    assert [o["id"] for o in erp.find_sales_orders("WC-ORDER-100")] == [order["id"]]
    listed = [o for o in _all(erp.list_sales_orders) if o["external_ref"] == "WC-ORDER-100"]
    assert [o["id"] for o in listed] == [order["id"]] and listed[0]["modified_at"]
    with pytest.raises(PermanentError):  # Tryton cannot cancel a sale whose shipment exists
        erp.cancel_sales_order(order["id"])


def test_line_amounts_are_exact_with_trytons_price_digits(erp):
    """8.395 × 50 is booked as 419.75 (one line, 4 price digits); 10.00 for 3 is split 2 × 3.33 + 1 × 3.34."""
    order = dict(_order(erp, "WC-ORDER-110"), lines=[
        {"sku": "MUG-RED", "quantity": 50, "unit_price": "8.395", "amount": "419.75", "description": "Wire"},
        {"sku": "MUG-BLUE", "quantity": 3, "unit_price": "3.333", "amount": "10.00", "description": "Rope"}],
        shipping={"method": "flat_rate", "amount": "0.00", "tax": "0.00"}, discounts=[],
        totals={"net": "429.75", "tax": "0.00", "gross": "429.75"})
    created = erp.create_sales_order(order)
    assert created["totals"]["net"] == "429.75"
    assert {(li["sku"], li["quantity"], li["unit_price"]) for li in created["lines"]} == {
        ("MUG-RED", 50, "8.395"), ("MUG-BLUE", 2, "3.33"), ("MUG-BLUE", 1, "3.34")}


def test_a_quotation_can_be_cancelled(server):
    erp = server.adapter(confirm_sales=False)
    order = erp.create_sales_order(_order(erp, "WC-ORDER-101"))
    assert order["status"] == "open" and order["number"]
    assert erp.cancel_sales_order(order["id"])["status"] == "cancelled"
    assert erp.cancel_sales_order(order["id"])["status"] == "cancelled"


def test_an_interrupted_creation_is_found_as_draft_and_finished_by_the_importer(erp, admin, db):
    """A crash after Tryton's create, before quote: the retry adopts that sale, numbers and confirms it."""
    woo = _FakeWoo({"id": 77, "status": "processing", "currency": "EUR", "customer_id": 0,
                    "billing": {"email": "draft@example.com", "first_name": "Dee", "country": "DE", "city": "Berlin",
                                "address_1": "Hauptstr. 1", "postcode": "10115"},
                    "shipping": {}, "payment_method": "bacs", "date_created_gmt": "2026-01-05T10:00:00",
                    "line_items": [{"sku": "MUG-BLUE", "quantity": 1, "subtotal": "12.50", "subtotal_tax": "0.00",
                                    "name": "Blue mug"}],
                    "total": "12.50", "total_tax": "0.00", "shipping_total": "0.00", "discount_total": "0.00",
                    "meta_data": []})
    party = erp.create_customer({"email": "draft@example.com", "first_name": "Dee", "external_ref": None,
                                 "billing_address": ADDRESS})
    sale_id = admin.draft_sale(int(party["id"][1:]), "WC-ORDER-77", "MUG-BLUE", 1, "12.50")
    found, = erp.find_sales_orders("WC-ORDER-77")
    assert (found["status"], found["number"]) == ("draft", None)

    report = OrderImporter(db, woo, erp, import_statuses=("processing",), currencies=("EUR",)).run(77)
    assert report.state == "written_back" and report.erp_order_id == f"S{sale_id}"
    sales = admin.sales("WC-ORDER-77")
    assert len(sales) == 1 and sales[0]["number"] and sales[0]["state"] in ("confirmed", "processing")
    assert woo.meta["_erp_order_number"] == sales[0]["number"]


def test_a_done_shipment_is_listed_with_its_sale_and_tracking(erp, admin):
    order = erp.create_sales_order(_order(erp, "WC-ORDER-200", skus=("MUG-BLUE", "TEE-RED-M")))
    before = _all(erp.list_shipments)
    admin.ship(int(order["id"][1:]), reference="TRACK-200")
    after = [s for s in _all(erp.list_shipments) if s not in before]
    assert len(after) == 1
    shipment = after[0]
    assert (shipment["sales_order_id"], shipment["external_ref"], shipment["tracking_number"]) == \
        (order["id"], "WC-ORDER-200", "TRACK-200")
    assert sorted((li["sku"], li["quantity"]) for li in shipment["lines"]) == [("MUG-BLUE", 2), ("TEE-RED-M", 2)]
    assert erp.find_sales_orders("WC-ORDER-200")[0]["status"] == "shipped"


def test_failures_come_out_as_connector_error_families(erp, server):
    with pytest.raises(InvalidDataError, match="NOPE"):
        erp.create_sales_order(dict(_order(erp, "WC-ORDER-300"), lines=[
            {"sku": "NOPE", "quantity": 1, "unit_price": "1.00"}]))
    party = int(erp.find_customers(email="ann@example.com")[0]["id"][1:])
    sale_id, = erp.rpc.model("sale.sale", "create", [{"party": party, "reference": "WC-ORDER-301"}])
    with pytest.raises(InvalidDataError):  # a Tryton UserError: quoting a sale without lines
        erp.finish_sales_order(f"S{sale_id}")
    with pytest.raises(PermanentError, match="refused the login") as refused:
        TrytonErp(TrytonRpc(server.url, server.database, "wooerp", "wrong-password")).find_sales_orders("x")
    assert "wrong-password" not in str(refused.value)
    with pytest.raises(PermanentError):
        erp.list_products(None, "not-a-cursor", 10)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(TransientError):
        TrytonErp(TrytonRpc(f"http://127.0.0.1:{closed}", "wooerp", "wooerp", "x", timeout=2)).find_sales_orders("x")


def test_an_expired_session_is_renewed(server):
    rpc = server.rpc()
    erp = TrytonErp(rpc)
    assert erp.products_by_sku(["MUG-BLUE"])
    rpc._auth = "Session " + "d29vZXJwOjI6ZXhwaXJlZA=="  # wooerp:2:expired
    assert erp.products_by_sku(["MUG-BLUE"])


class _FakeWoo:
    """The few WooCommerce calls the order importer makes, on one order."""

    def __init__(self, order: dict):
        self.order, self.meta, self.notes = order, {}, []

    def get_order(self, order_id: int) -> dict:
        return dict(self.order, meta_data=[{"key": k, "value": v} for k, v in self.meta.items()])

    def update_order(self, order_id: int, data: dict) -> dict:
        self.meta.update({m["key"]: m["value"] for m in data.get("meta_data", [])})
        return self.get_order(order_id)

    def add_order_note(self, order_id: int, note: str) -> dict:
        self.notes.append({"note": note})
        return self.notes[-1]

    def order_notes(self, order_id: int) -> list[dict]:
        return list(self.notes)
