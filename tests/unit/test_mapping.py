from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from connector.errors import InvalidDataError
from connector.mapping import orders as om
from connector.mapping import products as pm
from connector.mapping import transforms

ERP_PRODUCT = {"id": "P-1", "sku": "TSHIRT-RED-M", "parent_id": None, "name": "T-Shirt", "description": "<p>x</p>",
               "list_price": "19.9", "is_active": True, "weight_kg": "0.350", "category_code": "APPAREL",
               "ean": "4006381333931", "attributes": {}, "modified_at": "2026-11-20T10:00:00.123Z"}


def test_product_mapping_follows_the_table_and_never_touches_promotions():
    payload = pm.map_product(ERP_PRODUCT)
    assert payload["regular_price"] == "19.90" and payload["weight"] == "0.35"
    assert payload["status"] == "publish" and payload["type"] == "simple"
    assert "sale_price" not in payload and "date_on_sale_from" not in payload
    assert {"key": "_erp_product_id", "value": "P-1"} in payload["meta_data"]


def test_inactive_product_is_hidden_not_deleted():
    payload = pm.map_product(dict(ERP_PRODUCT, is_active=False))
    assert payload["status"] == "private" and payload["catalog_visibility"] == "hidden"


@pytest.mark.parametrize("change", [{"sku": ""}, {"list_price": "abc"}, {"list_price": None}, {"list_price": "-1"}])
def test_bad_erp_products_are_invalid_data(change):
    with pytest.raises(InvalidDataError):
        pm.map_product(dict(ERP_PRODUCT, **change))


def test_hash_changes_only_with_the_payload():
    assert pm.payload_hash(pm.map_product(ERP_PRODUCT)) == pm.payload_hash(pm.map_product(dict(ERP_PRODUCT)))
    assert pm.payload_hash(pm.map_product(ERP_PRODUCT)) != pm.payload_hash(
        pm.map_product(dict(ERP_PRODUCT, list_price="21.00")))


ORDER = {
    "id": 4821, "status": "processing", "currency": "EUR", "customer_id": 0, "date_created_gmt": "2026-11-20T09:59:58",
    "discount_total": "3.98", "shipping_total": "4.90", "shipping_tax": "0.93", "total": "47.82", "total_tax": "7.10",
    "payment_method": "stripe", "transaction_id": "ch_1", "date_paid_gmt": None, "customer_note": "",
    "billing": {"first_name": "Dana", "last_name": "W", "email": "Dana@Example.com", "country": "DE",
                "address_1": "Street 1", "city": "Berlin", "postcode": "10115"},
    "shipping": {"country": "DE", "address_1": "Street 1", "city": "Berlin", "postcode": "10115"},
    "line_items": [{"name": "T-Shirt", "sku": "TSHIRT-RED-M", "quantity": 2, "subtotal": "39.80",
                    "subtotal_tax": "7.56", "total": "35.82", "price": 17.91}],
    "shipping_lines": [{"method_id": "flat_rate", "total": "4.90"}],
    "coupon_lines": [{"code": "WINTER10", "discount": "3.98"}], "fee_lines": [],
}


def test_order_maps_to_an_erp_order_whose_totals_add_up():
    erp = om.map_order(ORDER, "C-1")
    assert erp["external_ref"] == "WC-ORDER-4821"
    assert erp["lines"] == [{"sku": "TSHIRT-RED-M", "quantity": 2, "unit_price": "19.90", "amount": "39.80",
                             "tax_rate": "18.99", "description": "T-Shirt"}]
    net = sum(Decimal(l["unit_price"]) * l["quantity"] for l in erp["lines"]) - Decimal("3.98") + Decimal("4.90")
    assert Decimal(erp["totals"]["net"]) == net
    assert Decimal(erp["totals"]["gross"]) == Decimal(erp["totals"]["net"]) + Decimal(erp["totals"]["tax"])


def test_a_line_carries_the_tax_rate_the_shop_applied_not_one_derived_from_rounded_amounts():
    """7.56 / 39.80 reads as 18.99 %; the shop says which rate it applied (the line's `taxes` ids and the
    order's `tax_lines[].rate_percent`), and several rates on one line add up."""
    line = dict(ORDER["line_items"][0], taxes=[{"id": 1, "total": "6.81", "subtotal": "7.56"}])
    order = dict(ORDER, line_items=[line], tax_lines=[{"id": 90, "rate_id": 1, "rate_percent": 19}])
    assert om.map_order(order, "C-1")["lines"][0]["tax_rate"] == "19.00"
    two = dict(line, taxes=[{"id": 1, "subtotal": "7.00"}, {"id": 2, "subtotal": "0.56"}, {"id": 3, "subtotal": ""}])
    order = dict(order, line_items=[two], tax_lines=[{"rate_id": 1, "rate_percent": 17.5}, {"rate_id": 2,
                                                                                           "rate_percent": 1.5}])
    assert om.map_order(order, "C-1")["lines"][0]["tax_rate"] == "19.00"


def test_guests_are_keyed_by_email_and_customers_by_reference():
    assert om.customer_key(ORDER) == ("email", "dana@example.com")
    assert om.customer_key(dict(ORDER, customer_id=57)) == ("external_ref", "WC-CUST-57")


@pytest.mark.parametrize("change, words", [
    ({"line_items": [dict(ORDER["line_items"][0], sku="TSHIRT-X")]}, "SKU TSHIRT-X is unknown in the ERP"),
    ({"shipping": {}, "billing": dict(ORDER["billing"], country="")}, "billing country '' is missing"),
    ({"payment_method": ""}, "no payment method"),
    ({"total": "99.00"}, "totals do not add up"),
    ({"currency": "XYZ"}, "currency XYZ is not supported"),
    # F7: a shipping address with only a country cannot be shipped to; each missing part is named
    ({"shipping": {"country": "FR"}}, "shipping address has no street (address_1) and no city"),
    ({"shipping": {"country": "FR", "postcode": "75001", "address_1": " "}}, "no street (address_1) and no city"),
    ({"shipping": {"country": "FR", "address_1": "1 rue X"}}, "shipping address has no city;"),
    ({"shipping": {"country": "FR", "city": "Paris"}}, "shipping address has no street (address_1);"),
    # F7: the e-mail must look like an address
    ({"billing": dict(ORDER["billing"], email="foo@")}, "billing e-mail 'foo@' is missing or not an address"),
    ({"billing": dict(ORDER["billing"], email="foo@bar")}, "billing e-mail 'foo@bar'"),
    ({"billing": dict(ORDER["billing"], email="@example.com")}, "billing e-mail '@example.com'"),
    ({"billing": dict(ORDER["billing"], email="a b@example.com")}, "billing e-mail 'a b@example.com'"),
    ({"billing": dict(ORDER["billing"], email="a@@example.com")}, "billing e-mail 'a@@example.com'"),
    ({"billing": dict(ORDER["billing"], email="a@example..com")}, "billing e-mail 'a@example..com'"),
    ({"billing": dict(ORDER["billing"], email="Dana <d@example.com>")}, "billing e-mail 'Dana <d@example.com>'"),
])
def test_invalid_orders_are_refused_with_a_readable_reason(change, words):
    with pytest.raises(InvalidDataError) as e:
        om.validate(dict(ORDER, **change), known_skus={"TSHIRT-RED-M"}, currencies=("EUR",))
    assert words in str(e.value) and "Order 4821" in str(e.value)


def test_a_consistent_order_passes_validation():
    om.validate(ORDER, known_skus={"TSHIRT-RED-M"}, currencies=("EUR",))


@pytest.mark.parametrize("shipping", [{}, {"country": "", "address_1": "", "city": ""}])
def test_an_all_blank_shipping_address_ships_to_billing_and_passes(shipping):
    order = dict(ORDER, shipping=shipping)
    om.validate(order, known_skus={"TSHIRT-RED-M"}, currencies=("EUR",))
    assert om.map_customer(order)["shipping_address"]["city"] == "Berlin"


@pytest.mark.parametrize("address", ["dana@example.com", "Dana.W+shop@mail.example.co.uk", "x@a.b"])
def test_ordinary_addresses_are_e_mails(address):
    assert om.is_email(address)


@pytest.mark.parametrize("weight, expected", [("10", "10"), ("10.0", "10"), ("100", "100"), ("1.500", "1.5"),
                                              ("0.000", "0"), ("-0", "0"), (2500, "2500"), ("0.0001", "0.0001")])
def test_weight_reaches_the_shop_as_a_plain_number(weight, expected):
    # a whole-kilo weight once reached WooCommerce as "1E+1", which it stores as text and shows as is
    product = pm.map_product({"sku": "W-1", "name": "Anvil", "list_price": "9.99", "weight_kg": weight,
                              "is_active": True})
    assert product["weight"] == expected


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**9, max_value=10**9, places=6))
def test_decimal_string_is_plain_and_exact(value):
    text = transforms.decimal_string(value)
    assert "E" not in text.upper()
    assert Decimal(text) == value
