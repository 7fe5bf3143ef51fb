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
    (a record the ERP refuses, with its field messages) quarantines the record. A record the ERP does not
    have is a PermanentError (status 404 where the ERP answers so), never NotFound (the shop's). Delta lists take
    `modified_since` (inclusive, ISO UTC; None: from the start), an opaque `cursor` (None: first page)
    and `limit` (1..500) and answer a Page ordered by (modified_at, id); read them through
    connector.paging.erp_pages. An adapter whose orders cannot be compared field by field sets
    `can_amend = False` (connector.sync.order_life then never amends them; absent means True)."""

    def identity(self) -> dict:
        """What durably names this ERP tenant (stable across restarts, different for another tenant), as a
        small dict of strings, e.g. `{"kind": "rest", "tenant_id": "…"}`; wooerp records it and refuses to
        run against another tenant (connector.identity). One remote read."""
        ...

    def list_products(self, modified_since: str | None, cursor: str | None, limit: int = 100) -> Page:
        """A delta page of ErpProduct records (parents, variants and simple products alike)."""
        ...

    def products_by_sku(self, skus: list[str]) -> list[ErpProduct]:
        """The products holding `skus` (≤ 100, none with a comma or surrounding blanks), any order; unknown
        SKUs are absent. More than 100 SKUs is a PermanentError before any call; so is, from the REST adapter,
        a SKU its `?sku=` list cannot carry (connector.sync.sku_lookup reads those by id)."""
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
        """Customers carrying `external_ref` (e.g. "WC-CUST-42", matching any of a customer's references), else
        those whose e-mail equals `email` trimmed and case-folded; zero or more. Pass one of the two: when both
        are given, only `external_ref` is looked up."""
        ...

    def create_customer(self, customer: ErpCustomer) -> ErpCustomer:
        """Create a customer and return it with its `id` and `number`; InvalidDataError on refusal (422).
        Not idempotent: callers look up by external_ref first."""
        ...

    def get_customer(self, customer_id: str) -> ErpCustomer:
        """One customer by ERP id; PermanentError when there is none (status 404 from the reference ERP; the
        Tryton adapter sets no status)."""
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
        """Create and number a sales order (the Tryton adapter also confirms it when configured to); returns
        it with id, number and status (`open` from the reference ERP, which also answers created_at, revision
        and the `warehouse` it reserves in). Not idempotent, and it may commit and still fail to answer
        (TransientError): callers look it up by external_ref (find_sales_orders) before retrying.
        InvalidDataError (422) for an unknown or parent SKU, a quantity that is not a positive int, money that
        is not a decimal string, an unknown currency or customer, a missing country or totals that do not add
        up; PermanentError (409) when the ERP enforces unique external refs and one exists."""
        ...

    def finish_sales_order(self, order_id: str) -> SalesOrder:
        """Complete an order whose creation stopped half-way and return it. A real ERP creates, numbers and
        confirms an order in separate steps; an order left between them is found with status `draft`
        (no number yet) and finished here, never created again. Idempotent. The reference ERP numbers an
        order on creation, so its adapter only reads the order again."""
        ...

    def cancel_sales_order(self, order_id: str) -> SalesOrder:
        """Cancel the order and return it with status `cancelled`; the ERP releases what it still
        reserved. Cancelling a cancelled order changes nothing and returns it. An order the ERP's workflow
        will not cancel ((partially) shipped) is a PermanentError with status 409, which callers tell apart
        from other permanent errors (connector.sync.order_life)."""
        ...

    def amend_sales_order(self, order_id: str, changes: dict, *, revision: int | None = None) -> dict:
        """Replace some of an open order's fields (addresses, lines, shipping, discounts, fees, totals, note,
        payment: the shapes of `create_sales_order`) and return the order with its new `revision`. Raises
        NotAmendable (409) when the ERP no longer takes changes (shipped, cancelled, or it cannot amend at
        all), StaleRevision (412) when `revision` is given and no longer the order's (read again, compare
        again), InvalidDataError (422) for changes a create would refuse or fields that cannot be amended."""
        ...

    def find_credit_notes(self, *, external_ref: str | None = None, sales_order_id: str | None = None) -> list[dict]:
        """Credit notes carrying `external_ref` (e.g. "WC-REFUND-7"), else those of the ERP order
        `sales_order_id`; pass one of the two (when both are given, only `external_ref` is looked up). Each as
        `create_credit_note` answers it. Zero or more (an ERP need not enforce unique references); an
        adapter without credit notes answers []. The lookup that makes crediting idempotent."""
        ...

    def list_credit_notes(self, modified_since: str | None, cursor: str | None, limit: int = 100) -> Page:
        """Every credit note, delta-paged like orders (reconciliation); an adapter without credit notes
        answers one empty page."""
        ...

    def create_credit_note(self, note: dict) -> dict:
        """`{external_ref, sales_order_id, reason, lines: [{sku, quantity, amount}], amount, restock}` →
        the credit note with its `id`, `number` and `created_at`. Quantities are ints, amounts decimal strings
        with tax; no lines: an amount-only credit; with lines, `amount` equals Σ lines.amount. `restock`: put
        the credited units back into the ERP's stock. Not idempotent and may commit then fail to answer:
        look up by external_ref first. InvalidDataError (422) for a SKU not on the order, more units than it
        holds, or credits above its gross; Unsupported (501) from an adapter that cannot credit."""
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
