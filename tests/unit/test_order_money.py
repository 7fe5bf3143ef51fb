"""Money is exact: generated WooCommerce orders map to ERP orders that the ERP sandbox accepts and whose
line amounts, discounts, shipping, fees, tax and gross equal the shop's to the cent (hypothesis)."""
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from connector.erp.tryton import PRICE_DIGITS, exact_lines
from connector.errors import InvalidDataError
from connector.mapping import orders as om
from sandbox.erp.app import create_app

CENT = Decimal("0.01")
RATES = [Decimal(r) for r in ("0", "5.5", "7", "19", "20")]


def r2(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def erp():
    app = create_app("t0ken")
    client = app.test_client()
    assert client.post("/_sandbox/seed", json={"products": 20, "seed": 7}).status_code == 200
    auth = {"Authorization": "Bearer t0ken"}
    items = client.get("/api/v1/products?limit=100", headers=auth).get_json()["items"]
    skus = [p["sku"] for p in items if not p.get("is_parent")]
    customer = client.post("/api/v1/customers", headers=auth, json={
        "external_ref": "WC-CUST-1", "email": "a@b.example", "first_name": "A", "last_name": "B", "company": "",
        "phone": "", "vat_id": "", "billing_address": {"country": "DE"}, "shipping_address": {"country": "DE"}})
    assert customer.status_code == 201, customer.get_json()
    return client, auth, skus, customer.get_json()["id"]


price = st.builds(lambda units, places: Decimal(units).scaleb(-places),
                  st.integers(0, 500_000), st.integers(0, 4))
money = st.builds(lambda c: Decimal(c) / 100, st.integers(0, 5_000))


@st.composite
def woo_orders(draw):
    """A WooCommerce order whose arithmetic is Woo's: per-line tax, coupons on line totals, taxed shipping
    and fees, total = Σ subtotals − discount_total + shipping_total + Σ fees + total_tax."""
    incl = draw(st.booleans())  # prices entered with tax
    coupon_pcts = draw(st.lists(st.integers(0, 30), max_size=2))
    lines, n = [], draw(st.integers(1, 4))
    for i in range(n):
        qty, unit, rate = draw(st.integers(1, 1000)), draw(price), draw(st.sampled_from(RATES))
        if incl:
            gross = r2(qty * unit)
            sub_tax = r2(gross * rate / (100 + rate))
            subtotal = gross - sub_tax
        else:
            subtotal = r2(qty * unit)
            sub_tax = r2(subtotal * rate / 100)
        discount = sum((r2(subtotal * pct / 100) for pct in coupon_pcts), Decimal(0))
        discount = min(discount, subtotal)
        total = subtotal - discount
        lines.append({"id": i + 1, "name": f"Item {i + 1}", "quantity": qty, "price": float(unit),
                      "subtotal": str(subtotal), "subtotal_tax": str(sub_tax), "total": str(total),
                      "total_tax": str(r2(total * rate / 100)), "_discount": discount})
    discount_total = sum((li.pop("_discount") for li in lines), Decimal(0))
    coupons = []
    if coupon_pcts and discount_total:
        first = r2(discount_total / len(coupon_pcts))
        coupons = [{"code": f"C{i}", "discount": str(first)} for i in range(len(coupon_pcts) - 1)]
        coupons.append({"code": "LAST", "discount": str(discount_total - first * (len(coupon_pcts) - 1))})
    ship, ship_rate = draw(money), draw(st.sampled_from(RATES))
    ship_tax = r2(ship * ship_rate / 100)
    fees = []
    for j, cents in enumerate(draw(st.lists(st.integers(-2_000, 2_000), max_size=2))):
        fee = Decimal(cents) / 100
        fees.append({"name": f"Fee {j}", "total": str(fee), "total_tax": str(r2(fee * draw(st.sampled_from(RATES)) / 100))})
    total_tax = (sum((Decimal(li["total_tax"]) for li in lines), Decimal(0)) + ship_tax
                 + sum((Decimal(f["total_tax"]) for f in fees), Decimal(0)))
    subtotals = sum((Decimal(li["subtotal"]) for li in lines), Decimal(0))
    fee_sum = sum((Decimal(f["total"]) for f in fees), Decimal(0))
    total = subtotals - discount_total + ship + fee_sum + total_tax
    assume(total >= 0)
    return {"id": 77, "status": "processing", "currency": "EUR", "customer_id": 1, "prices_include_tax": incl,
            "date_created_gmt": "2026-11-20T09:59:58", "discount_total": str(discount_total),
            "shipping_total": str(ship), "shipping_tax": str(ship_tax), "total_tax": str(total_tax),
            "total": str(total), "payment_method": "bacs", "transaction_id": "", "date_paid_gmt": None,
            "customer_note": "", "billing": {"email": "a@b.example", "country": "DE", "address_1": "S 1",
                                             "city": "Berlin", "postcode": "10115"},
            "shipping": {k: "" for k in ("first_name", "address_1", "city", "postcode", "country")},
            "line_items": lines, "shipping_lines": [{"method_id": "flat_rate", "total": str(ship)}],
            "coupon_lines": coupons, "fee_lines": fees}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(order=woo_orders())
def test_generated_orders_reach_the_erp_sandbox_exact_to_the_cent(erp, order):
    client, auth, skus, customer_id = erp
    for i, li in enumerate(order["line_items"]):
        li["sku"] = skus[i % len(skus)]
    om.validate(order, known_skus=set(skus), currencies=("EUR",))
    body = om.map_order(order, customer_id)
    answer = client.post("/api/v1/sales-orders", headers=auth, json=body)
    assert answer.status_code == 201, answer.get_json()
    stored = client.get(f"/api/v1/sales-orders/{answer.get_json()['id']}", headers=auth).get_json()
    amounts = []
    for woo, line in zip(order["line_items"], stored["lines"]):
        assert line["quantity"] == woo["quantity"]
        assert Decimal(line["amount"]) == Decimal(woo["subtotal"])
        assert r2(line["quantity"] * Decimal(line["unit_price"])) == Decimal(woo["subtotal"])
        amounts.append(Decimal(line["amount"]))
    discounts = sum((Decimal(d["amount"]) for d in stored["discounts"]), Decimal(0))
    fees = sum((Decimal(f["amount"]) for f in stored["fees"]), Decimal(0))
    shipping = Decimal(stored["shipping"]["amount"])
    assert discounts == Decimal(order["discount_total"])
    assert shipping == Decimal(order["shipping_total"])
    assert Decimal(stored["shipping"]["tax"]) == Decimal(order["shipping_tax"])
    assert fees == sum((Decimal(f["total"]) for f in order["fee_lines"]), Decimal(0))
    assert Decimal(stored["totals"]["tax"]) == Decimal(order["total_tax"])
    assert Decimal(stored["totals"]["gross"]) == Decimal(order["total"])
    assert Decimal(stored["totals"]["net"]) == sum(amounts) - discounts + shipping + fees  # exact, no tolerance


@given(qty=st.integers(1, 1000), cents=st.integers(0, 10_000_000))
def test_tryton_lines_book_exactly_the_line_amount_with_its_price_digits(qty, cents):
    amount = Decimal(cents) / 100
    line = {"quantity": qty, "unit_price": str(om.unit_price(amount, qty)), "amount": str(amount)}
    parts = exact_lines(line)
    assert sum(q for q, _ in parts) == qty and all(q > 0 for q, _ in parts)
    assert all(p == p.quantize(Decimal(1).scaleb(-PRICE_DIGITS)) for _, p in parts)
    assert sum((r2(q * p) for q, p in parts), Decimal(0)) == amount


def test_a_price_with_three_decimals_bought_50_times_is_booked_at_its_subtotal(erp):
    """Finding 1: 8.395 × 50 shows 419.75 in the shop; the ERP order says 419.75, not 420.00."""
    client, auth, skus, customer_id = erp
    order = {"id": 5, "currency": "EUR", "discount_total": "0.00", "shipping_total": "0.00", "shipping_tax": "0.00",
             "total_tax": "0.00", "total": "419.75", "payment_method": "bacs",
             "billing": {"email": "a@b.example", "country": "DE"}, "shipping": {},
             "line_items": [{"name": "Wire", "sku": skus[0], "quantity": 50, "price": 8.395, "subtotal": "419.75",
                             "subtotal_tax": "0.00", "total": "419.75", "total_tax": "0.00"}]}
    om.validate(order, known_skus={skus[0]}, currencies=("EUR",))
    body = om.map_order(order, customer_id)
    assert body["lines"][0]["unit_price"] == "8.395" and body["lines"][0]["amount"] == "419.75"
    assert client.post("/api/v1/sales-orders", headers=auth, json=body).status_code == 201
    assert exact_lines(body["lines"][0]) == [(50, Decimal("8.3950"))]


def test_the_sandbox_refuses_a_line_amount_that_is_not_quantity_times_price(erp):
    client, auth, skus, customer_id = erp
    body = {"external_ref": "WC-ORDER-9", "customer_id": customer_id, "currency": "EUR",
            "billing_address": {"country": "DE"},
            "lines": [{"sku": skus[0], "quantity": 50, "unit_price": "8.40", "amount": "419.75"}],
            "totals": {"net": "419.75", "tax": "0.00", "gross": "419.75"}}
    answer = client.post("/api/v1/sales-orders", headers=auth, json=body)
    assert answer.status_code == 422
    assert "lines[0].amount" in answer.get_json()["error"]["fields"]


LINE = {"name": "Rope", "sku": "ROPE", "quantity": 2, "subtotal": "30.00", "subtotal_tax": "0.00",
        "total": "30.00", "total_tax": "0.00"}
BASE = {"id": 8, "currency": "EUR", "discount_total": "0.00", "shipping_total": "0.00", "shipping_tax": "0.00",
        "total_tax": "0.00", "total": "40.00", "payment_method": "bacs",
        "billing": {"email": "a@b.example", "country": "DE"}, "shipping": {},
        "line_items": [dict(LINE, name="Hook", sku="HOOK", quantity=1, subtotal="10.00", total="10.00"), LINE]}


@pytest.mark.parametrize("change, words", [
    ({"quantity": 1.5}, "line 2 'Rope': quantity 1.5 is not a whole number"),
    ({"quantity": "0.5"}, "line 2 'Rope': quantity 0.5 is not a whole number"),
    ({"quantity": 0}, "line 2 'Rope': quantity 0 is not positive"),
    ({"quantity": -2}, "line 2 'Rope': quantity -2 is not positive"),
    ({"quantity": "two"}, "line 2 'Rope': quantity 'two' is not a number"),
    ({"subtotal": "-30.00"}, "line 2 'Rope': subtotal -30.00 is negative"),
    ({"subtotal": "abc"}, "line 2 'Rope': subtotal 'abc' is not a decimal amount"),
    ({"total": "NaN"}, "line 2 'Rope': total 'NaN' is not a decimal amount"),
])
def test_numbers_are_checked_not_coerced(change, words):
    order = dict(BASE, line_items=[BASE["line_items"][0], dict(LINE, **change)])
    with pytest.raises(InvalidDataError) as e:
        om.validate(order, known_skus={"ROPE", "HOOK"}, currencies=("EUR",))
    assert str(e.value) == f"Order 8: {words}"


@pytest.mark.parametrize("change, words", [
    ({"shipping_total": "-5.00"}, "shipping_total -5.00 is negative"),
    ({"discount_total": "x"}, "discount_total 'x' is not a decimal amount"),
    ({"currency": "XBT"}, "currency XBT is not supported"),
])
def test_order_amounts_and_currency_are_checked(change, words):
    with pytest.raises(InvalidDataError) as e:
        om.validate(dict(BASE, **change), known_skus={"ROPE", "HOOK"}, currencies=("EUR",))
    assert words in str(e.value)


def test_a_whole_quantity_sent_as_float_is_that_whole_number():
    order = dict(BASE, line_items=[BASE["line_items"][0], dict(LINE, quantity=2.0)])
    om.validate(order, known_skus={"ROPE", "HOOK"}, currencies=("EUR",))
    assert om.map_order(order, "C-1")["lines"][1]["quantity"] == 2


ADDRESS = {"first_name": "Ann", "address_1": "Street 1", "city": "Berlin", "postcode": "10115", "country": "DE"}


@pytest.mark.parametrize("change, words", [
    ({"billing": dict(ADDRESS, email="")}, "billing e-mail '' is missing"),
    ({"billing": dict(ADDRESS, email="   ")}, "billing e-mail '   ' is missing"),
    ({"billing": dict(ADDRESS, email="a@b.example", country="")}, "billing country '' is missing"),
    ({"billing": dict(ADDRESS, email="a@b.example", country="Germany")}, "billing country 'Germany'"),
    ({"shipping": {"first_name": "Bo", "address_1": "Road 2", "city": "Paris", "country": ""}},
     "shipping address has no valid country"),
])
def test_what_the_erp_requires_is_validated_before_any_erp_write(change, words):
    order = dict(dict(BASE, billing=dict(ADDRESS, email="a@b.example")), **change)
    with pytest.raises(InvalidDataError) as e:
        om.validate(order, known_skus={"ROPE", "HOOK"}, currencies=("EUR",))
    assert words in str(e.value)


@pytest.mark.parametrize("shipping", [
    {}, None, {k: "" for k in ("first_name", "last_name", "company", "address_1", "city", "postcode", "country")},
    {"first_name": "Ann", "last_name": "Bee", "address_1": " ", "country": ""},  # names alone are no address
])
def test_a_blank_shipping_address_is_absent_and_billing_is_used_by_customer_and_order(shipping):
    order = dict(BASE, billing=dict(ADDRESS, email="A@B.example", country="de"), shipping=shipping)
    om.validate(order, known_skus={"ROPE", "HOOK"}, currencies=("EUR",))
    customer, erp = om.map_customer(order), om.map_order(order, "C-1")
    assert customer["shipping_address"] == erp["shipping_address"] == erp["billing_address"]
    assert erp["shipping_address"]["country"] == "DE" and customer["email"] == "a@b.example"


def test_a_filled_shipping_address_is_used_by_customer_and_order():
    order = dict(BASE, billing=dict(ADDRESS, email="a@b.example"),
                 shipping={"address_1": "Rue 3", "city": "Paris", "postcode": "75001", "country": "FR"})
    customer, erp = om.map_customer(order), om.map_order(order, "C-1")
    assert customer["shipping_address"]["country"] == erp["shipping_address"]["country"] == "FR"
