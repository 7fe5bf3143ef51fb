"""CustomerLinker's decisions against an ERP that keeps customers as the reference ERP does (several
references each, folded e-mail lookup), counting what it writes."""
from connector.sync.customers import CustomerLinker

BILLING = {"first_name": "Kim", "last_name": "Lee", "company": "", "address_1": "Main 1", "city": "Berlin",
           "postcode": "10115", "country": "DE", "email": "Kim@Example.com", "phone": ""}


class Erp:
    def __init__(self):
        self.customers, self.writes = [], []

    def find_customers(self, *, external_ref=None, email=None):
        return [dict(c) for c in self.customers
                if (external_ref and external_ref in c["external_refs"])
                or (email and c["email"].strip().casefold() == email.strip().casefold())]

    def create_customer(self, customer):
        self.writes.append(("create", customer.get("external_ref")))
        made = dict(customer, id=f"C-{len(self.customers) + 1}", number=f"CUST-{len(self.customers) + 1}",
                    external_refs=[customer["external_ref"]] if customer.get("external_ref") else [])
        self.customers.append(made)
        return dict(made)

    def update_customer(self, customer_id, changes):
        self.writes.append(("update", tuple(sorted(changes))))
        c = next(c for c in self.customers if c["id"] == customer_id)
        if changes.get("add_external_ref"):
            c["external_refs"].append(changes["add_external_ref"])
        c.update({k: v for k, v in changes.items() if k != "add_external_ref"})
        return dict(c)


def order(customer_id=0, **billing):  # no shipping address: the billing one ships too
    return {"id": 1, "customer_id": customer_id, "billing": dict(BILLING, **billing), "shipping": {},
            "meta_data": []}


def test_guest_then_registered_then_moved_then_again(db):
    erp = Erp()
    linker = CustomerLinker(db, None, erp)
    guest, _ = linker.for_order(order())
    registered, _ = linker.for_order(order(31, email=" kim@EXAMPLE.com"))
    assert registered["id"] == guest["id"] and erp.customers[0]["external_refs"] == ["WC-CUST-31"]
    assert erp.writes == [("create", None), ("update", ("add_external_ref",))]
    linker.for_order(order(31, city="Hamburg", postcode="20095"))
    # the order ships to billing (it has no shipping address): that says nothing about where the customer's
    # other parcels go, so the ERP customer's shipping address is left as it is
    assert erp.writes[-1] == ("update", ("billing_address",)) and erp.customers[0]["billing_address"]["city"] == \
        "Hamburg" and erp.customers[0]["shipping_address"]["city"] == "Berlin"
    before = len(erp.writes)
    linker.for_order(order(31, city="Hamburg", postcode="20095"))
    assert len(erp.writes) == before  # nothing changed, nothing written


def test_an_update_for_someone_who_never_ordered_creates_nobody_and_long_emails_fit_the_lease(db):
    erp = Erp()
    linker = CustomerLinker(db, None, erp)
    assert linker.ensure({"external_ref": "WC-CUST-9", "email": "nobody@example.com"}, create=False) is None
    long_email = "x" * 240 + "@example.com"
    made, _ = linker.for_order(order(email=long_email))
    assert made["email"] == long_email and erp.writes == [("create", None)]


def test_an_account_being_created_under_another_email_makes_the_second_order_wait(db):
    import pytest

    from connector import leases
    from connector.errors import TransientError
    linker = CustomerLinker(db, None, Erp())
    with leases.held(db, "customer:ref:WC-CUST-5", 60):  # a first order of account 5, with another e-mail
        with pytest.raises(TransientError):
            linker.for_order(order(5, email="second@example.com"))
    with leases.held(db, "customer:email:kim@example.com", 60):  # a guest order with the same e-mail
        with pytest.raises(TransientError):
            linker.for_order(order(6))
