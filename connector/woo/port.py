"""The shop port: what the sync use-cases need from WooCommerce, as a typing.Protocol. The REST adapter
(connector.woo.client.WooClient) implements it; tests pass in-memory shops with the methods they use.

Records are WooCommerce REST v3 JSON as the shop sends it: ids are ints, prices and totals decimal
strings, `stock_quantity` an int or None, `date_modified_gmt` a UTC timestamp without zone
("2026-11-20T10:00:00"). Every method raises only connector.errors families: TransientError (timeouts,
5xx, 429, and a 404 that is not WooCommerce's own answer, e.g. a proxy's HTML page), NotFound (a
PermanentError: 410, or 404 with a `woocommerce_rest_…invalid_id` code: the shop does not have the record),
PermanentError (401/403, other 4xx); a batch
call reports a refused item inside its answer instead of raising. Limits: ≤ BATCH_LIMIT (100) creates + updates
per batch call, ≤ PAGE_LIMIT (100) ids or SKUs per lookup.
"""
from __future__ import annotations

from typing import Iterable, Protocol


class ShopPort(Protocol):
    """One WooCommerce shop as the use-cases call it; every method is one REST call (products_by_sku: one
    more per SKU with a comma). `url`: the shop's base URL as configured (WOO_URL), without `/wp-json`."""
    url: str

    def get(self, endpoint: str, **params) -> object:
        """`GET endpoint?params` (a path below `/wp-json/wc/v3/`) → the decoded JSON body; for reads no other
        method covers (identity checks, bootstrap)."""
        ...

    def system_status(self) -> dict:
        """`GET system_status`: environment, database and settings of the shop (identity, checks)."""
        ...

    # -- orders ------------------------------------------------------------------------------------------
    def get_order(self, order_id: int) -> dict:
        """One order (line items, totals, addresses, meta_data, refunds); NotFound when the shop says it does
        not exist (a trashed order is still returned, with status `trash`)."""
        ...

    def list_orders(self, *, modified_after: str | None, statuses: Iterable[str], page: int = 1) -> tuple[list, int]:
        """(orders of `page`, total pages): orders in `statuses` modified after `modified_after` (UTC, no
        zone; None: all), oldest modification first, 100 a page. Read them through connector.paging.woo_pages."""
        ...

    def list_orders_created_before(self, *, before: str, statuses: Iterable[str], page: int = 1,
                                   fields: Iterable[str] = ()) -> tuple[list, int]:
        """(orders of `page`, total pages): orders in `statuses` created before `before` (UTC, no zone), oldest
        id first, 100 a page, each trimmed to `fields` when given (reconcile's sweep of older orders)."""
        ...

    def order_refunds(self, order_id: int) -> list[dict]:
        """The order's refunds, newest first: `{"id", "date_created_gmt", "amount" (positive decimal string),
        "reason", "refunded_payment", "meta_data", "line_items"/"shipping_lines"/"fee_lines" (each with the refunded
        order item's id in `meta_data` `_refunded_item_id`, negative `quantity` and `total`)}`; NotFound when
        the shop has no such order."""
        ...

    def update_order(self, order_id: int, data: dict) -> dict:
        """Patch an order (status, meta_data upserted by key) and return it."""
        ...

    def order_notes(self, order_id: int) -> list[dict]:
        """The order's notes (`{"id", "note", "customer_note", ...}`)."""
        ...

    def add_order_note(self, order_id: int, note: str) -> dict:
        """Add a private note to the order and return it."""
        ...

    def get_customer(self, customer_id: int) -> dict:
        """One registered customer (email, names, billing/shipping addresses, meta_data); NotFound when the
        shop has no such customer."""
        ...

    def update_customer(self, customer_id: int, data: dict) -> dict:
        """Patch a registered customer (meta_data upserted by key) and return it; fires `customer.updated`."""
        ...

    # -- products ----------------------------------------------------------------------------------------
    def products_by_sku(self, skus: list[str]) -> list[dict]:
        """Products and variations holding any of `skus` (≤ 100: more is a PermanentError before any call),
        exact matches only; absent SKUs are left out. A SKU with a comma costs a call of its own."""
        ...

    def products_by_id(self, ids: list[int]) -> list[dict]:
        """Products with any of `ids` (≤ 100: more is a PermanentError before any call); ids missing from the
        shop are left out."""
        ...

    def list_products(self, page: int = 1, fields: Iterable[str] = ()) -> tuple[list, int]:
        """(top-level products of `page`, total pages): any status but trash, no variations, 100 a page,
        oldest id first, trimmed to `fields` when given."""
        ...

    def list_variations(self, parent_id: int, page: int = 1, fields: Iterable[str] = ()) -> tuple[list, int]:
        """(variations of `parent_id` on `page`, total pages), 100 a page, oldest id first, trimmed to
        `fields` when given."""
        ...

    def batch_products(self, create: list[dict] = (), update: list[dict] = ()) -> dict:
        """One batch call (≤ 100 items in all): `{"create": [...], "update": [...]}` answered item by item,
        in order; a refused item carries `{"error": {"code", "message"}}` instead of the record. More than
        100 items is a PermanentError before any call. Creates are not idempotent."""
        ...

    def batch_variations(self, parent_id: int, create: list[dict] = (), update: list[dict] = ()) -> dict:
        """As batch_products, for the variations of one parent."""
        ...

    # -- categories and webhooks -------------------------------------------------------------------------
    def categories_by_slug(self, slugs: list[str]) -> list[dict]:
        """Product categories with any of `slugs` (≤ 100), each `{"id", "name", "slug", "parent", ...}`."""
        ...

    def batch_categories(self, create: list[dict] = (), update: list[dict] = ()) -> dict:
        """As batch_products, for product categories."""
        ...

    def list_webhooks(self) -> list[dict]:
        """The shop's webhooks (`{"id", "topic", "delivery_url", "status"}`), ≤ 100."""
        ...

    def create_webhook(self, name: str, topic: str, delivery_url: str, secret: str) -> dict:
        """Register an active webhook for `topic` signing its deliveries with `secret`; returns it with its
        `id` (the shop never echoes the secret)."""
        ...

    def update_webhook(self, webhook_id: int, data: dict) -> dict:
        """Patch a webhook (e.g. set it active again, change its secret) and return it."""
        ...
