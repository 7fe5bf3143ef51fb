"""Who the buyer is in the ERP: lookup keys, the VAT id from plugin meta keys and its format check, and
which fields of a found ERP customer are stale."""
from connector.mapping.customers import (check_vat, updatable_from_order, customer_from_order, customer_from_woo_customer, meta_value,
                                         stale_fields)

BILLING = {"first_name": "Ada", "last_name": "Lovelace", "company": " Analytical Ltd ", "address_1": "Main St 1",
           "address_2": "", "city": "Berlin", "state": "", "postcode": "10115", "country": "DE",
           "email": "  Ada.Lovelace@Example.COM ", "phone": "+49 30 1"}
EMPTY_SHIPPING = {k: "" for k in ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
                                  "postcode", "country")}


def order(**fields):
    return {"id": 7, "customer_id": 0, "billing": dict(BILLING), "shipping": dict(EMPTY_SHIPPING),
            "meta_data": [], **fields}


def test_registered_buyer_gets_its_reference_and_every_buyer_a_folded_email():
    guest, _ = customer_from_order(order())
    registered, _ = customer_from_order(order(customer_id=42))
    assert guest["external_ref"] is None and registered["external_ref"] == "WC-CUST-42"
    assert guest["email"] == registered["email"] == "ada.lovelace@example.com"
    assert guest["company"] == "Analytical Ltd"


def test_vat_id_comes_from_the_first_configured_meta_key_that_holds_one():
    meta = [{"key": "vat_number", "value": "DE 136 695 976"}, {"key": "_billing_eu_vat_number", "value": "  "}]
    customer, vat = customer_from_order(order(meta_data=meta))
    assert customer["vat_id"] == "DE 136 695 976" and vat.problem is None
    customer, _ = customer_from_order(order(meta_data=[{"key": "my_vat", "value": "ATU13585627"}]),
                                      vat_keys=("my_vat",))
    assert customer["vat_id"] == "ATU13585627"
    assert customer_from_order(order(meta_data=[{"key": "my_vat", "value": "ATU13585627"}]))[0]["vat_id"] == ""
    assert meta_value(None, ("x",)) == ""


def test_a_malformed_vat_id_is_passed_through_and_reported_for_its_country():
    customer, vat = customer_from_order(order(meta_data=[{"key": "_billing_vat_number", "value": "DE12345"}]))
    assert customer["vat_id"] == "DE12345"
    assert vat.problem.startswith("VAT id DE12345 is not a valid VAT number for DE")
    assert check_vat("DE136695975", "DE").problem  # wrong check digit
    assert check_vat("136695976", "DE").problem is None  # typed without the country prefix
    assert check_vat("094259216", "GR").problem is None  # Greece's VAT prefix is EL
    assert check_vat("", "DE") == check_vat("", None)


def test_stale_fields_names_only_what_changed_and_never_erases():
    plain = order(customer_id=42)
    wanted, _ = customer_from_order(plain)
    erp = {"id": "C-1", "first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Ltd",
           "phone": "+49 30 1", "vat_id": "DE136695976",
           "billing_address": {"line1": "Main St 1", "line2": "", "city": "Berlin", "postcode": "10115", "state": "",
                               "country": "DE"},
           "shipping_address": {"line1": "Main St 1", "line2": "", "city": "Berlin", "postcode": "10115",
                                "state": "", "country": "DE"}}
    # an order without VAT id or shipping address of its own erases nothing (its goods ship to billing, which
    # says nothing about where the customer's other parcels go)
    assert stale_fields(erp, wanted, updatable_from_order(plain)) == {}
    moved = order(customer_id=42, billing=dict(BILLING, city="Hamburg", postcode="20095"))
    assert stale_fields(erp, customer_from_order(moved)[0])["shipping_address"]["city"] == "Hamburg"  # all fields
    assert stale_fields(erp, customer_from_order(moved)[0], updatable_from_order(moved)) == {
        "billing_address": {"line1": "Main St 1", "line2": "", "city": "Hamburg", "postcode": "20095", "state": "",
                            "country": "DE"}}
    renamed = customer_from_order(order(billing=dict(BILLING, last_name="King")))[0]
    assert stale_fields(erp, renamed, updatable_from_order(order(billing=dict(BILLING, last_name="King")))) == {"first_name": "Ada", "last_name": "King", "company": "Analytical Ltd"}


def test_a_woo_customer_record_maps_like_an_order_buyer():
    woo = {"id": 5, "email": "Bob@Example.com", "first_name": "Bob", "last_name": "B",
           "billing": dict(BILLING, first_name="Bob", last_name="B"), "shipping": dict(EMPTY_SHIPPING),
           "meta_data": [{"key": "_billing_vat_id", "value": "ATU13585627"}]}
    wanted = customer_from_woo_customer(woo)
    assert (wanted["external_ref"], wanted["email"], wanted["vat_id"], wanted["company"]) == (
        "WC-CUST-5", "bob@example.com", "ATU13585627", "Analytical Ltd")


def test_a_shop_customers_half_filled_shipping_address_never_overwrites_the_erps():
    """F7: the order rule (a country, a street and a city) holds for customer records too."""
    erp = customer_from_order(order())[0]  # ships to billing: Main St 1, Berlin
    woo = {"id": 42, "email": "ada.lovelace@example.com", "billing": dict(BILLING),
           "shipping": dict(EMPTY_SHIPPING, country="FR"), "meta_data": []}
    assert "shipping_address" not in stale_fields(erp, customer_from_woo_customer(woo))
    woo["shipping"] = dict(EMPTY_SHIPPING, country="FR", address_1="1 rue X", city="Paris")
    assert stale_fields(erp, customer_from_woo_customer(woo))["shipping_address"]["city"] == "Paris"


def test_a_malformed_e_mail_of_a_shop_customer_is_never_used():
    woo = {"id": 42, "email": "foo@", "billing": dict(BILLING, email="foo@"), "shipping": {}, "meta_data": []}
    assert customer_from_woo_customer(woo)["email"] == ""
