"""One ERP customer per person, linked both ways.

Finding: a registered buyer by the `WC-CUST-<id>` reference (the fast path), else anyone by the trimmed,
case-folded e-mail; a customer found by e-mail gets the reference added (`update_customer` with
`add_external_ref`) so the next order takes the fast path. Only when neither finds one is a customer
created, under leases on the reference and the e-mail, so concurrent first orders of one person make one
customer; a create
that committed but failed to answer is found by the retry's lookup instead of being made twice.

Keeping up: a found customer whose name, company, phone, VAT id or addresses differ from what the shop
now says is patched with just those fields (nothing when they agree, so repeats are free). The same runs
for `customer.updated` deliveries. The ERP customer number goes back to the shop once: into the shop
customer's meta for registered buyers, into the order's meta for guests (see OrderImporter).
"""
from __future__ import annotations

import hashlib
import logging
from contextlib import ExitStack

from connector import leases
from connector.db import Database
from connector.logs import event
from connector.mapping import customers as mapping

log = logging.getLogger("wooerp.customers")


class CustomerLinker:
    """Finds, links, updates or creates the one ERP customer of a shop buyer (see the module docstring).
    `db` holds the leases; `woo` a ShopPort, `erp` an ErpAdapter; `vat_meta_keys`: the order/customer meta
    keys a VAT id is read from, first found wins; `lease_seconds`: how long a lease on a person lives if
    its holder dies."""
    def __init__(self, db: Database, woo, erp, *, vat_meta_keys=mapping.DEFAULT_VAT_META_KEYS,
                 lease_seconds: float = 120):
        self.db, self.woo, self.erp = db, woo, erp
        self.vat_meta_keys = tuple(vat_meta_keys) or mapping.DEFAULT_VAT_META_KEYS
        self.lease_seconds = lease_seconds

    def for_order(self, order: dict, woo_customer: dict | None = None) -> tuple[dict, mapping.VatCheck]:
        """The order buyer's one ERP customer (found, linked, brought up to date, or created). The VAT id
        comes from the order's meta, else from the registered buyer's shop record (`woo_customer`)."""
        wanted, vat = mapping.customer_from_order(order, self.vat_meta_keys,
                                                  (woo_customer or {}).get("meta_data"))
        return self.ensure(wanted, create=True, fields=mapping.updatable_from_order(order)), vat

    def ensure(self, wanted: dict, *, create: bool, fields=mapping.UPDATABLE) -> dict | None:
        """The ERP customer for `wanted` (an ErpCustomer without id, from connector.mapping.customers): found by
        `external_ref`, else by e-mail (then the reference is added to it), its stale `fields` patched, else
        created when `create` (None when not). Held under leases on the reference and the e-mail; raises
        TransientError while another worker holds one, and the ERP's error families (InvalidDataError when it
        refuses the customer)."""
        ref, email = wanted.get("external_ref"), wanted.get("email")
        # one lease per key the person may be found by, taken in a fixed order (the reference, then the
        # e-mail): two orders of one account with different e-mails, and a guest and a registered order with
        # one e-mail, never both look up and create
        names = [n if len(n) <= 200 else "customer:sha256:" + hashlib.sha256(n.encode()).hexdigest()
                 for n in ([f"customer:ref:{ref}"] if ref else []) + ([f"customer:email:{email}"] if email else [])]
        with ExitStack() as held:
            for name in names:  # the lease table's name column holds 200 characters; e-mails may be 254
                held.enter_context(leases.held(self.db, name, self.lease_seconds))
            found = self.erp.find_customers(external_ref=ref) if ref else []
            changes = {}
            if not found and email:
                found = self.erp.find_customers(email=email)
                if found and ref:
                    changes["add_external_ref"] = ref
            if not found:
                if not create:
                    return None
                created = self.erp.create_customer(wanted)
                event(log, "ERP customer created", customer_id=created["id"], registered=bool(ref))
                return created
            customer = found[0]
            changes.update(mapping.stale_fields(customer, wanted, fields))
            if changes:
                customer = self.erp.update_customer(customer["id"], changes)
                event(log, "ERP customer updated", customer_id=customer["id"], fields=",".join(sorted(changes)))
            return customer

    def from_woo_customer(self, woo_customer_id: int) -> dict | None:
        """A `customer.updated` delivery: re-read the shop customer and bring the linked ERP customer up to
        date (by reference, else by e-mail, which links it). A shop customer nobody ordered as yet gets no
        ERP customer: the first order creates it."""
        woo_customer = self.woo.get_customer(woo_customer_id)
        wanted = mapping.customer_from_woo_customer(woo_customer, self.vat_meta_keys)
        customer = self.ensure(wanted, create=False, fields=mapping.updatable_from_order(woo_customer))
        if customer is not None:
            self.write_number_to_customer(woo_customer, customer)
        return customer

    def write_number_to_customer(self, woo_customer: dict, erp_customer: dict) -> bool:
        """Put the ERP customer number into the shop customer's meta unless it is there already."""
        number = erp_customer.get("number")
        if not number or mapping.meta_value(woo_customer.get("meta_data"), (mapping.CUSTOMER_NUMBER_META,)) == number:
            return False
        self.woo.update_customer(woo_customer["id"], {"meta_data": [{"key": mapping.CUSTOMER_NUMBER_META,
                                                                     "value": number}]})
        event(log, "ERP customer number written to the shop customer", woo_customer_id=woo_customer["id"],
              customer_id=erp_customer.get("id"))
        return True
