"""The one interface the sync use-cases need from an ERP. The REST adapter implements the reference
contract; an adapter for another ERP implements the same methods and nothing above it changes.

Adapters raise only connector.errors families. Money is a decimal string, quantities are ints,
timestamps ISO 8601 UTC strings. Sales order statuses: open, confirmed, partially_shipped, shipped,
cancelled, and draft for an order whose creation was interrupted (see `finish_sales_order`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from connector.errors import PermanentError
from connector.records import ErpCustomer, ErpProduct, SalesOrder


@dataclass(frozen=True)
class Reservation:
    """How an ERP order shows in the ERP's stock rows (see connector/holds.py).

    `warehouse`: the stock row's warehouse code the order reserves in (None: not known).
    `since`: an ERP timestamp such that every version of that stock row with `modified_at >= since`
    already counts the order, and every version from before the order has `modified_at < since`
    (None: not known)."""
    warehouse: str | None
    since: str | None


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paged ERP list: its records (connector.records shapes) and the cursor of the
    next page (None on the last one). Read pages through connector.paging.erp_pages."""
    items: list[dict]
    next_cursor: str | None


class ErpAdapter(Protocol):
    """What the sync use-cases need from an ERP (shapes: connector.records). Every method raises only
    connector.errors families: TransientError (timeouts, 5xx, 429 with retry_after, a locked database)
    is retried by the task; PermanentError (auth, 4xx, bad configuration) dead-letters; InvalidDataError
    (a record the ERP refuses, with its field messages) quarantines the record. Delta lists take
    `modified_since` (inclusive, ISO UTC; None: from the start), an opaque `cursor` (None: first page)
    and `limit` (1..500) and answer a Page ordered by (modified_at, id)."""

    def identity(self) -> dict:
        """What durably names this ERP tenant (stable across restarts, different for another tenant), as a
        small dict of strings; wooerp records it and refuses to run against another tenant."""
        ...

    def list_products(self, modified_since: str | None, cursor: str | None, limit: int = 100) -> Page:
        """A delta page of ErpProduct records (parents, variants and simple products alike)."""
        ...

    def products_by_sku(self, skus: list[str]) -> list[ErpProduct]:
        """The products holding `skus` (≤ 100, none with a comma), any order; unknown SKUs are absent."""
        ...

    def get_product(self, product_id: str) -> ErpProduct:
        """One product by ERP id; PermanentError with status 404 when there is none."""
        ...

    def list_categories(self, modified_since: str | None, cursor: str | None, limit: int = 100) -> Page:
        """A delta page of ErpCategory records `{code, name, parent_code, modified_at}` (contract v1.1)."""
        ...

    def list_inventory(self, modified_since: str | None, cursor: str | None, limit: int = 100) -> Page:
        """A delta page of StockRow records, one per (sku, warehouse), quantities as ints."""
        ...

    def list_shipments(self, modified_since: str | None, cursor: str | None, limit: int = 100) -> Page:
        """A delta page of ErpShipment records."""
        ...

    def find_customers(self, *, external_ref: str | None = None, email: str | None = None) -> list[ErpCustomer]:
        """Customers carrying `external_ref` (e.g. "WC-CUST-42") or having `email`; zero or more."""
        ...

    def create_customer(self, customer: ErpCustomer) -> ErpCustomer:
        """Create a customer and return it with its `id` and `number`; InvalidDataError on refusal (422).
        Not idempotent: callers look up by external_ref first."""
        ...

    def get_customer(self, customer_id: str) -> ErpCustomer:
        """One customer by ERP id; PermanentError with status 404 when there is none."""
        ...

    def update_customer(self, customer_id: str, changes: dict) -> ErpCustomer:
        """Patch the customer and return it. `changes` holds fields of `create_customer` (name, company,
        phone, vat_id, addresses) and/or `add_external_ref`, a further reference the customer is then found
        by (adding one it already carries changes nothing). Idempotent."""
        ...

    def find_sales_orders(self, external_ref: str) -> list[SalesOrder]:
        """Every sales order carrying `external_ref` (zero, one, or several: an ERP need not enforce
        uniqueness); drafts included. The lookup that makes order creation idempotent."""
        ...

    def list_sales_orders(self, modified_since: str | None, cursor: str | None, limit: int = 100) -> Page:
        """A delta page of SalesOrder records (as answered by the ERP, with id, number and status)."""
        ...

    def create_sales_order(self, order: SalesOrder) -> SalesOrder:
        """Create, number and confirm a sales order; returns it with id, number and status. May commit
        and still fail to answer (TransientError): callers look it up by external_ref before retrying.
        InvalidDataError (422) for an unknown SKU, bad quantities or totals that do not add up."""
        ...

    def finish_sales_order(self, order_id: str) -> SalesOrder:
        """Complete an order whose creation stopped half-way and return it. A real ERP creates, numbers and
        confirms an order in separate steps; an order left between them is found with status `draft`
        (no number yet) and finished here, never created again. Idempotent."""
        ...

    def cancel_sales_order(self, order_id: str) -> SalesOrder:
        """Cancel the order and return it with status `cancelled`; the ERP releases what it still
        reserved. A refusal by the ERP's workflow (e.g. already shipped) raises an error family above."""
        ...

    def amend_sales_order(self, order_id: str, changes: dict, *, revision: int | None = None) -> dict:
        """Replace some of an open order's fields (addresses, lines, shipping, discounts, fees, totals, note,
        payment: the shapes of `create_sales_order`) and return the order with its new `revision`. Raises
        NotAmendable when the ERP no longer takes changes (shipped, cancelled, or it cannot amend at all),
        StaleRevision when `revision` is given and no longer the order's."""
        ...

    def find_credit_notes(self, *, external_ref: str | None = None, sales_order_id: str | None = None) -> list[dict]:
        ...

    def list_credit_notes(self, modified_since: str | None, cursor: str | None, limit: int = 100) -> Page:
        """Every credit note, delta-paged like orders (reconciliation)."""
        ...

    def create_credit_note(self, note: dict) -> dict:
        """`{external_ref, sales_order_id, reason, lines: [{sku, quantity, amount}], amount, restock}` →
        the credit note with its `id` and `number`. Not idempotent: look up by external_ref first."""
        ...

    def reservation(self, order: dict) -> Reservation | None:
        """Whether this ERP's stock rows count `order` (an answer of create/find/finish) as reserved
        now: the Reservation if so, None if not yet (the connector then keeps holding its quantities)."""
        ...


class NotAmendable(PermanentError):
    """The ERP order takes no more changes (shipped, partially shipped, cancelled, or the ERP cannot amend)."""


class StaleRevision(PermanentError):
    """The ERP order changed since the revision the caller read."""


class Unsupported(PermanentError):
    """This ERP adapter cannot do the operation (yet); the order needs a person, with this reason."""
